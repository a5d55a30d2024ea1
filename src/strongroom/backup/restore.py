"""Restore a vault from a repository: to a snapshot, or to any ledger index or time in between.

A restore runs offline onto an empty database with only the repository and
the unseal shares (or passphrase): shares → root key → KEK → backup key.
It is one transaction; a failure leaves the database empty.

**What comes from where.**

* The vault's state tables (records, metadata, mounts, tokens, policies,
  subjects, the keyring) come from the *base*: the chosen snapshot, or for
  a point in time the newest snapshot at or before it, rolled forward by
  replaying the change journal (:mod:`strongroom.storage.journal`) stored in
  the next snapshot of the same timeline, up to the changes of the write
  that carries the target entry. The result is the state right after the write that carries that
  audit entry — exactly what the server held then.
* The audit log (and the seal configuration) always come whole from the
  newest snapshot of the same log in the repository. The log is
  append-only: restoring old data never rolls it back, so checkpoints
  already handed to verifiers stay consistent, and the entries after the
  restored point still tell what happened since.
* The journal is not restored; the restored database starts a new
  timeline, so its later snapshots never chain onto the old history.
* The data subjects' keys come from the key backups, never from a snapshot,
  and only for subjects no source at hand records as erased
  (:mod:`strongroom.backup.subject_keys`).

**What is checked.** Wrong shares fail before anything is read. Every
snapshot used must be consistent with the log that is restored: the tree
of its recorded size must hash to its recorded root (a snapshot that was
forged or belongs to a rolled-back history fails here). The restored log
must hash to the root recorded by its own snapshot. A replay that does not
reach its target entry, or a gap between two snapshots whose journal was
trimmed by a backup to another repository, is refused with the reason.

Example::

    >>> RestorePoint(at_index=41).describe()
    'ledger index 41'
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, func, select

from strongroom.backup import subject_keys
from strongroom.backup.manifest import Manifest
from strongroom.backup.repository import Repository
from strongroom.backup.target import Target
from strongroom.backup.vault_snapshot import backup_key_by_id, backup_key_for
from strongroom.crypto import BackupKey, RootKey
from strongroom.errors import IntegrityViolation, InvalidInput, NotFound
from strongroom.ledger.merkle import root_at
from strongroom.storage import schema as s
from strongroom.storage.audit import AuditRepository, backfill_subject_column
from strongroom.storage.engine import Database
from strongroom.storage.journal import (
    JOURNALED,
    PREIMAGE,
    JournalRow,
    drop_triggers,
    install_triggers,
    replay,
    set_high_water,
)
from strongroom.storage.snapshot import (
    FORMAT_V1,
    RESTORABLE_FROM,
    decode_rows,
    import_tables,
    missing_columns,
    pick_column,
    reset_sequences,
    schema_revision,
    stream_name,
)

__all__ = ["RestorePoint", "RestoreResult", "plan_restore", "restore_database"]

_LOG_TABLES: Final = ("audit_entries", "audit_nodes", "audit_checkpoints", "audit_keys")
# Restored from the newest snapshot: the log and the shares the operator holds now.
_NEWEST_TABLES: Final = (*_LOG_TABLES, "seal_config")
_JOURNAL_STREAM: Final = stream_name(s.change_journal)


@dataclass(frozen=True, slots=True)
class RestorePoint:
    """Where to restore to: a snapshot id, a ledger index, or a UNIX time (at most one)."""

    snapshot_id: str | None = None
    at_index: int | None = None
    at_time: float | None = None

    def __post_init__(self) -> None:
        given = [v for v in (self.snapshot_id, self.at_index, self.at_time) if v is not None]
        if len(given) > 1:
            raise InvalidInput("restore to a snapshot, a ledger index or a time, not several")
        if self.at_index is not None and self.at_index < 0:
            raise InvalidInput("the ledger index must not be negative")

    def describe(self) -> str:
        """The point in words, for messages."""
        if self.at_index is not None:
            return f"ledger index {self.at_index}"
        if self.at_time is not None:
            return f"time {self.at_time}"
        return f"snapshot {self.snapshot_id}" if self.snapshot_id else "the newest snapshot"


@dataclass(frozen=True, slots=True)
class RestorePlan:
    """Which snapshots a restore reads (see the module docstring)."""

    base: Manifest
    segment: Manifest | None
    """The snapshot whose journal rolls the base forward (None: the base is the point)."""
    log: Manifest
    """The newest snapshot of the same log: the audit log comes from it."""
    at_index: int | None
    """The ledger index restored to (None: the base snapshot as it is)."""
    journal_last: int
    """The highest journal number any snapshot of this log used."""


@dataclass(frozen=True, slots=True)
class RestoreResult:
    """What a restore wrote."""

    snapshot_id: str
    """The base snapshot."""
    rows: dict[str, int]
    ledger_size: int
    """Entries in the restored audit log."""
    at_index: int | None = None
    """The ledger index whose state was restored (None: the base snapshot as it is)."""
    replayed: int = 0
    """Journal changes applied on top of the base."""
    log_snapshot: str = ""
    """The snapshot the audit log came from."""
    subjects: subject_keys.RejoinResult | None = None
    """What became of the data subjects' keys (see :mod:`strongroom.backup.subject_keys`)."""


