"""Key backups: data subjects' keys, kept apart from snapshots and only for a bounded window.

Erasing a subject destroys its key (ARCHITECTURE.md §4). If snapshots held
subject keys, every old snapshot would bring an erased subject back. So a
snapshot (and the change journal in it) never holds a subject key
(:data:`strongroom.storage.journal.WITHHELD`); each backup also writes one
*key backup*, a small object ``subject-keys/<time>-<random>`` with

* every live subject's key, wrapped by its KEK, and the KEK rows needed,
  each wrapped by the root key (so nothing here opens without the shares);
* the ids of every erased subject (a tombstone list);
* the ledger size and the log's key, to tell which vault it belongs to.

The object is sealed whole under the repository's backup key
(``SRbo``, bound to its name); only its header (format, backup key id, log
key, time) is in clear, so a restore can choose without decrypting.

**The window.** :func:`expire` deletes every key backup older than the
configured window except the newest of each log, and runs after every
backup. A subject erased at time *t* is absent from every key backup written
after *t*; the older ones that still hold its key are gone once the first
backup after ``t + window`` has run. From then on no object in the
repository holds that key, so no snapshot, however old, can bring the
subject's records back, even restored without the newest log.

Restore (:func:`rejoin`) gives each restored subject its key from the newest
key backup that holds it, rewrapped under the restored vault's KEK, unless
the subject was erased according to any source at hand: the restored log,
any key backup's tombstones, or an audit export the operator supplies.

Example::

    >>> _name(1_700_000_000_000_000_000).startswith("subject-keys/01700000000000000000-")
    True
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Connection, select, update

from strongroom.backup.repository import Repository
from strongroom.crypto import KEK, BackupKey, Keyring, RootKey
from strongroom.errors import DecryptionFailed, IntegrityViolation, NotFound
from strongroom.storage import schema as s
from strongroom.storage.repositories import KeyRepository, SubjectRepository

__all__ = [
    "FORMAT",
    "PREFIX",
    "KeyBackup",
    "KeyBackupInfo",
    "RejoinResult",
    "erased_in_entries",
    "expire",
    "list_backups",
    "read_backup",
    "rejoin",
    "scan",
    "write_backup",
]

FORMAT: Final = "strongroom-subject-keys/v1"
PREFIX: Final = "subject-keys/"
_NAME = re.compile(r"^subject-keys/(\d{20})-[0-9a-f]{8}$")
_ERASE_RESOURCE = re.compile(r"^sys/subjects/(sub_[0-9a-f]{24})/erase$")
_ERASE_MARK = b'"event":"sys:subject:erase"'


def _name(created_ns: int) -> str:
    return f"{PREFIX}{created_ns:020d}-{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class KeyBackupInfo:
    """A key backup's clear header: which object, when, which log, which backup key."""

    name: str
    created_ns: int
    log_key: str
    key_id: str
    ledger_size: int


@dataclass(slots=True)
class KeyBackup:
    """A key backup's sealed content."""

    info: KeyBackupInfo
    subjects: dict[str, tuple[int, bytes]] = field(repr=False)
    """Subject id → (KEK version, wrapped subject key)."""
    keks: dict[int, bytes] = field(repr=False)
    """KEK version → the KEK wrapped by the root key."""
    erased: set[str]


def write_backup(
    repo: Repository,
    conn: Connection,
    *,
    key: BackupKey,
    log_key: str,
    ledger_size: int,
    now_ns: int | None = None,
) -> KeyBackupInfo:
    """Write the key backup of the state ``conn`` reads (the snapshot's read transaction)."""
    created = time.time_ns() if now_ns is None else now_ns
    subjects = SubjectRepository(conn)
    keyed = [r for r in subjects.keyed() if r.erased_at is None and r.kek_version is not None]
    erased = sorted(i for i, at in subjects.all_ids().items() if at is not None)
    wanted = {r.kek_version for r in keyed}
    keks = {
        r.version: r.wrapped for r in KeyRepository(conn).list_versions() if r.version in wanted
    }
    b64 = base64.b64encode
    body = json.dumps(
        {
            "subjects": [[r.id, r.kek_version, b64(r.wrapped_key or b"").decode()] for r in keyed],
            "keks": {str(v): b64(w).decode() for v, w in sorted(keks.items())},
            "erased": erased,
        },
        separators=(",", ":"),
    ).encode()
    name = _name(created)
    info = KeyBackupInfo(name, created, log_key, key.key_id, ledger_size)
    head = json.dumps(
        {
            "format": FORMAT,
            "key_id": key.key_id,
            "log_key": log_key,
            "created_ns": created,
            "ledger_size": ledger_size,
        },
        sort_keys=True,
    ).encode()
    # The clear header is authenticated too: name and header are the AAD.
    sealed = key.seal_object(body, name=_aad(name, head))
    repo.target.put(name, head + b"\n" + sealed)
    return info


