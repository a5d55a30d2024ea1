"""Versioned records with KV v2 semantics, sealed under envelope encryption.

Every version is sealed with a fresh DEK (AES-256-GCM) bound by AAD to its
tenant, mount, path, version, key class and content type; the DEK is wrapped by
the current KEK version, or by a data subject's key. Writes run through the
group-commit writer; reads decrypt only after the policy check.

Policy paths are logical: ``<mount>/<path>``. A caller that may not read a
path gets the same 404 as for an absent one, and listing shows only names the
caller may read.

Example::

    >>> validate_record_path("app/db")
    'app/db'
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from strongroom.crypto import envelope
from strongroom.crypto.envelope import RecordContext, SealedRecord
from strongroom.errors import (
    Conflict,
    Gone,
    InvalidInput,
    LegalHold,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
)
from strongroom.ledger.entry import Event
from strongroom.observability.metrics import CRYPTO_OPERATIONS
from strongroom.observability.tracing import span
from strongroom.storage.models import RecordMetadata, RecordVersion
from strongroom.storage.repositories import (
    KVRepository,
    MountRepository,
    SubjectRepository,
)
from strongroom.storage.rights import HoldRepository, check_holds
from strongroom.storage.writer import WriteTx
from strongroom.types import Capability
from strongroom.vault.audit import audited, note
from strongroom.vault.audit_scope import note_subject
from strongroom.vault.principal import Principal

if TYPE_CHECKING:
    from strongroom.vault.service import Vault

__all__ = [
    "DEFAULT_MAX_VERSIONS",
    "KVService",
    "ListPage",
    "ReadResult",
    "VersionInfo",
    "open_record",
    "validate_record_path",
]

# Bound once: a labelled child costs a dict lookup per call otherwise.
_SEALS = CRYPTO_OPERATIONS.labels(operation="seal")
_OPENS = CRYPTO_OPERATIONS.labels(operation="open")
_READ_SPAN = f"vault {Event.KV_RECORD_READ}"

DEFAULT_MAX_VERSIONS = 10
"""Versions kept when neither the record nor its mount sets ``max_versions`` (as Vault)."""

_SEGMENT = re.compile(r"^[^\x00-\x1f\x7f/]+$")
_MAX_PATH = 1024
_MAX_CUSTOM_KEYS = 64
_CONTENT_TYPE = "application/json"


def validate_record_path(path: str, *, folder: bool = False) -> str:
    """Check a record path (or a listing prefix when ``folder``) and return it."""
    if folder:
        if path in ("", "/"):
            return ""
        body = path[:-1] if path.endswith("/") else path
    else:
        body = path
    if not body or len(body) > _MAX_PATH or body.startswith("/"):
        raise InvalidInput("a record path is 1 to 1024 characters and does not start with '/'")
    for seg in body.split("/"):
        if not _SEGMENT.match(seg) or seg in (".", ".."):
            raise InvalidInput(
                "a record path has non-empty segments without control characters, '.' or '..'"
            )
    return body + "/" if folder else body


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """Public metadata of one version."""

    version: int
    created_time: float
    deletion_time: float | None
    destroyed: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "version": self.version,
            "created_time": self.created_time,
            "deletion_time": self.deletion_time,
            "destroyed": self.destroyed,
        }


@dataclass(frozen=True, slots=True)
class ReadResult:
    """A decrypted version and its metadata."""

    data: dict[str, Any]
    info: VersionInfo
    custom_metadata: dict[str, str]

    def __repr__(self) -> str:
        return f"ReadResult(data=<{len(self.data)} keys>, info={self.info!r})"


@dataclass(frozen=True, slots=True)
class ListPage:
    """One page of a filtered listing."""

    keys: list[str]
    next_after: str | None


def _info(v: RecordVersion) -> VersionInfo:
    return VersionInfo(v.version, v.created_at, v.deletion_time, v.destroyed)


def open_record(tenant: str, mount: str, path: str, v: RecordVersion, key: Any) -> Any:
    """Decrypt one stored version with its key (KEK or subject key); the record's JSON data."""
    if v.wrapped_dek is None or v.ciphertext is None:
        raise NotFound("this version was destroyed", version=v.version, destroyed=True)
    ctx = RecordContext(tenant, mount, path, v.version, key.key_class, v.content_type)
    with span("crypto open"):
        plaintext = envelope.open(SealedRecord(v.wrapped_dek, v.ciphertext), ctx, key)
    _OPENS.inc()
    return json.loads(plaintext)