def _int_meta(m: Manifest, key: str) -> int | None:
    value = m.meta.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _size(m: Manifest) -> int:
    return _int_meta(m, "ledger_size") or 0


def _same_log(manifests: Sequence[Manifest], anchor: Manifest | None) -> list[Manifest]:
    """The snapshots of one vault's log (a repository may hold several vaults)."""
    if anchor is not None:
        log_key = anchor.meta.get("log_key")
        if not log_key:
            return [anchor]
        return [m for m in manifests if m.meta.get("log_key") == log_key]
    keys = {str(m.meta.get("log_key", "")) for m in manifests}
    if len(keys) > 1:
        raise InvalidInput(
            "this repository holds snapshots of several vaults: name a snapshot of the one "
            "to restore"
        )
    return list(manifests)


def _time_to_index(at_time: float, times: Callable[[float], int | None]) -> int:
    index = times(at_time)
    if index is None:
        raise NotFound(f"the audit log has no entry at or before time {at_time}")
    return index


def plan_restore(
    manifests: Sequence[Manifest],
    point: RestorePoint,
    *,
    anchor: Manifest | None = None,
    index_at_time: Callable[[float], int | None] | None = None,
) -> RestorePlan:
    """Choose the base, journal segment and log snapshots for ``point``.

    ``anchor`` is a snapshot naming the vault when the repository holds
    several; ``index_at_time`` maps a time to the newest entry at or before
    it (from the log being restored).
    """
    anchor = _anchor(manifests, point) or anchor
    family = _same_log(manifests, anchor)
    if not family:
        raise NotFound("the repository has no snapshot")
    newest = max(family, key=lambda m: (_size(m), m.created))
    journal_last = max((_int_meta(m, "journal_last") or 0) for m in family)
    if point.snapshot_id is not None:
        return RestorePlan(anchor or newest, None, newest, None, journal_last)
    if point.at_index is None and point.at_time is None:
        return RestorePlan(newest, None, newest, None, journal_last)
    if point.at_time is not None:
        if index_at_time is None:  # pragma: no cover - restore_database always passes it
            raise InvalidInput("a time needs the log to map it to an entry")
        index = _time_to_index(point.at_time, index_at_time)
    else:
        index = int(point.at_index or 0)
    if index >= _size(newest):
        raise NotFound(
            f"ledger index {index} is after the newest snapshot (its log holds {_size(newest)} "
            "entries): take a backup first"
        )
    older = [m for m in family if _size(m) <= index + 1]
    if not older:
        raise NotFound(
            f"no snapshot at or before ledger index {index}: the oldest covers from index "
            f"{min(_size(m) for m in family) - 1}"
        )
    base = max(older, key=lambda m: (_size(m), _int_meta(m, "journal_last") or 0))
    if _size(base) == index + 1:
        return RestorePlan(base, None, newest, index, journal_last)
    timeline, base_last = base.meta.get("timeline"), _int_meta(base, "journal_last")
    later = [
        m
        for m in family
        if timeline is not None
        and m.meta.get("timeline") == timeline
        and (_int_meta(m, "journal_last") or 0) > (base_last or 0)
    ]
    if base_last is None or not later:
        raise NotFound(
            f"no journal covers ledger index {index}: snapshot {base.snapshot_id[:12]} has no "
            "later snapshot of the same history"
        )
    segment = min(later, key=lambda m: _int_meta(m, "journal_last") or 0)
    first = _int_meta(segment, "journal_first")
    if first is None or first > base_last + 1:
        raise NotFound(
            f"no journal covers ledger index {index}: the journal between snapshots "
            f"{base.snapshot_id[:12]} and {segment.snapshot_id[:12]} was trimmed (a backup "
            "to another repository took it)"
        )
    return RestorePlan(base, segment, newest, index, journal_last)


def _journal_rows(chunks: Iterator[bytes], after: int, fmt: str) -> Iterator[JournalRow]:
    """The journal stream's rows numbered after ``after`` (the base already holds the rest)."""
    for row in decode_rows(s.change_journal, chunks, fmt):
        if int(row["seq"]) > after:
            yield JournalRow(
                int(row["seq"]),
                str(row["tbl"]),
                str(row["op"]),
                int(row["ledger_size"]),
                str(row["row"]),
            )


