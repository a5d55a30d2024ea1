"""Data subjects: people whose records are sealed under a key of their own.

A subject is a pseudonymous id (``sub_`` and 24 hex digits) with a subject
key wrapped by the current KEK; records written with ``subject=`` are sealed
under that key, which is what erasure will destroy (ARCHITECTURE.md §4).
The caller's own reference for the person (a patient number, an e-mail) may
be attached at creation. It is stored only as a blind index (HMAC under a
root-derived key, per tenant, after Unicode case folding), so a subject can
be found by its reference while the database never holds the reference
itself, and another tenant's subjects are not correlatable by it.

Example::

    >>> SUBJECT_ID.match("sub_0123456789abcdef01234567") is not None
    True
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from strongroom.crypto import BlindIndex, KeyPurpose, SubjectKey
from strongroom.errors import Conflict, InvalidInput, NotFound
from strongroom.storage.models import SubjectRecord
from strongroom.storage.repositories import SubjectRepository
from strongroom.storage.writer import WriteTx
from strongroom.types import Capability
from strongroom.vault.principal import Principal

if TYPE_CHECKING:
    from strongroom.vault.service import Vault

__all__ = ["SUBJECT_ID", "SubjectService", "SubjectView"]

SUBJECT_ID = re.compile(r"^sub_[0-9a-f]{24}$")
"""What a subject id looks like."""

_MAX_REF = 256
_PAGE_MAX = 1000


@dataclass(frozen=True, slots=True)
class SubjectView:
    """What may be shown about a subject (never its key, never its reference)."""

    id: str
    created_at: float
    erased_at: float | None
    has_reference: bool
    record_versions: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        out: dict[str, Any] = {
            "id": self.id,
            "created_at": self.created_at,
            "erased_at": self.erased_at,
            "has_reference": self.has_reference,
        }
        if self.record_versions is not None:
            out["record_versions"] = self.record_versions
        return out


def _view(rec: SubjectRecord, versions: int | None = None) -> SubjectView:
    return SubjectView(rec.id, rec.created_at, rec.erased_at, rec.ref_index is not None, versions)


def _shown(repo: SubjectRepository, rec: SubjectRecord | None) -> SubjectView:
    """A found subject with its record count; the one NotFound for absent and not yours."""
    if rec is None:
        raise NotFound("no such data subject")
    return _view(rec, repo.version_count(rec.id))


class SubjectService:
    """Create, find and list a tenant's data subjects."""

    def __init__(self, vault: Vault, clock: Callable[[], float] = time.time) -> None:
        self._v = vault
        self._clock = clock

    def _ref_index(self, tenant: str, reference: str) -> bytes:
        if not reference.strip() or len(reference) > _MAX_REF:
            raise InvalidInput(f"a subject reference is 1 to {_MAX_REF} characters")
        root = self._v.seal.root()
        # One index key per tenant: equal references in two tenants do not match.
        index = BlindIndex(root.derive(KeyPurpose.BLIND_INDEX), field=f"subject-ref/{tenant}")
        return index.compute(reference)

    def create(self, principal: Principal, *, reference: str | None = None) -> SubjectView:
        """Create a subject with its own key, wrapped by the current KEK."""
        principal.require_admin("sys/subjects", Capability.CREATE)
        ref_index = None if reference is None else self._ref_index(principal.tenant, reference)
        subject_id = "sub_" + secrets.token_hex(12)
        now = self._clock()

        def op(tx: WriteTx) -> SubjectRecord:
            repo = SubjectRepository(tx.conn)
            if ref_index is not None and repo.by_reference(principal.tenant, ref_index):
                raise Conflict("a subject with this reference exists")
            kek = self._v.seal.keyring().current_kek
            key = SubjectKey.generate(subject_id=subject_id)
            rec = SubjectRecord(
                id=subject_id,
                tenant=principal.tenant,
                kek_version=kek.version,
                wrapped_key=kek.wrap_subject_key(key),
                created_at=now,
                erased_at=None,
                ref_index=ref_index,
            )
            repo.create(rec)
            tx.count(("kek", kek.version))
            return rec

        return _view(self._v.db.write(op), 0)

    def lookup(self, principal: Principal, reference: str) -> SubjectView:
        """The subject with this reference (NotFound, the same for absent and not yours)."""
        principal.require_admin("sys/subjects", Capability.READ)
        ref_index = self._ref_index(principal.tenant, reference)
        with self._v.db.read() as conn:
            repo = SubjectRepository(conn)
            return _shown(repo, repo.by_reference(principal.tenant, ref_index))

    def get(self, principal: Principal, subject_id: str) -> SubjectView:
        """One subject of the caller's tenant."""
        principal.require_admin("sys/subjects", Capability.READ)
        if not SUBJECT_ID.match(subject_id):
            raise NotFound("no such data subject")
        with self._v.db.read() as conn:
            repo = SubjectRepository(conn)
            return _shown(repo, repo.get(principal.tenant, subject_id))

    def list(
        self, principal: Principal, *, after: str | None = None, limit: int = 100
    ) -> list[SubjectView]:
        """The tenant's subjects in id order, after id ``after``."""
        principal.require_admin("sys/subjects", Capability.LIST)
        if not 1 <= limit <= _PAGE_MAX:
            raise InvalidInput(f"limit must be between 1 and {_PAGE_MAX}")
        with self._v.db.read() as conn:
            rows = SubjectRepository(conn).list(principal.tenant, after=after, limit=limit)
        return [_view(r) for r in rows]
