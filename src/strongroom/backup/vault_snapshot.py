"""Back up a whole vault database into a repository, and restore it with the unseal material.

Create (server side, while it keeps serving): one consistent read of every
table (:mod:`strongroom.storage.snapshot`) is streamed through the
repository: chunked, deduplicated, compressed, sealed under a
:class:`~strongroom.crypto.BackupKey`. The backup key is wrapped by the
current KEK; the repository's key object also keeps, as *key material*, the
seal configuration (check value, passphrase blob) and that KEK wrapped by
the root key. So the unseal shares (or passphrase) alone recover everything:
shares → root key → KEK → backup key → chunks. None of that material opens
anything without the root key.

Restore (offline, on a fresh machine) is :mod:`strongroom.backup.restore`.

Example::

    >>> sorted(_MATERIAL_KEYS)
    ['check_value', 'kek', 'kek_version', 'protected_root', 'seal_kind', 'shares', 'threshold']
"""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

from strongroom.backup import subject_keys
from strongroom.backup.manifest import Manifest
from strongroom.backup.repository import KeyEntry, Repository
from strongroom.backup.target import Target
from strongroom.crypto import KEK, BackupKey, Keyring, RootKey, passphrase, shamir
from strongroom.errors import (
    DecryptionFailed,
    IntegrityViolation,
    InvalidInput,
    KeyUnavailable,
    NotFound,
    PermissionDenied,
)
from strongroom.ledger.merkle import root_at
from strongroom.observability.metrics import record_backup
from strongroom.storage.audit import AuditRepository
from strongroom.storage.engine import Database
from strongroom.storage.journal import position, trim
from strongroom.storage.repositories import KeyRepository, SealRepository
from strongroom.storage.snapshot import (
    SNAPSHOT_FORMAT,
    database_size,
    export_tables,
    schema_revision,
    stream_name,
    table_order,
)

__all__ = [
    "backup_database",
    "backup_key_by_id",
    "backup_key_for",
    "estimate_export_size",
    "key_entry_for",
    "root_from_passphrase",
    "root_from_shares",
]

_MATERIAL_KEYS: Final = frozenset(
    {"seal_kind", "shares", "threshold", "check_value", "protected_root", "kek", "kek_version"}
)


class _LazyStream(io.RawIOBase):
    """A readable binary stream over an iterator of byte lines, pulled on demand.

    The table export must be consumed inside its read transaction and in
    order, so each table's rows are only produced when the repository reads
    that stream.
    """

    def __init__(self, produce: Callable[[], Iterator[bytes]]) -> None:
        self._produce = produce
        self._it: Iterator[bytes] | None = None
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._it is None:
            self._it = self._produce()
        while not self._buf:
            try:
                self._buf = next(self._it)
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def _material(db: Database, kek: KEK) -> dict[str, str]:
    with db.read() as conn:
        cfg = SealRepository(conn).get()
        rows = {r.version: r for r in KeyRepository(conn).list_versions()}
    if cfg is None:
        raise InvalidInput("the vault is not initialized")
    rec = rows.get(kek.version)
    if rec is None:  # pragma: no cover - the keyring comes from these rows
        raise KeyUnavailable(f"KEK version {kek.version} is not stored")
    b64 = base64.b64encode
    return {
        "seal_kind": cfg.kind,
        "shares": str(cfg.shares),
        "threshold": str(cfg.threshold),
        "check_value": b64(cfg.check_value).decode(),
        "protected_root": b64(cfg.protected_root or b"").decode(),
        "kek_version": str(kek.version),
        "kek": b64(rec.wrapped).decode(),
    }


def _backup_key(db: Database, target: Target, keyring: Keyring) -> tuple[Repository, BackupKey]:
    """Open (or create) the repository and the backup key this vault can unwrap."""
    current = keyring.current_kek
    if not target.exists("config"):
        key = BackupKey.generate()
        repo = Repository.init(
            target, key=key, wrapped_key=key.wrap_with(current), key_material=_material(db, current)
        )
        return repo, key
    repo = Repository.open(target)
    for entry in repo.keys():  # noqa: SIM118 - a method, not a dict
        try:
            kek = keyring.get(entry.kek_version)
        except KeyUnavailable:
            continue
        return repo, BackupKey.unwrap_with(kek, entry.wrapped_key)
    # No key this vault can open (another vault's repository, or its KEK was
    # retired): add a fresh backup key wrapped by the current KEK.
    key = BackupKey.generate()
    repo.put_key(key=key, wrapped_key=key.wrap_with(current), key_material=_material(db, current))
    return repo, key


def backup_database(
    db: Database,
    target: Target,
    *,
    keyring: Keyring,
    progress: Callable[[int, int], None] | None = None,
    key_window_s: float | None = None,
) -> Manifest:
    """Snapshot every table of ``db`` into the repository at ``target``; return the manifest.

    The snapshot's meta records the schema revision, the ledger size and the
    ledger root at that instant, so a restore can prove it got exactly that.
    The data subjects' keys go to a key backup of the same instant
    (:mod:`strongroom.backup.subject_keys`); with ``key_window_s``, key
    backups older than that are deleted afterwards (the newest is kept).
    """
    started = time.monotonic()
    try:
        manifest = _backup(db, target, keyring, progress, key_window_s)
    except Exception:
        record_backup(ok=False, finished_at=time.time(), duration_s=time.monotonic() - started)
        raise
    record_backup(ok=True, finished_at=time.time(), duration_s=time.monotonic() - started)
    return manifest


