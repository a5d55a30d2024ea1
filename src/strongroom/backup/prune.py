"""Retention policies and prune: forget old snapshots, then delete chunks nothing needs.

:class:`Retention` follows restic's ``forget`` rules. Snapshots are taken
newest first; ``keep_last`` keeps the newest N, and ``keep_daily``,
``keep_weekly`` and ``keep_monthly`` each keep the newest snapshot of each of
the last N UTC days, ISO 8601 weeks and months that have snapshots. A
snapshot kept by any rule is kept. :func:`plan` is pure;
:func:`prune` applies it to a repository.

Crash safety: a kill at any point loses nothing a remaining snapshot
references. The protocol (objects under ``locks/``):

1. Prune takes ``locks/prune`` with a put that refuses to replace, so two
   prunes cannot run at once, and then refuses to go on while any
   ``locks/backup-*`` exists (a backup is about to write its manifest).
2. It deletes the forgotten manifests first. A crash here leaves snapshots
   that are still whole, and chunks that a later prune removes.
3. It recomputes the referenced chunks from *all* remaining manifests (not
   from its plan), so a snapshot written by anyone else is honoured.
4. It deletes only chunk objects that no manifest lists.
5. It releases the lock in a ``finally``.

A backup (:meth:`~strongroom.backup.Repository.write_snapshot`) refuses to
start while ``locks/prune`` exists. After uploading its chunks it takes
``locks/backup-<random>``, checks again that no prune holds the lock, and
checks with one listing that every chunk it will reference is still stored
(a prune that ran while it uploaded may have deleted a chunk it reused);
only then does it write the manifest, and it removes its lock in a
``finally``. Each side writes its own lock before looking for the other's,
so at least one of two racing writers sees the other and stops with
:class:`~strongroom.errors.Conflict`; a prune never deletes a chunk between a
backup's check and its manifest. The backup lock is taken after the uploads,
not before, so that a backup that only uploads holds no lock for hours.

A crash mid-prune leaves at worst unreferenced chunks and a stale lock; a
crash of a backup between its lock and its ``finally`` leaves a stale backup
lock. Both make the next prune refuse, naming the lock and its age; after
checking that no prune or backup runs, pass ``force_unlock=True``
(``strongroom backup prune --force-unlock``) to remove every lock first.

Example::

    >>> import io, tempfile
    >>> from strongroom.backup import LocalTarget, Repository
    >>> from strongroom.crypto import KEK, BackupKey
    >>> kek, key = KEK.generate(version=1), BackupKey.generate()
    >>> folder = tempfile.TemporaryDirectory()
    >>> repo = Repository.init(LocalTarget(folder.name), key=key,
    ...                        wrapped_key=key.wrap_with(kek), key_material={})
    >>> for n in range(3):
    ...     _ = repo.write_snapshot({"db": io.BytesIO(bytes([n]) * 5000)}, key=key, meta={},
    ...                             time_ns=(1_767_225_600 + n * 86_400) * 10**9)
    >>> result = prune(repo, Retention(keep_last=1))
    >>> len(result.kept), len(result.forgotten), result.chunks_deleted
    (1, 2, 2)
    >>> folder.cleanup()
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import re
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Final

from strongroom.backup.manifest import Manifest
from strongroom.backup.repository import BACKUP_LOCK_PREFIX, LOCKS_PREFIX, PRUNE_LOCK, Repository
from strongroom.errors import Conflict, InvalidInput, NotFound
from strongroom.ledger.entry import canonical, format_time

__all__ = ["PruneResult", "Retention", "plan", "prune"]

_CHUNK_NAME: Final = re.compile(r"chunks/([0-9a-f]{2})/(\1[0-9a-f]{62})")


@dataclasses.dataclass(frozen=True, slots=True)
class Retention:
    """How many snapshots to keep: the last N, and one per day, ISO week and month.

    Every count is a non-negative int. A policy that keeps nothing is
    refused with InvalidInput: pruning with it would delete every snapshot.
    """

    keep_last: int = 0
    keep_daily: int = 0
    keep_weekly: int = 0
    keep_monthly: int = 0

    def __post_init__(self) -> None:
        counts = dataclasses.astuple(self)
        for field, value in zip(dataclasses.fields(self), counts, strict=True):
            if type(value) is not int:
                raise TypeError(f"{field.name} must be int")
            if value < 0:
                raise InvalidInput(f"{field.name} must not be negative")
        if not any(counts):
            raise InvalidInput(
                "a retention policy must keep something (set --keep-last, --keep-daily, "
                "--keep-weekly or --keep-monthly)"
            )


@dataclasses.dataclass(frozen=True, slots=True)
class PruneResult:
    """What :func:`prune` did (or, with ``dry_run``, would do).

    ``kept`` and ``forgotten`` are snapshot ids, oldest first;
    ``bytes_freed`` is the stored size of the deleted chunk objects.
    """

    kept: tuple[str, ...]
    forgotten: tuple[str, ...]
    chunks_deleted: int
    bytes_freed: int
    dry_run: bool = False


def _buckets(policy: Retention) -> list[tuple[int, Callable[[dt.datetime], object]]]:
    """Each rule's count and the bucket a snapshot time falls into for it."""
    return [
        (policy.keep_daily, lambda t: t.date()),
        (policy.keep_weekly, lambda t: t.isocalendar()[:2]),
        (policy.keep_monthly, lambda t: (t.year, t.month)),
    ]


