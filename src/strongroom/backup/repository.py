"""A deduplicating, encrypted backup repository on a :class:`~strongroom.backup.Target`.

Layout (all JSON is RFC 8785 canonical)::

    config                  {"format": "strongroom-backup/v1", "id": ..., "chunker": {...}}
    keys/<key id>           the backup key wrapped by a KEK, plus the caller's key material
    chunks/<id[:2]>/<id>    SRbk-sealed, zstd (level 3) compressed chunk plaintext
    snapshots/<snapshot id> the manifest (see :mod:`strongroom.backup.manifest`)
    locks/prune             held by a running prune (see :mod:`strongroom.backup.prune`)
    locks/backup-<random>   held by a backup while it checks its chunks and writes its manifest

Writing a snapshot (:meth:`Repository.write_snapshot`):

1. Refuse a backup key the repository does not hold wrapped under ``keys/``,
   so no snapshot can be written that nobody could decrypt.
2. Index the chunks already stored: records from existing manifests (same
   key) and one listing of ``chunks/``.
3. Cut each stream with FastCDC; name each chunk by the keyed HMAC of its
   plaintext (:meth:`~strongroom.crypto.BackupKey.chunk_id`).
4. A chunk the index knows is not uploaded again. A chunk object that no
   manifest lists (left by an interrupted write) is downloaded and checked
   before it is reused. Otherwise compress, seal with the chunk id in the AAD,
   and upload it.
5. Take ``locks/backup-<random>``, refuse if a prune holds ``locks/prune``,
   and check with one listing that every chunk is still stored (a prune may
   have run during the uploads); the protocol is in
   :mod:`strongroom.backup.prune`.
6. Write the manifest last, then drop the lock. A crash before that leaves
   only unreferenced chunks, never a snapshot that lists a missing chunk; a
   retry reuses them.

Verification (:meth:`Repository.verify`) without a key checks that the
manifest object is intact, its Merkle root recomputes, and every chunk object
exists with the recorded size and SHA-256; with the key it also decrypts,
decompresses and re-derives every chunk id (``--read-data``). Every bad object
is named in the :class:`VerifyResult`.

Example::

    >>> import io, tempfile
    >>> from strongroom.backup import LocalTarget
    >>> from strongroom.crypto import KEK, BackupKey
    >>> kek, key = KEK.generate(version=1), BackupKey.generate()
    >>> folder = tempfile.TemporaryDirectory()
    >>> repo = Repository.init(LocalTarget(folder.name), key=key,
    ...                        wrapped_key=key.wrap_with(kek), key_material={})
    >>> m = repo.write_snapshot({"db": io.BytesIO(b"pages" * 1000)}, key=key, meta={})
    >>> m.stats.chunks_new, b"".join(repo.read_stream(m, "db", key=key)) == b"pages" * 1000
    (1, True)
    >>> repo.verify(m, key=key).ok
    True
    >>> folder.cleanup()
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
import secrets
import time
import types
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from typing import Any, BinaryIO, Final, TypeGuard

from strongroom.backup.chunker import ChunkSizes, chunk
from strongroom.backup.manifest import ChunkRecord, Manifest, StreamRecord
from strongroom.backup.target import Target
from strongroom.backup.uploader import DEFAULT_WORKERS, ZSTD_LEVEL, ChunkUploader
from strongroom.backup.verification import (
    Problem,
    ProblemKind,
    VerifyResult,
    check_chunk,
    read_chunk,
)
from strongroom.crypto import BackupKey
from strongroom.errors import (
    Conflict,
    DecryptionFailed,
    IntegrityViolation,
    InvalidInput,
    KeyUnavailable,
    NotFound,
)
from strongroom.ledger.entry import canonical, format_time
from strongroom.ledger.merkle import Frontier, leaf_hash

__all__ = [
    "BACKUP_LOCK_PREFIX",
    "KEY_FORMAT",
    "LOCKS_PREFIX",
    "PRUNE_LOCK",
    "REPOSITORY_FORMAT",
    "KeyEntry",
    "Repository",
]

REPOSITORY_FORMAT: Final = "strongroom-backup/v1"
"""The ``format`` of the ``config`` object."""

KEY_FORMAT: Final = "strongroom-backup-key/v1"
"""The ``format`` of each ``keys/<key id>`` object."""

LOCKS_PREFIX: Final = "locks/"
"""Where lock objects live."""

PRUNE_LOCK: Final = "locks/prune"
"""Held by a running prune; a backup refuses to start or finish while it exists."""

BACKUP_LOCK_PREFIX: Final = "locks/backup-"
"""Prefix of the lock a backup holds around its final check and manifest write."""

_CHUNKER: Final = "fastcdc-2016"
_HEX32: Final = re.compile(r"[0-9a-f]{32}")
_CHUNK_NAME: Final = re.compile(r"chunks/([0-9a-f]{2})/(\1[0-9a-f]{62})")
_SNAPSHOT_NAME: Final = re.compile(r"snapshots/([0-9a-f]{64})")

Progress = Callable[[int, int], None]


@dataclasses.dataclass(frozen=True, slots=True)
class KeyEntry:
    """A ``keys/<key id>`` object: a backup key wrapped by a KEK, and opaque key material.

    ``key_material`` is whatever the caller stored at init (for example the
    root-key-sealed KEK that wrapped the backup key); the repository never
    interprets it.
    """

    key_id: str
    kek_version: int
    wrapped_key: bytes
    key_material: Mapping[str, str]

    def to_bytes(self) -> bytes:
        """The canonical JSON stored as ``keys/<key id>``."""
        return canonical(
            {
                "format": KEY_FORMAT,
                "key_id": self.key_id,
                "kek_version": self.kek_version,
                "wrapped_key": base64.b64encode(self.wrapped_key).decode(),
                "key_material": dict(self.key_material),
            }
        )

    @classmethod
    def from_bytes(cls, raw: bytes, *, name: str) -> KeyEntry:
        """Parse a key object; raise IntegrityViolation naming ``name`` if malformed."""
        obj = _load_json(raw, name)
        material = obj.get("key_material")
        try:
            wrapped = base64.b64decode(obj.get("wrapped_key", ""), validate=True)
        except (binascii.Error, TypeError, ValueError):
            wrapped = b""
        if (
            obj.get("format") != KEY_FORMAT
            or not isinstance(obj.get("key_id"), str)
            or not _HEX32.fullmatch(obj["key_id"])
            or type(obj.get("kek_version")) is not int
            or obj["kek_version"] != _kek_version(wrapped)
            or name != f"keys/{obj['key_id']}"
            or not _is_str_map(material)
        ):
            raise IntegrityViolation(f"{name} is not a valid {KEY_FORMAT} object")
        material = types.MappingProxyType(dict(material))
        return cls(obj["key_id"], obj["kek_version"], wrapped, material)


class Repository:
    """A backup repository on a target: create it with :meth:`init`, open with :meth:`open`."""

    def __init__(self, target: Target, *, repo_id: str, chunk_sizes: ChunkSizes) -> None:
        self._target = target
        self._repo_id = repo_id
        self._sizes = chunk_sizes

    @property
    def target(self) -> Target:
        """The target holding the repository's objects."""
        return self._target

    @property
    def repo_id(self) -> str:
        """The random id chosen at init (32 hex digits)."""
        return self._repo_id

    @property
    def chunk_sizes(self) -> ChunkSizes:
        """The chunker sizes fixed at init (dedup needs every snapshot to cut alike)."""
        return self._sizes

    def __repr__(self) -> str:
        return f"Repository(id={self._repo_id!r}, target={self._target!r})"

    @classmethod
    def init(
        cls,
        target: Target,
        *,
        key: BackupKey,
        wrapped_key: bytes,
        key_material: Mapping[str, str],
        chunk_sizes: ChunkSizes | None = None,
    ) -> Repository:
        """Create a repository on an empty ``target`` holding ``key`` as ``wrapped_key``.

        ``wrapped_key`` is ``key.wrap_with(kek)``; ``key_material`` is stored
        as given. The config is written last, so an interrupted init can
        simply be run again. Raises Conflict if a repository exists.
        """
        if target.exists("config"):
            raise Conflict("a backup repository already exists at this target")
        sizes = chunk_sizes or ChunkSizes.around()
        repo = cls(target, repo_id=secrets.token_hex(16), chunk_sizes=sizes)
        repo.put_key(key=key, wrapped_key=wrapped_key, key_material=key_material)
        config = {
            "format": REPOSITORY_FORMAT,
            "id": repo.repo_id,
            "chunker": {
                "algorithm": _CHUNKER,
                "min_size": sizes.min_size,
                "avg_size": sizes.avg_size,
                "max_size": sizes.max_size,
            },
            "compression": f"zstd-{ZSTD_LEVEL}",
        }
        target.put("config", canonical(config))
        return repo

    @classmethod
    def open(cls, target: Target) -> Repository:
        """Open the repository on ``target``; NotFound if there is none."""
        try:
            raw = target.get("config")
        except NotFound:
            raise NotFound("no backup repository at this target") from None
        obj = _load_json(raw, "config")
        if obj.get("format") != REPOSITORY_FORMAT:
            raise IntegrityViolation(f"unsupported repository format {obj.get('format')!r}")
        chunker = obj.get("chunker")
        repo_id = obj.get("id")
        if (
            not isinstance(repo_id, str)
            or not _HEX32.fullmatch(repo_id)
            or not isinstance(chunker, dict)
            or chunker.get("algorithm") != _CHUNKER
            or obj.get("compression") != f"zstd-{ZSTD_LEVEL}"
        ):
            raise IntegrityViolation("config is not a valid repository config")
        try:
            sizes = ChunkSizes(chunker["min_size"], chunker["avg_size"], chunker["max_size"])
        except (KeyError, TypeError, ValueError) as exc:
            raise IntegrityViolation(f"config has invalid chunk sizes: {exc}") from exc
        return cls(target, repo_id=repo_id, chunk_sizes=sizes)

    def put_key(
        self, *, key: BackupKey, wrapped_key: bytes, key_material: Mapping[str, str]
    ) -> KeyEntry:
        """Store (or replace, after a KEK rotation) the wrapped copy of ``key``."""
        if not isinstance(key, BackupKey):
            raise TypeError("key must be a BackupKey")
        if not _is_str_map(key_material):
            raise TypeError("key_material must map str to str")
        try:
            version = BackupKey.wrapped_kek_version(wrapped_key)
        except DecryptionFailed:
            raise InvalidInput("wrapped_key is not a KEK-wrapped backup key") from None
        material = types.MappingProxyType(dict(key_material))
        entry = KeyEntry(key.key_id, version, wrapped_key, material)
        self._target.put(f"keys/{key.key_id}", entry.to_bytes(), overwrite=True)
        return entry

    def keys(self) -> list[KeyEntry]:
        """Return every stored key entry, by key id."""
        return [
            KeyEntry.from_bytes(self._target.get(name), name=name)
            for name in self._target.list("keys/")
        ]

    def write_snapshot(
        self,
        streams: Mapping[str, BinaryIO],
        *,
        key: BackupKey,
        meta: Mapping[str, Any],
        progress: Progress | None = None,
        time_ns: int | None = None,
        workers: int = DEFAULT_WORKERS,
    ) -> Manifest:
        """Back up ``streams`` (name → readable binary file) as one snapshot.

        ``meta`` is JSON stored in the manifest (e.g. the ledger size and its
        checkpoint note). ``progress(bytes_read, bytes_total)`` is called
        after each chunk; ``bytes_total`` is -1 unless every stream is
        seekable. ``time_ns`` (default now) sets ``created``. ``workers``
        chunks are compressed, sealed and uploaded at a time. The returned
        manifest carries :class:`~strongroom.backup.SnapshotStats`.
        """
        # 1. Only a key the repository holds may seal a snapshot.
        if not self._target.exists(f"keys/{key.key_id}"):
            raise KeyUnavailable("this backup key is not stored in the repository")
        self._refuse_while_pruning()
        created = format_time(time.time_ns() if time_ns is None else time_ns)
        # Check the caller's input before any upload, not after the last one.
        Manifest.build(created=created, key_id=key.key_id, meta=meta, streams=())
        for name in streams:
            StreamRecord.check_name(name)
        # 2. What is already stored: indexed records, and every chunk object.
        index, stored = self._index(key), self._stored_chunk_ids()
        total = _total_size(streams)
        futures: dict[str, list[Future[ChunkRecord]]] = {}
        with ChunkUploader(
            self._target, key, index=index, stored=stored, workers=workers
        ) as uploader:
            for name, stream in streams.items():
                futures[name] = pending = []
                # 3. Cut and name; 4. store each chunk unless it already is.
                for piece in chunk(
                    stream,
                    avg_size=self._sizes.avg_size,
                    min_size=self._sizes.min_size,
                    max_size=self._sizes.max_size,
                ):
                    pending.append(uploader.add(piece))
                    if progress is not None:
                        progress(uploader.stats().bytes_read, total)
            records = []
            for name, pending in futures.items():
                chunks = tuple(f.result() for f in pending)
                size = sum(c.size for c in chunks)
                records.append(StreamRecord(name=name, size=size, chunks=chunks))
            stats = uploader.stats()
        manifest = Manifest.build(
            created=created, key_id=key.key_id, meta=meta, streams=records, stats=stats
        )
        # 5. Lock, then check: a prune either sees this lock and stops, or
        # has finished, and then the listing shows whatever it deleted.
        lock = f"{BACKUP_LOCK_PREFIX}{secrets.token_hex(16)}"
        self._target.put(
            lock, canonical({"kind": "backup", "created": format_time(time.time_ns())})
        )
        try:
            self._refuse_while_pruning()
            if missing := {c.id for c in manifest.chunks()} - self._stored_chunk_ids():
                raise Conflict(
                    f"a prune deleted {len(missing)} chunk(s) this backup reuses while it ran; "
                    "run the backup again"
                )
            # 6. The manifest last: only now does the snapshot exist.
            raw = manifest.to_bytes()
            try:
                self._target.put(manifest.object_name, raw)
            except Conflict:
                # The same content at the same instant has the same id: already done.
                if self._target.get(manifest.object_name) != raw:
                    raise
        finally:
            self._target.delete(lock)
        return manifest

    def list_snapshots(self) -> list[Manifest]:
        """Return every snapshot's manifest, oldest first.

        Raises IntegrityViolation naming the object if any manifest is
        damaged: a snapshot list must not silently lose a snapshot.
        """
        manifests = [self.get_snapshot(_snapshot_id(n)) for n in self._target.list("snapshots/")]
        manifests.sort(key=lambda m: (m.created, m.snapshot_id))
        return manifests

    def get_snapshot(self, snapshot_id: str) -> Manifest:
        """Return the manifest of ``snapshot_id``; NotFound, or IntegrityViolation if damaged."""
        name = f"snapshots/{snapshot_id}"
        if not _SNAPSHOT_NAME.fullmatch(name):
            raise NotFound(f"no snapshot {snapshot_id!r}")
        try:
            raw = self._target.get(name)
        except NotFound:
            raise NotFound(f"no snapshot {snapshot_id}") from None
        manifest = _parse_manifest(raw, name)
        if manifest.snapshot_id != snapshot_id:
            raise IntegrityViolation(f"{name} holds snapshot {manifest.snapshot_id}", object=name)
        return manifest

    def read_stream(self, manifest: Manifest, name: str, *, key: BackupKey) -> Iterator[bytes]:
        """Yield the plaintext of stream ``name`` of ``manifest``, chunk by chunk.

        Each chunk is checked against its stored hash, opened, decompressed
        and re-named before it is yielded. Raises IntegrityViolation for a
        missing or damaged chunk, DecryptionFailed for one that will not open
        (a wrong key), NotFound for an unknown stream.
        """
        stream = manifest.stream(name)
        return (read_chunk(self._target, c, key) for c in stream.chunks)

    def verify(
        self,
        manifest: Manifest,
        *,
        key: BackupKey | None = None,
        seen: set[str] | None = None,
    ) -> VerifyResult:
        """Check a snapshot without restoring it; with ``key``, read all the data too.

        Never raises for a bad object: every one is named in the result (see
        :meth:`VerifyResult.raise_for_problems`). ``seen`` holds chunk ids
        already found whole in this run (verifying several snapshots that
        share chunks reads each chunk once); good chunks are added to it.
        """
        problems: list[Problem] = []
        # 1. The stored manifest is intact and is this manifest.
        name = manifest.object_name
        try:
            stored = _parse_manifest(self._target.get(name), name)
        except NotFound:
            problems.append(Problem(name, ProblemKind.MISSING, "the manifest object is missing"))
        except IntegrityViolation as exc:
            problems.append(Problem(name, ProblemKind.CORRUPT, exc.detail))
        else:
            if stored != manifest:
                problems.append(
                    Problem(name, ProblemKind.CORRUPT, "the stored manifest is another snapshot")
                )
        # 2. The Merkle root recomputes from the chunk records.
        frontier, _ = Frontier().extend(leaf_hash(leaf) for leaf in manifest.leaves())
        if frontier.root().hex() != manifest.root:
            problems.append(
                Problem(name, ProblemKind.CORRUPT, "the Merkle root does not recompute")
            )
        if key is not None and key.key_id != manifest.key_id:
            problems.append(
                Problem(name, ProblemKind.UNDECRYPTABLE, "the snapshot was sealed by another key")
            )
        # 3. Every chunk object is there, whole; 4. with a key, it opens to its id.
        checked = stored_bytes = 0
        for record in manifest.chunks():
            if seen is not None and record.id in seen:
                continue
            checked += 1
            problem, size = check_chunk(self._target, record, key)
            stored_bytes += size
            if problem is not None:
                problems.append(problem)
            elif seen is not None:
                seen.add(record.id)
        return VerifyResult(
            snapshot_id=manifest.snapshot_id,
            read_data=key is not None,
            chunks_checked=checked,
            bytes_checked=stored_bytes,
            problems=tuple(problems),
        )

    def _refuse_while_pruning(self) -> None:
        """Raise Conflict if a prune holds the repository lock."""
        if self._target.exists(PRUNE_LOCK):
            raise Conflict(
                f"a prune is running on this repository ({PRUNE_LOCK} exists); back up when "
                "it ends, or remove a stale lock with `strongroom backup prune --force-unlock`",
                object=PRUNE_LOCK,
            )

    def _index(self, key: BackupKey) -> dict[str, ChunkRecord]:
        """Chunk records of every snapshot sealed by ``key``, by chunk id."""
        index: dict[str, ChunkRecord] = {}
        for name in self._target.list("snapshots/"):
            try:
                manifest = self.get_snapshot(_snapshot_id(name))
            except IntegrityViolation:
                # A damaged old snapshot must not stop a new backup. Its
                # chunks are then unindexed, so they are checked before reuse.
                continue
            if manifest.key_id == key.key_id:
                index.update((c.id, c) for c in manifest.chunks())
        return index

    def _stored_chunk_ids(self) -> set[str]:
        """The ids of every chunk object on the target (one listing)."""
        ids = set()
        for name in self._target.list("chunks/"):
            match = _CHUNK_NAME.fullmatch(name)
            if match:
                ids.add(match.group(2))
        return ids