def _backup(
    db: Database,
    target: Target,
    keyring: Keyring,
    progress: Callable[[int, int], None] | None,
    key_window_s: float | None,
) -> Manifest:
    repo, key = _backup_key(db, target, keyring)
    started_ns = time.time_ns()
    with db.snapshot_read() as conn:
        revision = schema_revision(conn)
        audit = AuditRepository(conn)
        size = audit.size()
        root = root_at(audit, size)
        journal = position(conn)
        signer = audit.signing_key()
        names: list[str] = []
        producers: dict[str, Callable[[], Iterator[bytes]]] = {}
        # export_tables yields (name, rows) lazily; bind each table's rows to
        # its stream so the repository pulls them in order.
        pending = iter(export_tables(conn))

        def producer(expected: str) -> Callable[[], Iterator[bytes]]:
            def run() -> Iterator[bytes]:
                name, rows = next(pending)
                if name != expected:  # pragma: no cover - fixed table order
                    raise RuntimeError("table streams read out of order")
                return rows

            return run

        for table in table_order():
            name = stream_name(table)
            names.append(name)
            producers[name] = producer(name)
        streams = {name: io.BufferedReader(_LazyStream(producers[name])) for name in names}
        # The keys of exactly the subjects in the snapshot (same read), stamped
        # with the read's start, and stored before the manifest: a snapshot is
        # never listed without its key backup.
        log_key = signer.public_key.hex() if signer is not None else ""
        subject_keys.write_backup(
            repo, conn, key=key, log_key=log_key, ledger_size=size, now_ns=started_ns
        )
        manifest = repo.write_snapshot(
            streams,
            key=key,
            meta={
                "format": SNAPSHOT_FORMAT,
                "schema_revision": revision or "",
                "ledger_size": size,
                "ledger_root": base64.b64encode(root).decode(),
                "backend": db.engine.dialect.name,
                "repository": repo.repo_id,
                # Which vault's log this is (a repository may hold several).
                "log_key": signer.public_key.hex() if signer is not None else "",
                # The journal segment in tables/change_journal.jsonl: with the
                # previous snapshot of the same timeline it rebuilds any state
                # in between (point-in-time restore).
                "timeline": journal.timeline,
                "journal_first": journal.first,
                "journal_last": journal.last,
            },
            progress=progress,
        )
    if key_window_s is not None:
        subject_keys.expire(repo, window_s=key_window_s, log_key=log_key)
    # The segment is stored: the next snapshot starts after it. The writer is
    # called directly, not through the audit hook: housekeeping, not a request.
    db.writer.call(lambda tx: trim(tx.conn, journal.last))
    return manifest


def estimate_export_size(db: Database) -> int:
    """A guess of a snapshot's plaintext size, for progress bars (0 if unknown).

    Ciphertexts make up most of a vault and are exported as they are
    stored, so the export is about the database's live size.
    """
    with db.read() as conn:
        return database_size(conn)


def root_from_shares(shares: Sequence[str]) -> RootKey:
    """The root key from Shamir shares (a malformed set is InvalidInput)."""
    return RootKey(shamir.combine([s.strip() for s in shares if s.strip()]))


def root_from_passphrase(target: Target, snapshot_id: str, text: str) -> RootKey:
    """The root key from the passphrase, using the protected root stored with the backup key."""
    repo = Repository.open(target)
    material = key_entry_for(repo, repo.get_snapshot(snapshot_id)).key_material
    blob = base64.b64decode(material.get("protected_root", ""))
    if not blob:
        raise InvalidInput("this vault is sealed with shares, not a passphrase")
    try:
        return passphrase.recover(blob, text)
    except DecryptionFailed as exc:
        raise PermissionDenied("the passphrase does not unseal this backup") from exc


def key_entry_for(repo: Repository, manifest: Manifest) -> KeyEntry:
    """The repository key object that sealed ``manifest`` (NotFound if it is gone)."""
    return _key_entry(repo, manifest.key_id, f"snapshot {manifest.snapshot_id[:12]}")


def _key_entry(repo: Repository, key_id: str, what: str) -> KeyEntry:
    for entry in repo.keys():  # noqa: SIM118 - a method, not a dict
        if entry.key_id == key_id:
            return entry
    raise NotFound(f"the repository has no key {key_id} for {what}")


def backup_key_for(repo: Repository, manifest: Manifest, *, root: RootKey) -> BackupKey:
    """The backup key that sealed ``manifest``, recovered with the root key alone.

    Wrong shares (a root key that fails the stored check value) raise
    PermissionDenied before any chunk is read.
    """
    return backup_key_by_id(repo, manifest.key_id, root=root)


def backup_key_by_id(repo: Repository, key_id: str, *, root: RootKey) -> BackupKey:
    """The backup key ``key_id`` of the repository, recovered with the root key alone."""
    entry = _key_entry(repo, key_id, "this object")
    material = entry.key_material
    if not set(material) >= _MATERIAL_KEYS:
        raise IntegrityViolation(f"keys/{entry.key_id} lacks the key material a restore needs")
    try:
        root.verify_check_value(base64.b64decode(material["check_value"]))
    except DecryptionFailed as exc:
        raise PermissionDenied("the shares do not reconstruct this vault's root key") from exc
    kek = root.unwrap_kek(int(material["kek_version"]), base64.b64decode(material["kek"]))
    return BackupKey.unwrap_with(kek, entry.wrapped_key)
