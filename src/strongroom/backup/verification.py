"""Checking chunks and snapshots: the problems found and the result of a verify.

A chunk object is checked in up to two stages, numbered as in
:meth:`Repository.verify <strongroom.backup.Repository.verify>`:

3. Without the key, by anyone: the object exists, and its size and SHA-256
   equal the manifest's ``stored_size`` and ``stored_sha256``.
4. With the key (``--read-data``): it opens (AES-256-GCM with the chunk id in
   the AAD), decompresses to exactly ``size`` bytes, and the keyed HMAC of
   the plaintext is the chunk id again.

Each failure becomes a :class:`Problem` naming the object and whether it is
missing, corrupt or undecryptable, so an operator knows what to repair.

Example::

    >>> result = VerifyResult(snapshot_id="ab" * 32, read_data=False, chunks_checked=1,
    ...                       bytes_checked=40, problems=(Problem("chunks/cd/cdcd",
    ...                       ProblemKind.MISSING, "the chunk object is missing"),))
    >>> result.ok
    False
    >>> result.raise_for_problems()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    strongroom.errors.IntegrityViolation: snapshot abab... first chunks/cd/cdcd (missing)
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib

import zstandard

from strongroom.backup.manifest import ChunkRecord
from strongroom.backup.target import Target
from strongroom.crypto import BackupKey
from strongroom.errors import DecryptionFailed, IntegrityViolation, NotFound

__all__ = ["Problem", "ProblemKind", "VerifyResult", "check_chunk", "open_chunk", "read_chunk"]


class ProblemKind(enum.StrEnum):
    """Why an object failed verification."""

    MISSING = "missing"
    CORRUPT = "corrupt"
    UNDECRYPTABLE = "undecryptable"


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    """One bad object: its name on the target, the kind of failure, and a sentence."""

    object_name: str
    kind: ProblemKind
    detail: str


@dataclasses.dataclass(frozen=True, slots=True)
class VerifyResult:
    """The outcome of a verify: what was checked and every problem found."""

    snapshot_id: str
    read_data: bool
    """Whether chunks were decrypted and their ids re-derived (a key was given)."""
    chunks_checked: int
    bytes_checked: int
    """Stored bytes downloaded and hashed."""
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def raise_for_problems(self) -> None:
        """Raise IntegrityViolation naming the bad objects, if there are any."""
        if self.problems:
            raise IntegrityViolation(
                f"snapshot {self.snapshot_id} failed verification: "
                f"{len(self.problems)} bad object(s), first {self.problems[0].object_name} "
                f"({self.problems[0].kind})",
                problems=[
                    {"object": p.object_name, "kind": str(p.kind), "detail": p.detail}
                    for p in self.problems[:100]
                ],
            )


def check_chunk(
    target: Target, record: ChunkRecord, key: BackupKey | None
) -> tuple[Problem | None, int]:
    """Check one chunk object (stage 3, and 4 with ``key``).

    Returns the problem found (``None`` if none) and the stored bytes read.
    """
    name = record.object_name
    try:
        blob = target.get(name)
    except NotFound:
        return Problem(name, ProblemKind.MISSING, "the chunk object is missing"), 0
    if len(blob) != record.stored_size:
        detail = f"stored size is {len(blob)}, the manifest says {record.stored_size}"
        return Problem(name, ProblemKind.CORRUPT, detail), len(blob)
    if hashlib.sha256(blob).hexdigest() != record.stored_sha256:
        detail = "SHA-256 of the stored object differs from the manifest"
        return Problem(name, ProblemKind.CORRUPT, detail), len(blob)
    if key is None:
        return None, len(blob)
    problem, _ = open_chunk(blob, record, key)
    return problem, len(blob)


def open_chunk(blob: bytes, record: ChunkRecord, key: BackupKey) -> tuple[Problem | None, bytes]:
    """Open, decompress and re-name ``blob`` (stage 4).

    Returns ``(None, plaintext)``, or the problem and ``b""``. The stored
    hash is not checked here: the caller has done it, or is adopting an
    object that no manifest records yet.
    """
    name = record.object_name
    try:
        compressed = key.open(blob, chunk_id=record.id)
    except DecryptionFailed:
        return Problem(name, ProblemKind.UNDECRYPTABLE, "the chunk does not decrypt"), b""
    # The frame header states the plaintext size; checking it first means a
    # (sealed, so our own) frame can never make us allocate more than the
    # manifest promised.
    if zstandard.frame_content_size(compressed) != record.size:
        detail = "the compressed frame does not hold the recorded size"
        return Problem(name, ProblemKind.CORRUPT, detail), b""
    try:
        plain = zstandard.ZstdDecompressor().decompress(compressed, allow_extra_data=False)
    except zstandard.ZstdError as exc:
        return Problem(name, ProblemKind.CORRUPT, f"the chunk does not decompress: {exc}"), b""
    # AES-GCM already authenticated the bytes under this chunk id; re-deriving
    # the id from the plaintext also catches a chunk sealed under a wrong id.
    if len(plain) != record.size or key.chunk_id(plain) != record.id:
        detail = "the plaintext does not match its chunk id"
        return Problem(name, ProblemKind.CORRUPT, detail), b""
    return None, plain


def read_chunk(target: Target, record: ChunkRecord, key: BackupKey) -> bytes:
    """Return the checked plaintext of one chunk, or raise.

    A missing or damaged object is IntegrityViolation naming it; one that
    will not open (a wrong key) is DecryptionFailed, naming it too.
    """
    name = record.object_name
    try:
        blob = target.get(name)
    except NotFound:
        raise IntegrityViolation(f"chunk object {name} is missing", object=name) from None
    if len(blob) != record.stored_size or hashlib.sha256(blob).hexdigest() != record.stored_sha256:
        raise IntegrityViolation(f"chunk object {name} is corrupt", object=name)
    problem, plain = open_chunk(blob, record, key)
    if problem is None:
        return plain
    if problem.kind is ProblemKind.UNDECRYPTABLE:
        raise DecryptionFailed(f"chunk object {name} does not decrypt with this key")
    raise IntegrityViolation(f"chunk object {name}: {problem.detail}", object=name)