def _format(m: Manifest) -> str:
    return str(m.meta.get("format", FORMAT_V1))


class _Reader:
    """Reads streams of several snapshots, one backup key per key id, counting bytes."""

    def __init__(
        self,
        repo: Repository,
        root: RootKey,
        total: int,
        progress: Callable[[int, int], None] | None,
    ) -> None:
        self._repo, self._root = repo, root
        self._keys: dict[str, BackupKey] = {}
        self._done, self._progress = 0, progress
        self.total = total
        """Bytes this restore will read (grows once the plan is known)."""

    def key(self, m: Manifest) -> BackupKey:
        if m.key_id not in self._keys:
            self._keys[m.key_id] = backup_key_for(self._repo, m, root=self._root)
        return self._keys[m.key_id]

    def chunks(self, m: Manifest, name: str) -> Iterator[bytes]:
        for piece in self._repo.read_stream(m, name, key=self.key(m)):
            self._done += len(piece)
            if self._progress is not None:
                self._progress(self._done, self.total)
            yield piece


def _stream_size(m: Manifest, name: str) -> int:
    try:
        return m.stream(name).size
    except NotFound:
        return 0


def _streams_size(m: Manifest, tables: Sequence[str]) -> int:
    return sum(_stream_size(m, stream_name(s.metadata.tables[t])) for t in tables)


def _check_consistent(audit: AuditRepository, m: Manifest, role: str) -> None:
    size = _size(m)
    recorded = base64.b64decode(str(m.meta.get("ledger_root", "")))
    if size > audit.size() or root_at(audit, size) != recorded:
        raise IntegrityViolation(
            f"snapshot {m.snapshot_id[:12]} ({role}) is not consistent with the audit log of "
            f"the newest snapshot: refusing a rolled-back or forged snapshot",
            snapshot=m.snapshot_id,
        )


def _index_at_time(conn: Connection) -> Callable[[float], int | None]:
    def lookup(at: float) -> int | None:
        e = s.audit_entries
        found = conn.execute(select(func.max(e.c.seq)).where(e.c.time <= at)).scalar_one_or_none()
        return None if found is None else int(found)

    return lookup


