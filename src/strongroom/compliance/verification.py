"""Verify the stored audit ledger now: the newest checkpoint's signature, every entry's hash,
and the Merkle root those hashes make, against that checkpoint.

The same checks ``strongroom audit verify`` runs on an exported bundle
(ARCHITECTURE.md §5), run here on the database itself inside one read
snapshot:

1. the newest checkpoint is a signed note of the log's own key and origin,
   and its size and root agree with the columns stored beside it;
2. entries ``0 … size-1`` are all there, in order (none deleted);
3. each entry's bytes hash to its stored leaf hash (RFC 9162 §2.1.1; none
   modified);
4. the recomputed leaf hashes of the first ``checkpoint.size`` entries fold
   to the checkpoint's root (RFC 9162 §2.1.2; none inserted, reordered or
   rewritten together with its hash), and so do the stored subtree nodes the
   proofs are served from.

It costs one pass over the log (about a second per 200,000 entries).

Example::

    >>> from sqlalchemy import create_engine
    >>> from strongroom.storage.schema import metadata
    >>> engine = create_engine("sqlite://")
    >>> metadata.create_all(engine)
    >>> with engine.connect() as conn:
    ...     verify_stored_log(conn).problems
    ('no signed checkpoint vouches for the log yet',)
"""

from __future__ import annotations

import base64

from sqlalchemy import Connection

from strongroom.compliance.facts import CheckpointFacts, LedgerFacts
from strongroom.crypto import VerifyKey
from strongroom.errors import IntegrityViolation, ProofInvalid
from strongroom.ledger.checkpoint import verifier_key_string, verify_checkpoint
from strongroom.ledger.findings import extend_peaks
from strongroom.ledger.merkle import Frontier, leaf_hash, root_at
from strongroom.storage.audit import AuditKeyRecord, AuditRepository, CheckpointRecord

__all__ = ["verify_stored_log"]

_PAGE = 5000
_MAX_PROBLEMS = 20
_PLACEHOLDER = b"\x00" * 32


def verify_stored_log(conn: Connection) -> LedgerFacts:
    """Verify the ledger as stored on ``conn``; never raises for tampering, reports it."""
    repo = AuditRepository(conn)
    size = repo.size()
    key = repo.signing_key()
    cp = repo.latest_checkpoint()
    problems: list[str] = []
    verifier = _check_checkpoint(key, cp, size, problems)
    signed_size = 0 if cp is None else min(cp.size, size)
    frontier, rehashed = _rehash(repo, size, signed_size, problems)
    if cp is not None and frontier.size == cp.size:
        # 4. The recomputed root, and the stored nodes proofs are built from.
        if frontier.root() != cp.root_hash:
            problems.append(
                f"the first {cp.size} entries hash to a root other than checkpoint {cp.size}'s"
            )
        try:
            stored = root_at(repo, cp.size)
        except IntegrityViolation:
            stored = None
        if stored != cp.root_hash:
            problems.append(f"the stored Merkle nodes do not fold to checkpoint {cp.size}'s root")
    verified = cp is not None and not problems
    if len(problems) > _MAX_PROBLEMS:
        problems = [*problems[:_MAX_PROBLEMS], f"… and {len(problems) - _MAX_PROBLEMS} more"]
    return LedgerFacts(
        size=size,
        origin=None if key is None else key.name,
        verifier_key=verifier,
        checkpoint=None if cp is None else _facts(cp),
        verified=verified,
        verified_size=cp.size if verified and cp is not None else 0,
        problems=tuple(problems),
        rehashed=rehashed,
    )


def _facts(cp: CheckpointRecord) -> CheckpointFacts:
    return CheckpointFacts(
        size=cp.size,
        root_hash=base64.b64encode(cp.root_hash).decode(),
        note=cp.note.decode("utf-8", errors="replace"),
        created_at=float(cp.created_at),
    )


def _check_checkpoint(
    key: AuditKeyRecord | None, cp: CheckpointRecord | None, size: int, problems: list[str]
) -> str | None:
    """Step 1; returns the log's verifier key string (None without a usable key)."""
    vk: VerifyKey | None = None
    verifier = None
    if key is not None:
        try:
            vk = VerifyKey.from_bytes(key.public_key)
            verifier = verifier_key_string(key.name, vk)
        except ValueError:
            problems.append("the stored checkpoint key is not an Ed25519 public key")
    if cp is None:
        problems.append("no signed checkpoint vouches for the log yet")
        return verifier
    if vk is None or key is None:
        problems.append(f"checkpoint {cp.size}: no key to verify its signature with")
        return verifier
    try:
        signed = verify_checkpoint(cp.note, verifier=vk, name=key.name, origin=key.name)
        if signed.size != cp.size or signed.root_hash != cp.root_hash:
            problems.append(f"checkpoint {cp.size}: its stored size or root differs from the note")
    except ProofInvalid as exc:
        problems.append(f"checkpoint {cp.size}: {exc.detail}")
    if size < cp.size:
        problems.append(
            f"the log holds {size} entries, fewer than checkpoint {cp.size} signed (truncated)"
        )
    return verifier


def _rehash(
    repo: AuditRepository, size: int, signed_size: int, problems: list[str]
) -> tuple[Frontier, int]:
    """Steps 2 and 3, folding the first ``signed_size`` recomputed leaves as it goes."""
    frontier = Frontier()
    expected = 0
    while expected < size:
        rows = repo.entries(expected, min(size, expected + _PAGE))
        if not rows:
            problems.append(f"entries {expected}..{size - 1} are missing (deleted)")
            break
        leaves: list[bytes] = []
        for row in rows:
            while expected < row.seq:
                problems.append(f"entry {expected} is missing (deleted)")
                leaves.append(_PLACEHOLDER)
                expected += 1
            lh = leaf_hash(row.entry)
            if lh != row.leaf_hash:
                problems.append(
                    f"entry {row.seq}: its bytes no longer hash to its leaf hash (modified)"
                )
            leaves.append(lh)
            expected += 1
        under = max(0, min(len(leaves), signed_size - frontier.size))
        if under:
            frontier = extend_peaks(frontier, leaves[:under])
    return frontier, expected
