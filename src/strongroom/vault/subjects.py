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

import builtins
import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from strongroom.crypto import BlindIndex, KeyPurpose, SubjectKey
from strongroom.errors import Conflict, Gone, InvalidInput, LegalHold, NotFound, PermissionDenied
from strongroom.ledger.entry import AuditEvent, Event, Outcome, canonical
from strongroom.ledger.proofs import ProofDocument, report_digest
from strongroom.storage.audit import SearchQuery
from strongroom.storage.models import SubjectRecord
from strongroom.storage.repositories import KVRepository, SubjectRepository
from strongroom.storage.rights import ConsentRepository, HoldRepository
from strongroom.storage.writer import WriteTx
from strongroom.types import Capability
from strongroom.vault.audit_proofs import proof_document
from strongroom.vault.audit_scope import note
from strongroom.vault.kv import open_record
from strongroom.vault.principal import Principal

if TYPE_CHECKING:
    from strongroom.vault.service import Vault

__all__ = [
    "EXPORT_FORMAT",
    "REPORT_FORMAT",
    "SUBJECT_ID",
    "Erasure",
    "SubjectService",
    "SubjectView",
]

EXPORT_FORMAT = "strongroom-subject-export/v1"
"""The format marker of a subject export bundle (GDPR art. 20)."""
REPORT_FORMAT = "strongroom-access-report/v1"
"""The format marker of an access report (GDPR art. 15, HIPAA accounting of disclosures)."""
_REPORT_MAX = 100_000

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


