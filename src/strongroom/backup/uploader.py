"""Uploading the chunks of one snapshot: each at most once, several at a time.

The caller cuts and names chunks in order; :meth:`ChunkUploader.add` returns
a future of each chunk's :class:`~strongroom.backup.ChunkRecord` at once:

* a chunk the repository already records, and that is still stored, is
  done immediately and costs nothing;
* a chunk already being uploaded by this snapshot shares that upload;
* a stored chunk that no manifest records (left by an interrupted write) is
  downloaded and checked (it must open to its id), then reused; a damaged
  one is replaced;
* anything else is compressed (zstd level 3), sealed and put.

The work runs in a small thread pool. Compression, hashing, AES-GCM and
file or network I/O all release the GIL, so this overlaps them with the
chunking in the caller's thread (and, for an object store, hides latency).
At most ``2 * workers`` chunks are in flight, which bounds memory to a few
maximum-size chunks and surfaces the first failure promptly.

Example::

    >>> import tempfile
    >>> from strongroom.backup import LocalTarget
    >>> from strongroom.crypto import BackupKey
    >>> key = BackupKey.generate()
    >>> folder = tempfile.TemporaryDirectory()
    >>> with ChunkUploader(LocalTarget(folder.name), key, index={}, stored=set()) as up:
    ...     first, again = up.add(b"page"), up.add(b"page")
    ...     first.result() == again.result(), up.stats().chunks_new
    (True, 1)
    >>> folder.cleanup()
"""

from __future__ import annotations

import collections
import hashlib
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Final

import zstandard

from strongroom.backup.manifest import ChunkRecord, SnapshotStats
from strongroom.backup.target import Target
from strongroom.backup.verification import open_chunk
from strongroom.crypto import BackupKey
from strongroom.errors import Conflict, NotFound

__all__ = ["DEFAULT_WORKERS", "ZSTD_LEVEL", "ChunkUploader"]

ZSTD_LEVEL: Final = 3
"""zstd compression level of chunks: zstd's default, fast with a fair ratio."""

DEFAULT_WORKERS: Final = 4
"""Chunks compressed, sealed and uploaded at the same time."""


class ChunkUploader:
    """Stores the chunks of one snapshot write; a context manager that owns a thread pool.

    ``index`` maps chunk ids to the records of chunks that existing
    manifests list; ``stored`` is the set of chunk ids with an object on the
    target. Both are updated as chunks are stored. Leaving the ``with``
    block waits for running uploads and cancels queued ones.
    """

    def __init__(
        self,
        target: Target,
        key: BackupKey,
        *,
        index: dict[str, ChunkRecord],
        stored: set[str],
        workers: int = DEFAULT_WORKERS,
    ) -> None:
        if not isinstance(workers, int):
            raise TypeError("workers must be an int")
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self._target = target
        self._key = key
        self._index = index
        self._stored = stored
        self._lock = threading.Lock()
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sr-backup")
        self._pending: dict[str, Future[ChunkRecord]] = {}
        self._window: collections.deque[Future[ChunkRecord]] = collections.deque()
        self._max_in_flight = 2 * workers
        self._bytes_read = 0
        self._total = 0
        self._new = 0
        self._stored_new = 0

    def __enter__(self) -> ChunkUploader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Wait for running uploads and cancel queued ones; idempotent."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def stats(self) -> SnapshotStats:
        """What this uploader has done so far (uploads still in flight not counted)."""
        with self._lock:
            return SnapshotStats(self._bytes_read, self._total, self._new, self._stored_new)

    def add(self, plaintext: bytes) -> Future[ChunkRecord]:
        """Queue ``plaintext`` to be named and, unless already stored, stored; return its record.

        Naming (a keyed HMAC over the chunk) runs in the workers too, so the
        caller's thread only cuts chunks. May block while the in-flight
        window is full; re-raises there the first failure of an earlier one.
        """
        with self._lock:
            self._bytes_read += len(plaintext)
            self._total += 1
        future = self._pool.submit(self._name_and_store, plaintext)
        self._window.append(future)
        while len(self._window) > self._max_in_flight:
            oldest = self._window.popleft()
            oldest.result()
        return future

    def _name_and_store(self, plaintext: bytes) -> ChunkRecord:
        """Name one chunk and store it unless it is stored or being stored (in a worker)."""
        cid = self._key.chunk_id(plaintext)
        waiting: Future[ChunkRecord] | None = None
        mine: Future[ChunkRecord] | None = None
        with self._lock:
            known = self._index.get(cid) if cid in self._stored else None
            if known is None:
                waiting = self._pending.get(cid)
                if waiting is None:
                    # First to see this id: this worker stores it; a repeat
                    # of it waits for this one, which is already running.
                    mine = self._pending[cid] = Future()
        if known is not None:
            return known
        if waiting is not None:
            return waiting.result()
        assert mine is not None
        try:
            record = self._store(cid, plaintext)
        except BaseException as exc:
            mine.set_exception(exc)
            raise
        mine.set_result(record)
        return record

    def _store(self, cid: str, plaintext: bytes) -> ChunkRecord:
        """Store one chunk (in a worker thread); see the module docstring."""
        name = f"chunks/{cid[:2]}/{cid}"
        with self._lock:
            present = cid in self._stored
        overwrite = False
        if present:
            # Stored but in no manifest: left by an interrupted write.
            adopted = self._adopt(cid, name, len(plaintext))
            if adopted is not None:
                return adopted
            # Damaged, so no snapshot can use it: replacing it is safe.
            overwrite = True
        blob = self._key.seal(self._compressor().compress(plaintext), chunk_id=cid)
        try:
            self._target.put(name, blob, overwrite=overwrite)
        except Conflict:
            # Another writer stored it since the listing. Never replace it: a
            # snapshot being written may already record its hash.
            adopted = self._adopt(cid, name, len(plaintext))
            if adopted is None:
                raise
            return adopted
        record = ChunkRecord(
            id=cid,
            stored_sha256=hashlib.sha256(blob).hexdigest(),
            size=len(plaintext),
            stored_size=len(blob),
        )
        with self._lock:
            self._new += 1
            self._stored_new += len(blob)
            self._index[cid] = record
            self._stored.add(cid)
        return record

    def _adopt(self, cid: str, name: str, size: int) -> ChunkRecord | None:
        """Return a record for the stored object ``name`` if it opens to ``cid``, else None."""
        try:
            blob = self._target.get(name)
        except NotFound:
            return None
        record = ChunkRecord(
            id=cid, stored_sha256=hashlib.sha256(blob).hexdigest(), size=size, stored_size=len(blob)
        )
        problem, _ = open_chunk(blob, record, self._key)
        if problem is not None:
            return None
        with self._lock:
            self._index[cid] = record
            self._stored.add(cid)
        return record

    def _compressor(self) -> zstandard.ZstdCompressor:
        """This thread's zstd context: contexts are costly to build and not thread-safe."""
        zstd: zstandard.ZstdCompressor | None = getattr(self._local, "zstd", None)
        if zstd is None:
            zstd = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
            self._local.zstd = zstd
        return zstd