def restore_database(
    target: Target,
    point: RestorePoint,
    *,
    root: RootKey,
    database_url: str,
    anchor: str | None = None,
    vouch: Callable[[list[Manifest]], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
    erased: Collection[str] = (),
) -> RestoreResult:
    """Restore ``point`` into the empty database at ``database_url`` (see the module docstring).

    ``root`` comes from the unseal shares or passphrase; wrong ones fail with
    PermissionDenied before anything is written. ``anchor`` names a snapshot
    of the vault to restore when the repository holds several vaults.
    ``vouch`` is shown every snapshot the restore will read, before their
    data is read, and may refuse them by raising (the check against an
    exported audit log).
    ``progress(bytes_done, bytes_total)`` is called after each chunk.
    ``erased`` names subjects erased according to a newer log than the
    repository's (an audit export): with every erasure the restored log and
    the key backups record, they are erased in the restored state, whatever
    the point restored (:func:`strongroom.backup.subject_keys.rejoin`).
    """
    repo = Repository.open(target)
    manifests = repo.list_snapshots()
    anchor_m = repo.get_snapshot(anchor) if anchor is not None else _anchor(manifests, point)
    # The log comes first: a time is mapped to an index through it. Plan with
    # an index-free point to find the log snapshot, then again for real.
    log = plan_restore(manifests, RestorePoint(), anchor=anchor_m).log
    db = Database.from_url(database_url)
    try:
        db.migrate()
        with db.engine.begin() as conn:
            revision = schema_revision(conn)
            reader = _Reader(repo, root, 0, progress)
            reader.key(log)  # wrong shares fail here, before anything is read
            _check_revision(log, revision)
            if vouch is not None:
                vouch([log])
            drop_triggers(conn)
            reader.total = _streams_size(log, _NEWEST_TABLES)
            rows = _import(conn, reader, log, _NEWEST_TABLES)
            audit = AuditRepository(conn)
            if audit.size() != _size(log):
                raise IntegrityViolation(
                    "the restored audit log does not match the ledger size recorded at backup"
                )
            _check_consistent(audit, log, "the log")
            plan = plan_restore(
                manifests,
                point,
                anchor=anchor_m or log,
                index_at_time=_index_at_time(conn),
            )
            _check_revision(plan.base, revision)
            if vouch is not None:
                vouch([m for m in (plan.base, plan.segment) if m is not None])
            reader.total += _streams_size(plan.base, JOURNALED)
            if plan.segment is not None:
                reader.total += _stream_size(plan.segment, _JOURNAL_STREAM)
            _check_consistent(audit, plan.base, "the base")
            rows.update(_import(conn, reader, plan.base, JOURNALED))
            replayed = _roll_forward(conn, reader, plan, audit)
            if replayed:
                rows.update(_counts(conn, JOURNALED))
            rejoined = subject_keys.rejoin(
                conn,
                repo,
                root=root,
                log_key=str(log.meta.get("log_key", "")),
                backup_key=lambda key_id: backup_key_by_id(repo, key_id, root=root),
                erased=erased,
            )
            if "subject" in missing_columns("audit_entries", _revision(log)):
                # Entries restored from a snapshot older than their search column.
                backfill_subject_column(conn)
            reset_sequences(conn)
            install_triggers(conn)
            set_high_water(
                conn,
                timeline=secrets.token_hex(8),
                last=plan.journal_last,
                note={
                    "snapshot": plan.base.snapshot_id,
                    "at_index": plan.at_index,
                    "journal_segment": None if plan.segment is None else plan.segment.snapshot_id,
                    "replayed": replayed,
                    "log_snapshot": log.snapshot_id,
                    "log_size": _size(log),
                    "repository": str(log.meta.get("repository", "")),
                    "subjects_rekeyed": rejoined.rekeyed,
                    "erasures_applied": rejoined.erasures_applied,
                    "subject_keys_missing": len(rejoined.keys_missing),
                },
            )
    finally:
        db.engine.dispose()
    return RestoreResult(
        plan.base.snapshot_id,
        rows,
        _size(log),
        at_index=plan.at_index,
        replayed=replayed,
        log_snapshot=log.snapshot_id,
        subjects=rejoined,
    )


def _import(
    conn: Connection, reader: _Reader, m: Manifest, tables: Sequence[str]
) -> dict[str, int]:
    reader.key(m)  # before any chunk: a wrong key fails cleanly
    names = [stream_name(s.metadata.tables[t]) for t in tables]
    present = {s_.name for s_ in m.streams}
    return import_tables(
        conn,
        {name: reader.chunks(m, name) for name in names if name in present},
        tables=tables,
        fmt=_format(m),
        revision=_revision(m),
    )


def _roll_forward(
    conn: Connection, reader: _Reader, plan: RestorePlan, audit: AuditRepository
) -> int:
    """Replay the segment's journal onto the base, through the target entry; return changes.

    The plan chose a segment whose log goes past the point, so every change
    up to it is in that segment's journal.
    """
    if plan.segment is None:
        return 0
    _check_consistent(audit, plan.segment, "the journal")
    segment = plan.segment

    def current(table: str, keys: set[tuple[Any, ...]]) -> dict[tuple[Any, ...], Any]:
        # Values the journal left out of inserts are still in the newer snapshot.
        name = stream_name(s.metadata.tables[table])
        reader.total += _stream_size(segment, name)
        chunks = reader.chunks(segment, name)
        return pick_column(
            s.metadata.tables[table],
            chunks,
            keys,
            PREIMAGE[table],
            fmt=_format(segment),
            revision=_revision(segment),
        )

    result = replay(
        conn,
        _journal_rows(
            reader.chunks(segment, _JOURNAL_STREAM),
            _int_meta(plan.base, "journal_last") or 0,
            _format(segment),
        ),
        through_entry=int(plan.at_index or 0),
        current=current,
    )
    return result.rows


def _counts(conn: Connection, tables: Sequence[str]) -> dict[str, int]:
    return {
        t: int(conn.execute(select(func.count()).select_from(s.metadata.tables[t])).scalar_one())
        for t in tables
    }


def _anchor(manifests: Sequence[Manifest], point: RestorePoint) -> Manifest | None:
    if point.snapshot_id is None:
        return None
    for m in manifests:
        if m.snapshot_id == point.snapshot_id:
            return m
    raise NotFound(f"no snapshot {point.snapshot_id}")


def _check_revision(m: Manifest, revision: str | None) -> None:
    """Refuse a snapshot this code cannot restore: newer, or older than additive upgrades reach."""
    recorded = m.meta.get("schema_revision")
    if recorded == revision:
        return
    if (
        isinstance(recorded, str)
        and revision is not None
        and RESTORABLE_FROM <= recorded < revision
    ):
        return  # older, and every change since only added columns or tables
    raise InvalidInput(
        f"snapshot {m.snapshot_id[:12]} is at schema revision {recorded!r}, this "
        f"Strongroom at {revision!r}: restore with the matching version"
    )


def _revision(m: Manifest) -> str | None:
    """The snapshot's schema revision, for decoding its rows (see ADDED_COLUMNS)."""
    recorded = m.meta.get("schema_revision")
    return recorded if isinstance(recorded, str) and recorded else None