def _aad(name: str, head: bytes) -> str:
    return name + "\n" + head.decode()


def _header(name: str, raw: bytes) -> tuple[KeyBackupInfo, bytes, bytes]:
    head, sep, sealed = raw.partition(b"\n")
    try:
        h = json.loads(head) if sep else None
    except ValueError:
        h = None
    m = _NAME.match(name)
    if not isinstance(h, dict) or h.get("format") != FORMAT or m is None:
        raise IntegrityViolation(f"{name} is not a key backup", object=name)
    try:
        # The time comes from the name (in the AAD), not from the header alone.
        info = KeyBackupInfo(
            name, int(m.group(1)), str(h["log_key"]), str(h["key_id"]), int(h["ledger_size"])
        )
    except (KeyError, TypeError, ValueError):
        raise IntegrityViolation(f"{name} has a malformed header", object=name) from None
    return info, head, sealed


def scan(repo: Repository, *, log_key: str | None = None) -> tuple[list[KeyBackupInfo], list[str]]:
    """This log's key backups, newest first, and the names of those whose header is damaged."""
    out, damaged = [], []
    for name in repo.target.list(PREFIX):
        if not _NAME.match(name):
            continue
        try:
            info, _, _ = _header(name, repo.target.get(name))
        except IntegrityViolation:
            damaged.append(name)
            continue
        except NotFound:
            continue  # deleted meanwhile (an expiry)
        if log_key is None or info.log_key == log_key:
            out.append(info)
    return sorted(out, key=lambda i: (i.created_ns, i.name), reverse=True), sorted(damaged)


def list_backups(repo: Repository, *, log_key: str | None = None) -> list[KeyBackupInfo]:
    """The key backups in the repository (of one log if given), newest first."""
    return scan(repo, log_key=log_key)[0]


def read_backup(repo: Repository, info: KeyBackupInfo, key: BackupKey) -> KeyBackup:
    """Open one key backup with its backup key (IntegrityViolation if altered)."""
    found, head, sealed = _header(info.name, repo.target.get(info.name))
    try:
        body = json.loads(key.open_object(sealed, name=_aad(info.name, head)))
        b64 = base64.b64decode
        subjects = {str(i): (int(v), b64(w)) for i, v, w in body["subjects"]}
        keks = {int(v): b64(w) for v, w in body["keks"].items()}
        erased = {str(i) for i in body["erased"]}
    except DecryptionFailed:
        raise IntegrityViolation(
            f"{info.name} does not open under its backup key (altered or moved)", object=info.name
        ) from None
    except (KeyError, TypeError, ValueError):
        raise IntegrityViolation(f"{info.name} has a malformed body", object=info.name) from None
    return KeyBackup(found, subjects, keks, erased)


def expire(
    repo: Repository, *, window_s: float, log_key: str, now_ns: int | None = None
) -> list[str]:
    """Delete this log's key backups older than ``window_s``, except its newest, and any
    damaged one older than that; return the names deleted."""
    now = time.time_ns() if now_ns is None else now_ns
    mine, damaged = scan(repo, log_key=log_key)
    cutoff = now - int(window_s * 1e9)
    gone = [i.name for i in mine[1:] if i.created_ns < cutoff]
    gone += [n for n in damaged if (m := _NAME.match(n)) and int(m.group(1)) < cutoff]
    for name in gone:
        repo.target.delete(name)
    return gone


def erased_in_entries(entries: Iterable[bytes]) -> dict[str, float]:
    """Subject id → 0.0 for every allowed ``sys:subject:erase`` entry among canonical ``entries``.

    (The time is not needed to apply an erasure; callers that know it use
    their own.)
    """
    out: dict[str, float] = {}
    for raw in entries:
        if _ERASE_MARK not in raw:
            continue
        entry: dict[str, Any] = json.loads(raw)
        m = _ERASE_RESOURCE.match(str(entry.get("resource", "")))
        if entry.get("outcome") == "allowed" and m:
            out[m.group(1)] = 0.0
    return out


