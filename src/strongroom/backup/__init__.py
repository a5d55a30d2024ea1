"""Encrypted, deduplicated backups: chunking, targets, repositories and manifests.

A snapshot is a set of named byte streams (the database, the ledger). Each is
cut into content-defined chunks (:func:`chunk`), each chunk is named by a
keyed HMAC, compressed with zstd, sealed with AES-256-GCM under a
:class:`~strongroom.crypto.BackupKey` and stored once on a :class:`Target`;
a canonical JSON :class:`Manifest` with an RFC 9162 Merkle root lists them.
:meth:`Repository.verify` checks a snapshot without the key, or reads all the
data with it.

Example::

    >>> import io, tempfile
    >>> from strongroom.backup import Repository, open_target
    >>> from strongroom.crypto import KEK, BackupKey
    >>> kek, key = KEK.generate(version=1), BackupKey.generate()
    >>> folder = tempfile.TemporaryDirectory()
    >>> repo = Repository.init(open_target(folder.name), key=key,
    ...                        wrapped_key=key.wrap_with(kek), key_material={})
    >>> first = repo.write_snapshot({"db": io.BytesIO(b"x" * 100)}, key=key, meta={"n": 1})
    >>> again = repo.write_snapshot({"db": io.BytesIO(b"x" * 100)}, key=key, meta={"n": 2})
    >>> again.stats.chunks_new, len(repo.list_snapshots())
    (0, 2)
    >>> folder.cleanup()
"""

from strongroom.backup.chunker import DEFAULT_AVG_SIZE, ChunkSizes, chunk
from strongroom.backup.manifest import (
    MANIFEST_FORMAT,
    ChunkRecord,
    Manifest,
    SnapshotStats,
    StreamRecord,
)
from strongroom.backup.repository import KEY_FORMAT, REPOSITORY_FORMAT, KeyEntry, Repository
from strongroom.backup.s3_target import S3Target
from strongroom.backup.target import LocalTarget, Target, open_target, validate_name
from strongroom.backup.uploader import DEFAULT_WORKERS, ZSTD_LEVEL
from strongroom.backup.verification import Problem, ProblemKind, VerifyResult

__all__ = [
    "DEFAULT_AVG_SIZE",
    "DEFAULT_WORKERS",
    "KEY_FORMAT",
    "MANIFEST_FORMAT",
    "REPOSITORY_FORMAT",
    "ZSTD_LEVEL",
    "ChunkRecord",
    "ChunkSizes",
    "KeyEntry",
    "LocalTarget",
    "Manifest",
    "Problem",
    "ProblemKind",
    "Repository",
    "S3Target",
    "SnapshotStats",
    "StreamRecord",
    "Target",
    "VerifyResult",
    "chunk",
    "open_target",
    "validate_name",
]