def plan(manifests: Iterable[Manifest], policy: Retention) -> tuple[list[Manifest], list[Manifest]]:
    """Split ``manifests`` into ``(keep, forget)`` by ``policy``; both oldest first.

    Pure: reads only each manifest's ``created`` (RFC 3339 UTC) and id. Ties
    in ``created`` are broken by snapshot id, so the result never depends on
    the input order.
    """
    if not isinstance(policy, Retention):
        raise TypeError("policy must be a Retention")
    newest_first = sorted(manifests, key=lambda m: (m.created, m.snapshot_id), reverse=True)
    rules = _buckets(policy)
    left = [count for count, _ in rules]
    last: list[object] = [None] * len(rules)
    keep: list[Manifest] = []
    forget: list[Manifest] = []
    for index, manifest in enumerate(newest_first):
        when = _parse_created(manifest.created)
        kept = index < policy.keep_last
        # restic's rule: the first (newest) snapshot seen in a new bucket is
        # kept while the rule still has buckets left to fill.
        for i, (_, bucket_of) in enumerate(rules):
            bucket = bucket_of(when)
            if left[i] > 0 and bucket != last[i]:
                last[i] = bucket
                left[i] -= 1
                kept = True
        (keep if kept else forget).append(manifest)
    keep.reverse()
    forget.reverse()
    return keep, forget


def prune(
    repo: Repository,
    policy: Retention,
    *,
    dry_run: bool = False,
    force_unlock: bool = False,
    now_ns: int | None = None,
) -> PruneResult:
    """Forget the snapshots ``policy`` does not keep and delete unreferenced chunks.

    Follows the protocol in the module docstring. Raises Conflict if another
    prune or a backup holds a lock (``force_unlock`` first removes every
    lock: only for stale ones), and IntegrityViolation if any manifest is
    damaged, since its chunks would otherwise look unreferenced. ``dry_run``
    takes no lock and deletes nothing. ``now_ns`` (default now) dates the lock.
    """
    target = repo.target
    if dry_run:
        keep, forget = plan(repo.list_snapshots(), policy)
        referenced = {c.id for m in keep for c in m.chunks()}
        garbage = _garbage(repo, referenced)
        return PruneResult(
            kept=_ids(keep),
            forgotten=_ids(forget),
            chunks_deleted=len(garbage),
            bytes_freed=sum(_sizes(repo, garbage, [*keep, *forget]).values()),
            dry_run=True,
        )
    if force_unlock:
        for name in target.list(LOCKS_PREFIX):
            target.delete(name)
    # 1. The exclusive lock, then no backup may be between its check and its manifest.
    _acquire(repo, now_ns)
    try:
        if backups := target.list(BACKUP_LOCK_PREFIX):
            raise Conflict(
                f"a backup is running ({backups[0]}); prune again when it ends, or use "
                "--force-unlock if that lock is stale",
                object=backups[0],
            )
        manifests = repo.list_snapshots()
        keep, forget = plan(manifests, policy)
        # 2. Forgotten manifests first: a crash after this leaves only garbage.
        for manifest in forget:
            target.delete(manifest.object_name)
        # 3. Referenced chunks from every manifest still there, not from the plan.
        remaining = repo.list_snapshots()
        referenced = {c.id for m in remaining for c in m.chunks()}
        # 4. Delete only what nothing references.
        garbage = _garbage(repo, referenced)
        sizes = _sizes(repo, garbage, manifests)
        for name in garbage:
            target.delete(name)
        return PruneResult(
            kept=_ids(remaining),
            forgotten=_ids(forget),
            chunks_deleted=len(garbage),
            bytes_freed=sum(sizes.values()),
        )
    finally:
        # 5. Release the lock whatever happened.
        target.delete(PRUNE_LOCK)


def _acquire(repo: Repository, now_ns: int | None) -> None:
    """Write ``locks/prune`` unless it exists; Conflict naming the holder if it does."""
    body = canonical(
        {
            "kind": "prune",
            "created": format_time(time.time_ns() if now_ns is None else now_ns),
            "host": socket.gethostname(),
            "pid": os.getpid(),
        }
    )
    try:
        repo.target.put(PRUNE_LOCK, body)
    except Conflict:
        since = "an unknown time"
        with contextlib.suppress(NotFound, ValueError, AttributeError):
            since = str(json.loads(repo.target.get(PRUNE_LOCK)).get("created", since))
        raise Conflict(
            f"another prune holds {PRUNE_LOCK} (since {since}); if none is running, "
            "prune again with --force-unlock",
            object=PRUNE_LOCK,
        ) from None


def _garbage(repo: Repository, referenced: set[str]) -> list[str]:
    """Names of chunk objects whose id is not in ``referenced``."""
    garbage = []
    for name in repo.target.list("chunks/"):
        match = _CHUNK_NAME.fullmatch(name)
        if match and match.group(2) not in referenced:
            garbage.append(name)
    return garbage


def _sizes(repo: Repository, names: Sequence[str], known: Iterable[Manifest]) -> dict[str, int]:
    """Stored size of each object in ``names``: from manifest records, else by reading it."""
    recorded = {c.object_name: c.stored_size for m in known for c in m.chunks()}
    sizes = {}
    for name in names:
        if name in recorded:
            sizes[name] = recorded[name]
        else:
            # A leftover of an interrupted write or prune: no record says its size.
            try:
                sizes[name] = len(repo.target.get(name))
            except NotFound:
                sizes[name] = 0
    return sizes


def _ids(manifests: Iterable[Manifest]) -> tuple[str, ...]:
    ordered = sorted(manifests, key=lambda m: (m.created, m.snapshot_id))
    return tuple(m.snapshot_id for m in ordered)


def _parse_created(created: str) -> dt.datetime:
    return dt.datetime.strptime(created, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
