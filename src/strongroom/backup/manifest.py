"""Snapshot manifests: what a snapshot holds, in canonical JSON, with a Merkle root.

A manifest lists, per stream, the ordered chunks that rebuild it: each with
its chunk id (keyed HMAC of the plaintext), its plaintext size and the size
and SHA-256 of the stored object (sealed, compressed bytes). The stored hash
lets anyone check the repository without the backup key.

The file is the RFC 8785 canonical JSON of::

    {"format": "strongroom-backup-manifest/v1", "id": ..., "created": ...,
     "key_id": ..., "meta": {...}, "root": ...,
     "streams": [{"name": ..., "size": ..., "chunks": [{"id": ..., "size": ...,
                  "stored_sha256": ..., "stored_size": ...}, ...]}, ...]}

* ``id``, the snapshot id, is the hex SHA-256 of the canonical manifest
  without ``id``. It commits to everything else, including ``meta``.
* ``root`` is the RFC 9162 Merkle tree head (:mod:`strongroom.ledger.merkle`)
  over one leaf per chunk, in stream order. A leaf is the canonical JSON of
  the chunk record plus its ``stream`` name and byte ``offset`` in that
  stream, so that the root alone pins which bytes go where: without them,
  moving a chunk from the end of one stream to the start of the next would
  keep the root. Once the root is in the audit log, an inclusion proof shows
  that a chunk belongs to a logged snapshot.

Parsing (:meth:`Manifest.from_bytes`) checks the bytes are canonical, every
field is well formed, each stream's size is the sum of its chunks, and the
root and id recompute; any failure is an
:class:`~strongroom.errors.IntegrityViolation` that names the problem.

Example::

    >>> chunk = ChunkRecord(id="ab" * 32, stored_sha256="cd" * 32, size=5, stored_size=40)
    >>> m = Manifest.build(created="2026-01-02T03:04:05.000000Z", key_id="00" * 16,
    ...                    meta={"ledger_size": 7},
    ...                    streams=[StreamRecord(name="db", size=5, chunks=(chunk,))])
    >>> Manifest.from_bytes(m.to_bytes()) == m
    True
    >>> len(m.snapshot_id), m.stream("db").size
    (64, 5)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import types
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

import rfc8785

from strongroom.errors import IntegrityViolation, NotFound
from strongroom.ledger.entry import canonical
from strongroom.ledger.merkle import Frontier, leaf_hash

__all__ = ["MANIFEST_FORMAT", "ChunkRecord", "Manifest", "SnapshotStats", "StreamRecord"]

MANIFEST_FORMAT: Final = "strongroom-backup-manifest/v1"
"""The ``format`` field of every manifest this version writes and reads."""

_HEX64: Final = re.compile(r"[0-9a-f]{64}")
_HEX32: Final = re.compile(r"[0-9a-f]{32}")
_TIME: Final = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_MAX_STREAM_NAME: Final = 255
_BODY_KEYS: Final = frozenset({"format", "created", "key_id", "meta", "root", "streams"})
_STREAM_KEYS: Final = frozenset({"name", "size", "chunks"})
_CHUNK_KEYS: Final = frozenset({"id", "stored_sha256", "size", "stored_size"})


def _check_count(value: object, what: str) -> int:
    # bool is an int subclass; True is not a size.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} must be a non-negative integer")
    return value


def _str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be str")
    return value


def _check_hex(value: object, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError(f"{what} must be {pattern.pattern} (lowercase hex)")
    return value


@dataclasses.dataclass(frozen=True, slots=True)
class ChunkRecord:
    """One chunk of a stream: its id, plaintext size, and stored size and SHA-256."""

    id: str
    stored_sha256: str
    size: int
    stored_size: int

    def __post_init__(self) -> None:
        _check_hex(self.id, _HEX64, "chunk id")
        _check_hex(self.stored_sha256, _HEX64, "chunk stored_sha256")
        _check_count(self.size, "chunk size")
        _check_count(self.stored_size, "chunk stored_size")

    @property
    def object_name(self) -> str:
        """The name of the chunk's object on a target: ``chunks/<id[:2]>/<id>``."""
        return f"chunks/{self.id[:2]}/{self.id}"

    def to_json(self) -> dict[str, Any]:
        """The record as a JSON object (as it appears in the manifest)."""
        return {
            "id": self.id,
            "stored_sha256": self.stored_sha256,
            "size": self.size,
            "stored_size": self.stored_size,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class StreamRecord:
    """One named stream of a snapshot: its size and the chunks that rebuild it, in order."""

    name: str
    size: int
    chunks: tuple[ChunkRecord, ...]

    def __post_init__(self) -> None:
        self.check_name(self.name)
        _check_count(self.size, f"stream {self.name!r} size")
        if not isinstance(self.chunks, tuple):
            raise TypeError("StreamRecord.chunks must be a tuple of ChunkRecord")
        for c in self.chunks:
            if not isinstance(c, ChunkRecord):
                raise TypeError("StreamRecord.chunks must be a tuple of ChunkRecord")
        total = sum(c.size for c in self.chunks)
        if total != self.size:
            raise ValueError(f"stream {self.name!r} size {self.size} != sum of its chunks {total}")

    @staticmethod
    def check_name(name: object) -> str:
        """Return ``name`` if it is a valid stream name (1..255 characters, no controls).

        Raises ``TypeError`` or ``ValueError`` otherwise.
        """
        if not isinstance(name, str):
            raise TypeError("a stream name must be str")
        if not 0 < len(name) <= _MAX_STREAM_NAME:
            raise ValueError("a stream name must be 1..255 characters")
        if _CONTROL.search(name):
            raise ValueError(f"stream name {name!r} has control characters")
        return name

    def to_json(self) -> dict[str, Any]:
        """The stream as a JSON object (as it appears in the manifest)."""
        return {
            "name": self.name,
            "size": self.size,
            "chunks": [c.to_json() for c in self.chunks],
        }


@dataclasses.dataclass(frozen=True, slots=True)
class SnapshotStats:
    """What one :meth:`~strongroom.backup.Repository.write_snapshot` call did.

    Not part of the manifest: a retry of the same data writes the same
    manifest but different stats.
    """

    bytes_read: int
    """Plaintext bytes read from the streams."""
    chunks_total: int
    """Chunks in the snapshot, counting repeats."""
    chunks_new: int
    """Chunk objects uploaded by this call (the rest were already stored)."""
    bytes_stored_new: int
    """Stored (compressed, sealed) bytes uploaded by this call."""


@dataclasses.dataclass(frozen=True, slots=True)
class Manifest:
    """A parsed, self-consistent snapshot manifest (see the module docstring).

    The constructor recomputes ``root`` and ``snapshot_id`` and raises
    ``ValueError`` if they do not match, so a ``Manifest`` object is always
    consistent. Use :meth:`build` to compute them, :meth:`from_bytes` to parse.
    """

    snapshot_id: str
    created: str
    key_id: str
    meta: Mapping[str, Any]
    streams: tuple[StreamRecord, ...]
    root: str
    stats: SnapshotStats | None = dataclasses.field(default=None, compare=False)
    """Set only on the manifest returned by ``write_snapshot``."""

    def __post_init__(self) -> None:
        if not _TIME.fullmatch(_str(self.created, "created")):
            raise ValueError("created must be RFC 3339 UTC with microseconds")
        _check_hex(self.key_id, _HEX32, "key_id")
        _check_hex(self.root, _HEX64, "root")
        _check_hex(self.snapshot_id, _HEX64, "snapshot id")
        if not isinstance(self.meta, Mapping):
            raise TypeError("meta must be a mapping")
        if not all(isinstance(k, str) for k in self.meta):
            raise TypeError("meta keys must be str")
        if not isinstance(self.streams, tuple):
            raise TypeError("Manifest.streams must be a tuple of StreamRecord")
        for s in self.streams:
            if not isinstance(s, StreamRecord):
                raise TypeError("Manifest.streams must be a tuple of StreamRecord")
        # Own the top level of meta, so the id computed below stays true.
        object.__setattr__(self, "meta", types.MappingProxyType(dict(self.meta)))
        names = [s.name for s in self.streams]
        if len(set(names)) != len(names):
            raise ValueError("stream names must be unique")
        root = _root(self.streams)
        if root != self.root:
            raise ValueError(f"Merkle root does not recompute: recorded {self.root}, got {root}")
        got = _snapshot_id(self._body())
        if got != self.snapshot_id:
            raise ValueError(f"snapshot id does not recompute: recorded {self.snapshot_id}")

    @classmethod
    def build(
        cls,
        *,
        created: str,
        key_id: str,
        meta: Mapping[str, Any],
        streams: Iterable[StreamRecord],
        stats: SnapshotStats | None = None,
    ) -> Manifest:
        """Return the manifest of ``streams``, computing its Merkle root and snapshot id.

        ``meta`` must be JSON (``TypeError`` otherwise); it is copied.
        """
        streams = tuple(streams)
        meta = _json_copy(meta)
        root = _root(streams)
        body = _body(created=created, key_id=key_id, meta=meta, streams=streams, root=root)
        return cls(
            snapshot_id=_snapshot_id(body),
            created=created,
            key_id=key_id,
            meta=meta,
            streams=streams,
            root=root,
            stats=stats,
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> Manifest:
        """Parse a stored manifest; raise IntegrityViolation naming any problem."""
        try:
            obj = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise IntegrityViolation("the manifest is not JSON") from exc
        if not isinstance(obj, dict):
            raise IntegrityViolation("the manifest is not a JSON object")
        try:
            again = canonical(obj)
        except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
            raise IntegrityViolation("the manifest cannot be canonicalised") from exc
        # RFC 8785 §3: one object has one serialisation, so anything else
        # (whitespace, key order, number spelling) was not written by us.
        if again != raw:
            raise IntegrityViolation("the manifest is not in canonical form (RFC 8785)")
        if obj.get("format") != MANIFEST_FORMAT:
            raise IntegrityViolation(f"unsupported manifest format {obj.get('format')!r}")
        if set(obj) != _BODY_KEYS | {"id"}:
            raise IntegrityViolation(f"manifest fields are {sorted(obj)}, not the v1 set")
        try:
            streams = tuple(_parse_stream(i, s) for i, s in enumerate(_list(obj["streams"])))
            return cls(
                snapshot_id=obj["id"],
                created=obj["created"],
                key_id=obj["key_id"],
                meta=_check_meta(obj["meta"]),
                streams=streams,
                root=obj["root"],
            )
        except (TypeError, ValueError) as exc:
            raise IntegrityViolation(f"manifest: {exc}") from exc

    def __hash__(self) -> int:
        return hash(self.snapshot_id)

    def to_bytes(self) -> bytes:
        """The canonical bytes stored as ``snapshots/<snapshot id>``."""
        body = self._body()
        body["id"] = self.snapshot_id
        return canonical(body)

    @property
    def object_name(self) -> str:
        """The name of the manifest's object on a target: ``snapshots/<snapshot id>``."""
        return f"snapshots/{self.snapshot_id}"

    @property
    def size(self) -> int:
        """Total plaintext bytes of all streams."""
        return sum(s.size for s in self.streams)

    def stream(self, name: str) -> StreamRecord:
        """Return the stream called ``name``; NotFound if the snapshot has none."""
        for s in self.streams:
            if s.name == name:
                return s
        raise NotFound(f"snapshot {self.snapshot_id} has no stream {name!r}")

    def chunks(self) -> Iterator[ChunkRecord]:
        """Yield each distinct chunk record once, in first-use order."""
        seen: set[str] = set()
        for s in self.streams:
            for c in s.chunks:
                if c.id not in seen:
                    seen.add(c.id)
                    yield c

    def leaves(self) -> list[bytes]:
        """The Merkle leaf data, one per chunk in stream order (see the module docstring)."""
        return list(_leaves(self.streams))

    def _body(self) -> dict[str, Any]:
        return _body(
            created=self.created,
            key_id=self.key_id,
            meta=self.meta,
            streams=self.streams,
            root=self.root,
        )


def _body(
    *,
    created: str,
    key_id: str,
    meta: Mapping[str, Any],
    streams: tuple[StreamRecord, ...],
    root: str,
) -> dict[str, Any]:
    return {
        "format": MANIFEST_FORMAT,
        "created": created,
        "key_id": key_id,
        "meta": dict(meta),
        "streams": [s.to_json() for s in streams],
        "root": root,
    }


def _snapshot_id(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(body)).hexdigest()


def _leaves(streams: Iterable[StreamRecord]) -> Iterator[bytes]:
    for s in streams:
        offset = 0
        for c in s.chunks:
            record = c.to_json()
            record["stream"] = s.name
            record["offset"] = offset
            yield canonical(record)
            offset += c.size


def _root(streams: Iterable[StreamRecord]) -> str:
    frontier, _ = Frontier().extend(leaf_hash(leaf) for leaf in _leaves(streams))
    return frontier.root().hex()


def _json_copy(meta: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``meta`` through canonical JSON, so the manifest owns its meta."""
    if not isinstance(meta, Mapping):
        raise TypeError("meta must be a mapping")
    try:
        copy = json.loads(canonical(meta))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise TypeError("meta must be JSON: str keys, and str/int/float/bool/None values") from exc
    return _check_meta(copy)


def _check_meta(meta: object) -> dict[str, Any]:
    if not isinstance(meta, dict):
        raise TypeError("meta must be a JSON object")
    return meta


def _list(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError("streams must be a list")
    return value


def _parse_stream(index: int, obj: object) -> StreamRecord:
    if not isinstance(obj, dict) or set(obj) != _STREAM_KEYS:
        raise ValueError(f"stream {index} must have exactly the fields {sorted(_STREAM_KEYS)}")
    chunks = obj["chunks"]
    if not isinstance(chunks, list):
        raise TypeError(f"stream {index} chunks must be a list")
    records = []
    for n, c in enumerate(chunks):
        if not isinstance(c, dict) or set(c) != _CHUNK_KEYS:
            raise ValueError(
                f"stream {index} chunk {n} must have exactly the fields {sorted(_CHUNK_KEYS)}"
            )
        try:
            records.append(ChunkRecord(**c))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"stream {index} chunk {n}: {exc}") from exc
    return StreamRecord(name=obj["name"], size=obj["size"], chunks=tuple(records))
