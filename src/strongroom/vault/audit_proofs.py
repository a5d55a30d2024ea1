"""Proof documents of chosen audit entries (see :mod:`strongroom.ledger.proofs`).

Built under the newest signed checkpoint. An entry newer than it is first
brought under a fresh checkpoint (the checkpointer would sign one within a
second anyway), so a caller can prove the entry it has just written.

Example::

    >>> MAX_ITEMS
    1000
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strongroom.errors import InvalidInput, NotFound
from strongroom.ledger.proofs import ProofDocument, ProofItem

if TYPE_CHECKING:
    from strongroom.vault.audit import AuditLog

__all__ = ["MAX_ITEMS", "proof_document"]

MAX_ITEMS = 1000
"""Most entries one request may prove."""


def proof_document(audit: AuditLog, indices: list[int], *, limit: int = MAX_ITEMS) -> ProofDocument:
    """The entries at ``indices`` (distinct, in the order given) with their proofs.

    ``limit`` bounds the entries (a request's; an access report allows more).
    """
    if not 1 <= len(indices) <= limit:
        raise InvalidInput(f"give 1 to {limit} entry indices")
    if len(set(indices)) != len(indices) or min(indices) < 0:
        raise InvalidInput("entry indices must be distinct and not negative")
    if max(indices) >= audit.size():
        raise NotFound("no such audit entry")
    cp = audit.latest_checkpoint()
    if max(indices) >= cp.size:
        audit.checkpoint_now()
        cp = audit.latest_checkpoint()
    if max(indices) >= cp.size:
        raise NotFound("the entry is not under a signed checkpoint yet; unseal the vault")
    items = []
    for i in indices:
        (row,) = audit.entries(i, i + 1)
        _, _, path = audit.inclusion(index=i, size=cp.size)
        items.append(ProofItem(leaf_index=i, entry=row.entry, audit_path=path))
    return ProofDocument(
        verifier_key=audit.verifier_key(), checkpoint=cp.note.decode(), items=items
    )