class KVService:
    """KV v2 operations for one :class:`Vault`."""

    def __init__(self, vault: Vault, clock: Callable[[], float] = time.time) -> None:
        self._v = vault
        self._clock = clock

    # -- helpers --------------------------------------------------------

    @staticmethod
    def policy_path(mount: str, path: str) -> str:
        """The logical path policies are written against."""
        return f"{mount}/{path}"

    def _mount(self, conn: Any, principal: Principal, mount: str) -> Any:
        m = MountRepository(conn).get(principal.tenant, mount)
        if m is None or m.type != "kv":
            raise NotFound("nothing at this path")
        return m

    @staticmethod
    def _deleted(v: RecordVersion, now: float) -> bool:
        return v.deletion_time is not None and v.deletion_time <= now

    def _encode(self, data: dict[str, Any]) -> bytes:
        if not isinstance(data, dict):
            raise InvalidInput("record data must be a JSON object")
        raw = json.dumps(data, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
        blob = raw.encode("utf-8")
        if len(blob) > self._v.settings.max_payload_bytes:
            raise PayloadTooLarge(
                f"record data is larger than {self._v.settings.max_payload_bytes} bytes"
            )
        return blob

    # -- write ----------------------------------------------------------

    @audited(Event.KV_RECORD_WRITE)
    def put(
        self,
        principal: Principal,
        mount: str,
        path: str,
        data: dict[str, Any],
        *,
        cas: int | None = None,
        subject: str | None = None,
    ) -> VersionInfo:
        """Write a new version; ``cas=0`` means create-only, ``cas=N`` means current is N."""
        path = validate_record_path(path)
        plaintext = self._encode(data)
        return self._v.db.write(
            lambda tx: self._put_op(tx, principal, mount, path, plaintext, cas, subject)
        )

    def _put_op(
        self,
        tx: WriteTx,
        principal: Principal,
        mount: str,
        path: str,
        plaintext: bytes,
        cas: int | None,
        subject: str | None,
    ) -> VersionInfo:
        conn, tenant, now = tx.conn, principal.tenant, self._clock()
        pol = self.policy_path(mount, path)
        m = self._mount(conn, principal, mount)
        repo = KVRepository(conn)
        meta = repo.get_metadata(tenant, mount, path, for_update=True)
        # Before any refusal: a write to (or for) a subject's record is theirs to see.
        if subject is not None:
            self._note_live_subject(conn, tenant, subject)
        elif meta is not None:
            self._note_record_subject(conn, tenant, mount, path, meta.id)
        principal.require(pol, Capability.UPDATE if meta is not None else Capability.CREATE)
        current = meta.current_version if meta is not None else 0
        if ((meta is not None and meta.cas_required) or m.cas_required) and cas is None:
            raise InvalidInput("check-and-set is required on this path: pass cas")
        if cas is not None and cas != current:
            raise Conflict("check-and-set mismatch", expected_version=cas, current_version=current)
        if meta is None:
            meta = repo.create_metadata(tenant=tenant, mount=mount, path=path, now=now)
        version = current + 1
        keyring = self._v.seal.keyring()
        kek = keyring.current_kek
        if subject is not None:
            found = SubjectRepository(conn).key_of(tenant, subject)
            if found is None:
                raise NotFound("no such data subject")
            key: Any = self._subject_key(subject, found, version)
            note_subject(key.audit_pseudonym())
            kek_version: int | None = None
        else:
            key, kek_version = kek, kek.version
        ctx = RecordContext(tenant, mount, path, version, key.key_class, _CONTENT_TYPE)
        with span("crypto seal"):
            sealed = envelope.seal(plaintext, ctx, key)
        _SEALS.inc()
        after = meta.delete_version_after or m.delete_version_after
        repo.insert_version(
            meta.id,
            RecordVersion(
                version=version,
                created_at=now,
                deletion_time=now + after if after > 0 else None,
                destroyed=False,
                content_type=_CONTENT_TYPE,
                kek_version=kek_version,
                subject_id=subject,
                wrapped_dek=sealed.wrapped_dek,
                ciphertext=sealed.ciphertext,
            ),
        )
        keep = meta.max_versions or m.max_versions or DEFAULT_MAX_VERSIONS
        oldest = max(meta.oldest_version or 1, version - keep + 1)
        if oldest > (meta.oldest_version or 1) and self._held(tx, tenant, mount, path, meta.id):
            # A legal hold keeps every version: max_versions waits for its release.
            oldest = meta.oldest_version or 1
        if oldest > (meta.oldest_version or 1):
            repo.purge_versions_below(meta.id, oldest)
        repo.set_current(meta.id, current=version, oldest=oldest, now=now)
        if kek_version is not None:
            tx.count(("kek", kek_version))
        note(version=version)
        return VersionInfo(version, now, None if after <= 0 else now + after, False)

    # -- read -----------------------------------------------------------

    def get(
        self, principal: Principal, mount: str, path: str, *, version: int | None = None
    ) -> ReadResult:
        """Read and decrypt a version (default: the current one).

        Fail-closed (ARCHITECTURE.md §2): the read's audit entry is durable
        before the plaintext is returned; if it cannot be written this raises
        :class:`~strongroom.errors.AuditUnavailable` and returns nothing.
        """
        path = validate_record_path(path)
        with (
            span(_READ_SPAN, **{"strongroom.event": str(Event.KV_RECORD_READ)}),
            self._v.audit.operation(
                Event.KV_RECORD_READ, principal=principal, resource=f"{mount}/{path}"
            ) as scope,
        ):
            result = self._get(principal, mount, path, version)
            note(version=result.info.version)
            self._v.audit.commit_scope(scope)
            return result

    def _get(self, principal: Principal, mount: str, path: str, version: int | None) -> ReadResult:
        pol = self.policy_path(mount, path)
        try:
            principal.require(pol, Capability.READ)
        except (PermissionDenied, NotFound):
            # A refused read of a subject's record is in that subject's access
            # report (GDPR art. 15): name the subject, never to the caller.
            self._note_subject_of(principal.tenant, mount, path, version)
            raise
        keyring = self._v.seal.keyring()
        now = self._clock()
        with self._v.db.read() as conn:
            # One query: a record's metadata exists only inside an existing
            # mount (unmounting deletes it), so no separate mount lookup.
            found = KVRepository(conn).read(principal.tenant, mount, path, version or None)
            if found is None or found[1] == 0:
                raise NotFound("nothing at this path")
            _, current, custom, v = found
            wanted = version if version else current
            if v is None:
                raise NotFound("no such version", version=wanted)
            subj = (
                SubjectRepository(conn).key_of(principal.tenant, v.subject_id)
                if v.subject_id is not None
                else None
            )
        if v.subject_id is not None:
            # Named first, so that even a read of a deleted version is the subject's.
            with contextlib.suppress(Gone):
                note_subject(self._subject_key(v.subject_id, subj, wanted).audit_pseudonym())
        if v.destroyed or v.ciphertext is None or v.wrapped_dek is None:
            raise NotFound("this version was destroyed", version=wanted, destroyed=True)
        if self._deleted(v, now):
            raise NotFound(
                "this version was deleted", version=wanted, deletion_time=v.deletion_time
            )
        if v.subject_id is not None:
            key: Any = self._subject_key(v.subject_id, subj, wanted)
            purposes = principal.acl.consent_purposes(pol)
            if purposes:
                self._v.consents.require(principal.tenant, v.subject_id, purposes, mount, path)
        else:
            if v.kek_version is None:  # pragma: no cover - schema invariant
                raise NotFound("nothing at this path")
            key = keyring.get(v.kek_version)
        data = open_record(principal.tenant, mount, path, v, key)
        return ReadResult(data=data, info=_info(v), custom_metadata=custom)

    def _subject_key(
        self,
        subject_id: str,
        found: tuple[int | None, bytes | None, float | None] | None,
        version: int,
    ) -> Any:
        """The live subject's key from its looked-up row (Gone when erased or keyless)."""
        kek_version, wrapped, erased_at = found if found is not None else (None, None, None)
        if erased_at is not None:
            raise Gone("this data subject was erased", version=version)
        if wrapped is None or kek_version is None:
            raise Gone("this data subject's key is not available", version=version)
        kek = self._v.seal.keyring().get(kek_version)
        return kek.unwrap_subject_key(wrapped, subject_id=subject_id)

    def _held(self, tx: WriteTx, tenant: str, mount: str, path: str, metadata_id: int) -> bool:
        """True when an active legal hold covers this record (its path or a subject of it)."""
        if not HoldRepository(tx.conn).list(tenant, active_only=True):
            return False  # the common case: one indexed query, no version scan
        try:
            check_holds(
                tx.conn, tenant, mount=mount, path=path, subjects=self._subjects(tx, metadata_id)
            )
        except LegalHold:
            return True
        return False

    @staticmethod
    def _subjects(tx: WriteTx, metadata_id: int) -> set[str]:
        """The data subjects of a record's kept versions (a legal hold on one covers them)."""
        return KVRepository(tx.conn).subjects_of(metadata_id)

    def _note_subject_of(self, tenant: str, mount: str, path: str, version: int | None) -> None:
        """Name the data subject of the version a refused request asked for, if it has one."""
        with self._v.db.read() as conn:
            found = KVRepository(conn).read(tenant, mount, path, version or None)
            v = None if found is None else found[3]
            if v is not None and v.subject_id is not None:
                self._note_live_subject(conn, tenant, v.subject_id)

    def _note_record_subject(
        self, conn: Any, tenant: str, mount: str, path: str, metadata_id: int | None = None
    ) -> None:
        """Name the data subject of a record (the first, if versions of several), if any."""
        if metadata_id is None:
            meta = KVRepository(conn).get_metadata(tenant, mount, path)
            if meta is None:
                return
            metadata_id = meta.id
        subjects = sorted(KVRepository(conn).subjects_of(metadata_id))
        if subjects:
            self._note_live_subject(conn, tenant, subjects[0])

    def _note_live_subject(self, conn: Any, tenant: str, subject_id: str) -> None:
        """Put the subject's audit pseudonym in the current entry, if its key still exists."""
        row = SubjectRepository(conn).key_of(tenant, subject_id)
        if row is None:
            return
        with contextlib.suppress(Gone):
            note_subject(self._subject_key(subject_id, row, 0).audit_pseudonym())

    @audited(Event.KV_METADATA_READ)
    def metadata(
        self, principal: Principal, mount: str, path: str
    ) -> tuple[RecordMetadata, list[VersionInfo]]:
        """Return a record's metadata and the public metadata of each kept version."""
        path = validate_record_path(path)
        with self._v.db.read() as conn:
            try:
                principal.require(self.policy_path(mount, path), Capability.READ)
            except (PermissionDenied, NotFound):
                self._note_record_subject(conn, principal.tenant, mount, path)
                raise
            self._mount(conn, principal, mount)
            repo = KVRepository(conn)
            meta = repo.get_metadata(principal.tenant, mount, path)
            if meta is None:
                raise NotFound("nothing at this path")
            self._note_record_subject(conn, principal.tenant, mount, path, meta.id)
            versions = [_info(v) for v in repo.list_versions(meta.id)]
        return meta, versions

    @audited(Event.KV_RECORD_LIST)
    def list_keys(
        self,
        principal: Principal,
        mount: str,
        prefix: str,
        *,
        after: str | None = None,
        limit: int = 100,
    ) -> ListPage:
        """List the immediate children of ``prefix`` the caller may read, one page at a time.

        A child record is shown only if the caller may read it; a child
        folder only if the caller may read at least one record below it.
        Vault shows every name to anyone with ``list``; we do not.
        """
        prefix = validate_record_path(prefix, folder=True)
        if limit < 1 or limit > self._v.settings.list_page_max:
            raise InvalidInput(f"limit must be between 1 and {self._v.settings.list_page_max}")
        principal.require(self.policy_path(mount, prefix), Capability.LIST)
        with self._v.db.read() as conn:
            self._mount(conn, principal, mount)
            paths = KVRepository(conn).list_paths(principal.tenant, mount, prefix)
        visible: list[str] = []
        seen: set[str] = set()
        for full in paths:
            rest = full[len(prefix) :]
            cut = rest.find("/")
            child = rest if cut < 0 else rest[: cut + 1]
            if child in seen:
                continue
            if principal.allows(self.policy_path(mount, full), Capability.READ):
                seen.add(child)
                visible.append(child)
        visible.sort()
        if after is not None:
            visible = [k for k in visible if k > after]
        if not visible and after is None:
            raise NotFound("nothing at this path")
        page = visible[:limit]
        return ListPage(keys=page, next_after=page[-1] if len(visible) > limit else None)

    # -- lifecycle ------------------------------------------------------

    def _meta_for(
        self, tx: WriteTx, principal: Principal, mount: str, path: str, cap: Capability
    ) -> RecordMetadata:
        try:
            principal.require(self.policy_path(mount, path), cap)
        except (PermissionDenied, NotFound):
            self._note_record_subject(tx.conn, principal.tenant, mount, path)
            raise
        self._mount(tx.conn, principal, mount)
        meta = KVRepository(tx.conn).get_metadata(principal.tenant, mount, path, for_update=True)
        if meta is None:
            raise NotFound("nothing at this path")
        self._note_record_subject(tx.conn, principal.tenant, mount, path, meta.id)
        return meta

    @audited(Event.KV_RECORD_DELETE)
    def delete(
        self, principal: Principal, mount: str, path: str, *, versions: list[int] | None = None
    ) -> None:
        """Soft-delete versions (default: the current one); they can be undeleted."""
        path = validate_record_path(path)

        def op(tx: WriteTx) -> None:
            meta = self._meta_for(tx, principal, mount, path, Capability.DELETE)
            targets = versions if versions else [meta.current_version]
            KVRepository(tx.conn).set_deletion_time(meta.id, targets, self._clock())
            note(versions=sorted(targets))

        self._v.db.write(op)

    @audited(Event.KV_RECORD_UNDELETE)
    def undelete(self, principal: Principal, mount: str, path: str, *, versions: list[int]) -> None:
        """Restore soft-deleted versions."""
        path = validate_record_path(path)
        if not versions:
            raise InvalidInput("name the versions to undelete")

        def op(tx: WriteTx) -> None:
            meta = self._meta_for(tx, principal, mount, path, Capability.UPDATE)
            KVRepository(tx.conn).set_deletion_time(meta.id, versions, None)
            note(versions=sorted(versions))

        self._v.db.write(op)

    @audited(Event.KV_RECORD_DESTROY)
    def destroy(self, principal: Principal, mount: str, path: str, *, versions: list[int]) -> None:
        """Destroy versions for good: ciphertext and wrapped DEK are removed."""
        path = validate_record_path(path)
        if not versions:
            raise InvalidInput("name the versions to destroy")

        def op(tx: WriteTx) -> None:
            meta = self._meta_for(tx, principal, mount, path, Capability.DELETE)
            check_holds(
                tx.conn,
                principal.tenant,
                mount=mount,
                path=path,
                subjects=self._subjects(tx, meta.id),
            )
            KVRepository(tx.conn).destroy(meta.id, versions)
            note(versions=sorted(versions))

        self._v.db.write(op)

    @audited(Event.KV_METADATA_DELETE)
    def delete_metadata(self, principal: Principal, mount: str, path: str) -> None:
        """Delete a record path with its metadata and every version."""
        path = validate_record_path(path)

        def op(tx: WriteTx) -> None:
            meta = self._meta_for(tx, principal, mount, path, Capability.DELETE)
            check_holds(
                tx.conn,
                principal.tenant,
                mount=mount,
                path=path,
                subjects=self._subjects(tx, meta.id),
            )
            KVRepository(tx.conn).delete_metadata(meta.id)

        self._v.db.write(op)

    @audited(Event.KV_METADATA_WRITE)
    def update_metadata(
        self,
        principal: Principal,
        mount: str,
        path: str,
        *,
        max_versions: int | None = None,
        cas_required: bool | None = None,
        delete_version_after: float | None = None,
        custom_metadata: dict[str, str] | None = None,
    ) -> None:
        """Change a record's settings; creates the metadata if the path is new."""
        path = validate_record_path(path)
        if max_versions is not None and max_versions < 0:
            raise InvalidInput("max_versions must be 0 (mount default) or more")
        if delete_version_after is not None and delete_version_after < 0:
            raise InvalidInput("delete_version_after must be 0 (never) or more seconds")
        if custom_metadata is not None and (
            len(custom_metadata) > _MAX_CUSTOM_KEYS
            or not all(len(k) <= 128 and len(v) <= 512 for k, v in custom_metadata.items())
        ):
            raise InvalidInput(
                "custom_metadata holds at most 64 string pairs (keys <= 128, values <= 512)"
            )

        def op(tx: WriteTx) -> None:
            repo = KVRepository(tx.conn)
            self._mount(tx.conn, principal, mount)
            meta = repo.get_metadata(principal.tenant, mount, path, for_update=True)
            pol = self.policy_path(mount, path)
            principal.require(pol, Capability.UPDATE if meta is not None else Capability.CREATE)
            now = self._clock()
            if meta is None:
                meta = repo.create_metadata(
                    tenant=principal.tenant, mount=mount, path=path, now=now
                )
            values: dict[str, Any] = {"updated_at": now}
            if max_versions is not None:
                values["max_versions"] = max_versions
            if cas_required is not None:
                values["cas_required"] = cas_required
            if delete_version_after is not None:
                values["delete_version_after"] = delete_version_after
            if custom_metadata is not None:
                values["custom_metadata"] = custom_metadata
            repo.update_metadata(meta.id, **values)

        self._v.db.write(op)
