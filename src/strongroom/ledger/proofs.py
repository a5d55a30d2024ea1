"""Proof documents: chosen audit entries, each with its inclusion proof, under one checkpoint.

A proof document lets someone who trusts only the log's verifier key check,
offline, that each entry in it is in the log exactly as shown: the signed
checkpoint (C2SP signed note) fixes a tree size and root hash, and each
item's RFC 9162 §2.1.3 inclusion proof leads from its entry's leaf hash to
that root. It is what an erasure receipt and a subject's access report are
made of (one item, or many), and what ``strongroom audit verify-proofs``
checks.

Format (JSON, ``"format": "strongroom-proofs/v1"``)::

    {"format": "strongroom-proofs/v1", "verifier_key": "name+id+key",
     "checkpoint": "<signed note text>",
     "items": [{"leaf_index": 7, "leaf_input": "<base64 entry bytes>",
                "audit_path": ["<base64 hash>", ...]}, ...]}

Example::

    >>> parse_document(b'{"format": "x"}')
    Traceback (most recent call last):
    ...
    strongroom.errors.IntegrityViolation: not a strongroom-proofs/v1 document
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Final

from strongroom.errors import IntegrityViolation, InvalidInput, ProofInvalid
from strongroom.ledger.checkpoint import Checkpoint, parse_verifier_key, verify_checkpoint
from strongroom.ledger.entry import canonical, parse_entry
from strongroom.ledger.merkle import leaf_hash, verify_inclusion

__all__ = [
    "PROOFS_FORMAT",
    "ProofDocument",
    "ProofItem",
    "parse_document",
    "report_digest",
    "verify_document",
]

PROOFS_FORMAT: Final = "strongroom-proofs/v1"
_MAX_ITEMS: Final = 1_000_000


@dataclass(frozen=True, slots=True)
class ProofItem:
    """One entry and its inclusion proof."""

    leaf_index: int
    entry: bytes
    audit_path: list[bytes]

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "leaf_index": self.leaf_index,
            "leaf_input": base64.b64encode(self.entry).decode(),
            "audit_path": [base64.b64encode(h).decode() for h in self.audit_path],
        }


@dataclass(frozen=True, slots=True)
class ProofDocument:
    """Entries of one log, proven against one signed checkpoint."""

    verifier_key: str
    checkpoint: str
    items: list[ProofItem]

    def to_json(self) -> dict[str, Any]:
        """The JSON form (see the module docstring)."""
        return {
            "format": PROOFS_FORMAT,
            "verifier_key": self.verifier_key,
            "checkpoint": self.checkpoint,
            "items": [i.to_json() for i in self.items],
        }


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise IntegrityViolation(f"{what} is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise IntegrityViolation(f"{what} is not valid base64") from exc


def parse_document(raw: bytes) -> ProofDocument:
    """Parse a proof document; IntegrityViolation (one line) if it is malformed."""
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise IntegrityViolation("the proof document is not JSON") from exc
    if isinstance(obj, dict) and obj.get("format") != PROOFS_FORMAT:
        # A document that carries one: an access report's "proofs", an
        # erasure's or an export's "receipt".
        inner = obj.get("proofs") or obj.get("receipt")
        obj = inner if isinstance(inner, dict) else obj
    if not isinstance(obj, dict) or obj.get("format") != PROOFS_FORMAT:
        raise IntegrityViolation(f"not a {PROOFS_FORMAT} document")
    key, note, items = obj.get("verifier_key"), obj.get("checkpoint"), obj.get("items")
    if not isinstance(key, str) or not isinstance(note, str) or not isinstance(items, list):
        raise IntegrityViolation("the proof document lacks verifier_key, checkpoint or items")
    if len(items) > _MAX_ITEMS:
        raise IntegrityViolation("the proof document has too many items")
    parsed = []
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise IntegrityViolation(f"item {n} is not an object")
        index, path = item.get("leaf_index"), item.get("audit_path")
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise IntegrityViolation(f"item {n}: leaf_index is not a non-negative integer")
        if not isinstance(path, list):
            raise IntegrityViolation(f"item {n}: audit_path is not a list")
        parsed.append(
            ProofItem(
                leaf_index=index,
                entry=_b64(item.get("leaf_input"), f"item {n}: leaf_input"),
                audit_path=[_b64(h, f"item {n}: audit_path") for h in path],
            )
        )
    return ProofDocument(verifier_key=key, checkpoint=note, items=parsed)


def verify_document(doc: ProofDocument, *, trusted_key: str | None = None) -> Checkpoint:
    """Check the checkpoint's signature and every item's proof; return the checkpoint.

    ``trusted_key`` is the verifier key the caller trusts; without it the
    document's own key is used, which proves consistency with that key only
    (say which key you trust). Raises :class:`~strongroom.errors.ProofInvalid`
    naming the first item that fails.
    """
    # 1. The key: the one the caller trusts, which the document must name.
    if trusted_key is not None and trusted_key != doc.verifier_key:
        raise ProofInvalid("the document is signed for another verifier key")
    try:
        name, verifier = parse_verifier_key(doc.verifier_key)
    except InvalidInput as exc:
        raise ProofInvalid("the document's verifier key is malformed") from exc
    # 2. The checkpoint: signed by that key; it fixes the size and root.
    cp = verify_checkpoint(doc.checkpoint.encode(), verifier=verifier, name=name)
    # 3. Each item: a canonical entry whose leaf is at its index under that root.
    for n, item in enumerate(doc.items):
        if item.leaf_index >= cp.size:
            raise ProofInvalid(f"item {n}: entry {item.leaf_index} is beyond the checkpoint")
        try:
            parse_entry(item.entry)
        except IntegrityViolation as exc:
            raise ProofInvalid(f"item {n}: {exc.detail}") from exc
        try:
            verify_inclusion(
                leaf_hash=leaf_hash(item.entry),
                index=item.leaf_index,
                size=cp.size,
                proof=item.audit_path,
                root=cp.root_hash,
            )
        except ProofInvalid as exc:
            raise ProofInvalid(f"item {n} (entry {item.leaf_index}): {exc.detail}") from exc
    return cp


def report_digest(subject_id: str, tenant: str, lines: list[dict[str, Any]]) -> str:
    """SHA-256 hex of an access report's subject, tenant and lines (RFC 8785 form).

    The server writes it into the report's own ``sys:subject:report`` entry;
    a verifier recomputes it from the report to show the lines are the ones
    the log attests, for that subject, none dropped or added.
    """
    body = canonical({"subject": subject_id, "tenant": tenant, "lines": lines})
    return hashlib.sha256(body).hexdigest()