def _erased_in_log(conn: Connection) -> dict[str, float]:
    e = s.audit_entries
    rows = conn.execute(
        select(e.c.resource, e.c.time).where(
            e.c.event == "sys:subject:erase", e.c.outcome == "allowed"
        )
    )
    out: dict[str, float] = {}
    for resource, at in rows:
        m = _ERASE_RESOURCE.match(str(resource))
        if m:
            out[m.group(1)] = float(at)
    return out


def _current_kek(conn: Connection, root: RootKey) -> KEK:
    rows = KeyRepository(conn).list_versions()
    ring = Keyring.unwrap_all(
        root, [(r.version, r.wrapped, r.retired_at is not None) for r in rows]
    )
    return ring.current_kek


@dataclass(frozen=True, slots=True)
class RejoinResult:
    """What a restore did with the subjects' keys."""

    rekeyed: int
    """Subjects given back their key."""
    erasures_applied: int
    """Subjects the restored state still held, erased because a newer source says so."""
    keys_missing: list[str]
    """Live subjects whose key no key backup holds (their records cannot be read)."""
    key_backups_read: int
    key_backups_unreadable: list[str] = field(default_factory=list)
    """Key backups that could not be opened (damaged, moved, or another vault's key)."""


def rejoin(
    conn: Connection,
    repo: Repository,
    *,
    root: RootKey,
    log_key: str,
    backup_key: Callable[[str], BackupKey],
    erased: Collection[str] = (),
    now: float | None = None,
) -> RejoinResult:
    """Give the restored subjects their keys, and apply every erasure known (see the module).

    Runs in the restore's transaction, after the state and the log are in.
    ``backup_key(key_id)`` opens the repository's backup keys with ``root``.
    """
    at = time.time() if now is None else now
    gone: dict[str, float] = {i: at for i in erased}
    gone.update(_erased_in_log(conn))
    infos, unreadable = scan(repo, log_key=log_key)
    backups: list[KeyBackup] = []
    for info in infos:
        # One damaged key backup must not stop a restore: an older one may
        # hold the same keys; what none holds is reported as missing.
        try:
            backups.append(read_backup(repo, info, backup_key(info.key_id)))
        except (IntegrityViolation, NotFound, DecryptionFailed):
            unreadable.append(info.name)
    for b in backups:
        gone.update({i: gone.get(i, at) for i in b.erased})
    repo_subjects = SubjectRepository(conn)
    state = repo_subjects.all_ids()
    applied = 0
    for subject_id, erased_at in state.items():
        if subject_id in gone and erased_at is None:
            repo_subjects.erase(subject_id, now=gone[subject_id] or at)
            applied += 1
    keyed = {r.id for r in repo_subjects.keyed()}
    current: KEK | None = None
    keks: dict[tuple[str, int], KEK] = {}
    rekeyed, missing = 0, []
    for subject_id, erased_at in sorted(state.items()):
        if erased_at is not None or subject_id in gone or subject_id in keyed:
            continue
        source = next((b for b in backups if subject_id in b.subjects), None)
        if source is None:
            # Keyless: no KEK wraps anything for it (a rewrap must not look for a key).
            repo_subjects.set_key(subject_id, kek_version=None, wrapped_key=None)
            missing.append(subject_id)
            continue
        version, wrapped = source.subjects[subject_id]
        kek = keks.get((source.info.name, version))
        if kek is None:
            if version not in source.keks:
                raise IntegrityViolation(
                    f"{source.info.name} lacks KEK version {version}", object=source.info.name
                )
            kek = root.unwrap_kek(version, source.keks[version])
            keks[(source.info.name, version)] = kek
        subject_key = kek.unwrap_subject_key(wrapped, subject_id=subject_id)
        if current is None:
            current = _current_kek(conn, root)
        repo_subjects.set_key(
            subject_id,
            kek_version=current.version,
            wrapped_key=current.wrap_subject_key(subject_key),
        )
        rekeyed += 1
    if current is not None:
        kv = s.kek_versions
        conn.execute(
            update(kv)
            .where(kv.c.version == current.version)
            .values(encryptions_reserved=kv.c.encryptions_reserved + rekeyed)
        )
    return RejoinResult(rekeyed, applied, missing, len(backups), sorted(unreadable))