@dataclass(frozen=True, slots=True)
class Erasure:
    """The outcome of an erasure: what was shredded, and the receipt that proves it."""

    subject_id: str
    erased_at: float
    record_versions: int
    receipt: ProofDocument
    """The ``sys:subject:erase`` entry with its inclusion proof under a signed checkpoint."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "id": self.subject_id,
            "erased_at": self.erased_at,
            "record_versions": self.record_versions,
            "receipt": self.receipt.to_json(),
        }


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

        resource = f"sys/subjects/{subject_id}"
        with self._v.audit.operation(
            Event.SYS_SUBJECT_WRITE, principal=principal, resource=resource
        ) as scope:
            # Over HTTP the route names the collection; the entry names the new
            # subject, so its creation is the first line of its access report
            # (and an in-process creation is audited at all).
            scope.resource = resource
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
    ) -> builtins.list[SubjectView]:
        """The tenant's subjects in id order, after id ``after``."""
        principal.require_admin("sys/subjects", Capability.LIST)
        if not 1 <= limit <= _PAGE_MAX:
            raise InvalidInput(f"limit must be between 1 and {_PAGE_MAX}")
        with self._v.db.read() as conn:
            rows = SubjectRepository(conn).list(principal.tenant, after=after, limit=limit)
        return [_view(r) for r in rows]

    # -- erasure (GDPR art. 17) ---------------------------------------------

    def _erase_op(
        self,
        tx: WriteTx,
        tenant: str,
        subject_id: str,
        now: float,
        older_than: float | None = None,
    ) -> int:
        repo = SubjectRepository(tx.conn)
        rec = repo.get(tenant, subject_id)
        if rec is None:
            raise NotFound("no such data subject")
        if rec.erased_at is not None:
            raise Gone("this data subject was already erased", erased_at=rec.erased_at)
        if older_than is not None and (repo.newest_version_time(subject_id) or 0) >= older_than:
            raise Conflict("the subject has records newer than the retention period")
        held = HoldRepository(tx.conn).active_for_subject(tenant, subject_id)
        if held:
            raise LegalHold(
                f"legal hold {held[0].id} forbids erasing this subject", hold=held[0].id
            )
        versions = repo.version_count(subject_id)
        repo.erase(subject_id, now=now)
        return versions

    def erase(self, principal: Principal, subject_id: str) -> Erasure:
        """Crypto-shred the subject: destroy its key, so every record sealed under it is gone.

        The key and the reference index go in one transaction with the
        ``sys:subject:erase`` entry (resource ``sys/subjects/<id>/erase``,
        no pseudonym: nothing links it to the subject's other entries); the
        receipt is that entry's proof. A legal hold refuses it (LegalHold).
        """
        principal.require_admin("sys/subjects", Capability.DELETE)
        if not SUBJECT_ID.match(subject_id):
            raise NotFound("no such data subject")
        now = self._clock()
        with self._v.audit.operation(
            Event.SYS_SUBJECT_ERASE,
            principal=principal,
            resource=f"sys/subjects/{subject_id}/erase",
        ) as scope:

            def op(tx: WriteTx) -> int:
                versions = self._erase_op(tx, principal.tenant, subject_id, now)
                note(record_versions=versions)
                return versions

            versions = self._v.db.write(op)
            receipt = scope.receipt
        if receipt is None:  # pragma: no cover - the write carried the entry
            raise NotFound("the erasure entry is missing")
        return Erasure(subject_id, now, versions, proof_document(self._v.audit, [receipt.index]))

    def erase_by_system(
        self, tenant: str, subject_id: str, *, actor: str, rule: str, older_than: float
    ) -> int:
        """Erase on a retention rule's behalf: the same change, its own entry by ``actor``.

        Conflict if the subject got a record at or after ``older_than``
        meanwhile (checked in the erasing transaction).
        """
        now = self._clock()

        def op(tx: WriteTx) -> int:
            versions = self._erase_op(tx, tenant, subject_id, now, older_than)
            self._v.audit.append_in(
                tx,
                AuditEvent(
                    event=Event.SYS_SUBJECT_ERASE,
                    principal=actor,
                    tenant=tenant,
                    resource=f"sys/subjects/{subject_id}/erase",
                    outcome=Outcome.ALLOWED,
                    request_id=f"retention-{secrets.token_hex(8)}",
                    details={"record_versions": versions, "rule": rule},
                ),
            )
            return versions

        return self._v.db.writer.call(op)

    def _key(self, conn: Any, tenant: str, subject_id: str) -> SubjectKey:
        """The live subject's key (NotFound when absent, Gone when erased)."""
        if not SUBJECT_ID.match(subject_id):
            raise NotFound("no such data subject")
        rec = SubjectRepository(conn).get(tenant, subject_id)
        if rec is None:
            raise NotFound("no such data subject")
        if rec.erased_at is not None or rec.wrapped_key is None or rec.kek_version is None:
            raise Gone("this data subject was erased", erased_at=rec.erased_at)
        kek = self._v.seal.keyring().get(rec.kek_version)
        key: SubjectKey = kek.unwrap_subject_key(rec.wrapped_key, subject_id=rec.id)
        return key

    # -- export (GDPR art. 20) ----------------------------------------------

    def export(self, principal: Principal, subject_id: str) -> dict[str, Any]:
        """Everything held about the subject, decrypted, with its manifest in the log.

        The bundle's SHA-256 (over its RFC 8785 form) is in the
        ``sys:subject:export`` entry, which is durable before the bundle is
        returned; the answer carries that entry's proof, so the bundle is
        signed by the log's checkpoint. The caller needs ``read`` on
        ``sys/subjects`` and on every record exported; a policy's consent
        requirement does not apply (the export answers the subject's own
        request, GDPR art. 20).
        """
        principal.require_admin("sys/subjects", Capability.READ)
        tenant = principal.tenant
        with self._v.audit.operation(
            Event.SYS_SUBJECT_EXPORT,
            principal=principal,
            resource=f"sys/subjects/{subject_id}/export",
        ) as scope:
            with self._v.db.read() as conn:
                key = self._key(conn, tenant, subject_id)
                versions = KVRepository(conn).subject_versions(tenant, subject_id)
                consents = ConsentRepository(conn).history(tenant, subject_id)
            # The export decrypts records: the caller must be able to read each
            # of them (sys/subjects read alone only shows that the subject exists).
            unreadable = {
                (m, p) for m, p, _ in versions if not principal.allows(f"{m}/{p}", Capability.READ)
            }
            if unreadable:
                raise PermissionDenied(
                    f"exporting this subject needs read on each of its records; "
                    f"{len(unreadable)} are not readable with this token"
                )
            records = []
            for mount, path, v in versions:
                if v.destroyed or v.ciphertext is None:
                    continue
                records.append(
                    {
                        "mount": mount,
                        "path": path,
                        "version": v.version,
                        "created_at": v.created_at,
                        "deleted": v.deletion_time is not None and v.deletion_time <= self._clock(),
                        "data": open_record(tenant, mount, path, v, key),
                    }
                )
            bundle = {
                "format": EXPORT_FORMAT,
                "subject": subject_id,
                "tenant": tenant,
                "exported_at": self._clock(),
                "records": records,
                "consents": [c.to_dict() for c in consents],
            }
            digest = _sha256_hex(canonical(bundle))
            manifest = {"sha256": digest, "records": len(records), "consents": len(consents)}
            note(**manifest)
            receipt = self._v.audit.commit_scope(scope)
        return {
            "export": bundle,
            "manifest": manifest,
            "receipt": proof_document(self._v.audit, [receipt.index]).to_json(),
        }

    # -- access report (GDPR art. 15, HIPAA accounting of disclosures) --------

    def access_report(self, principal: Principal, subject_id: str) -> dict[str, Any]:
        """Every logged access touching the subject, each line with its inclusion proof.

        The lines are the entries carrying the subject's audit pseudonym
        (record reads, writes and refusals) and the entries about the
        subject itself (``sys/subjects/<id>…``: creation, consents,
        exports, earlier reports). The report's own entry is written before
        it is returned; it carries the digest of the report's lines and is
        the last proven entry (not a line).
        """
        principal.require_admin("sys/subjects", Capability.READ)
        tenant = principal.tenant
        with self._v.audit.operation(
            Event.SYS_SUBJECT_REPORT,
            principal=principal,
            resource=f"sys/subjects/{subject_id}/access-report",
        ) as scope:
            with self._v.db.read() as conn:
                pseudonym = self._key(conn, tenant, subject_id).audit_pseudonym()
            rows = {r.seq: r for r in self._search(SearchQuery(subject=pseudonym, tenant=tenant))}
            for r in self._search(
                SearchQuery(
                    resource=f"sys/subjects/{subject_id}", resource_prefix=True, tenant=tenant
                )
            ):
                if r.resource == f"sys/subjects/{subject_id}" or r.resource.startswith(
                    f"sys/subjects/{subject_id}/"
                ):
                    rows[r.seq] = r
            indices = sorted(rows)
            lines = [_line(rows[i].entry) for i in indices]
            # The report's own entry attests which lines it holds, for whom:
            # a line dropped, added, altered or moved to another subject no
            # longer matches this digest (report_digest), whose entry is proven last.
            note(lines=len(lines), lines_sha256=report_digest(subject_id, tenant, lines))
            receipt = self._v.audit.commit_scope(scope)
        proofs = proof_document(self._v.audit, [*indices, receipt.index], limit=_REPORT_MAX + 1)
        return {
            "format": REPORT_FORMAT,
            "subject": subject_id,
            "tenant": tenant,
            "generated_at": self._clock(),
            "lines": lines,
            "proofs": proofs.to_json(),
        }

    def _search(self, q: SearchQuery) -> builtins.list[Any]:
        out: list[Any] = []
        after = None
        while True:
            page = self._v.audit.search(
                SearchQuery(**{**_fields(q), "after_seq": after, "limit": 1000})
            )
            out += page
            if len(page) < 1000:
                return out
            if len(out) > _REPORT_MAX:
                raise InvalidInput(
                    f"more than {_REPORT_MAX} entries: the report would be too large"
                )
            after = page[-1].seq


def _fields(q: SearchQuery) -> dict[str, Any]:
    return {f: getattr(q, f) for f in q.__dataclass_fields__}


def _line(raw: bytes) -> dict[str, Any]:
    """One report line: who, when, what, why and how it ended (no other field of the entry)."""
    e = json.loads(raw)
    return {
        "index": e["seq"],
        "time": e["time"],
        "event": e["event"],
        "principal": e["principal"],
        "resource": e["resource"],
        "outcome": e["outcome"],
        "purpose": e.get("purpose"),
        "reason": e.get("reason"),
        "request_id": e["request_id"],
    }


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