def _parse_manifest(raw: bytes, name: str) -> Manifest:
    try:
        manifest = Manifest.from_bytes(raw)
    except IntegrityViolation as exc:
        raise IntegrityViolation(f"{name}: {exc.detail}", object=name) from exc
    if manifest.object_name != name:
        raise IntegrityViolation(f"{name} holds snapshot {manifest.snapshot_id}", object=name)
    return manifest


def _snapshot_id(name: str) -> str:
    match = _SNAPSHOT_NAME.fullmatch(name)
    if match is None:
        raise IntegrityViolation(f"unexpected object {name} among the snapshots", object=name)
    return match.group(1)


def _total_size(streams: Mapping[str, BinaryIO]) -> int:
    """Bytes left in all streams if every one is seekable, else -1."""
    total = 0
    for stream in streams.values():
        try:
            if not stream.seekable():
                return -1
            here = stream.tell()
            total += stream.seek(0, 2) - here
            stream.seek(here)
        except (OSError, ValueError):
            return -1
    return total


def _load_json(raw: bytes, name: str) -> dict[str, Any]:
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise IntegrityViolation(f"{name} is not JSON", object=name) from exc
    if not isinstance(obj, dict):
        raise IntegrityViolation(f"{name} is not a JSON object", object=name)
    return obj


def _kek_version(wrapped: bytes) -> int | None:
    try:
        return BackupKey.wrapped_kek_version(wrapped)
    except DecryptionFailed:
        return None


def _is_str_map(value: object) -> TypeGuard[Mapping[str, str]]:
    return isinstance(value, Mapping) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )
