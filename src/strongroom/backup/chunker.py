"""Content-defined chunking of a byte stream with FastCDC.

A chunk boundary is chosen by a rolling gear hash over the bytes themselves
(FastCDC, Xia et al., USENIX ATC 2016), not by position. Inserting or
removing bytes early in a stream therefore moves only the boundaries near the
edit: every later chunk is cut at the same content and keeps its id, which is
what lets a second snapshot of a slightly changed database store only a few
new chunks.

The cutting is done by the compiled ``fastcdc`` library. It works on a buffer
in memory, so :func:`chunk` feeds it the stream in blocks of at least twice
the maximum chunk size and carries the last (possibly cut short) chunk of
each block over into the next. Every other chunk of a block ended at a
content boundary or at the maximum size, with the whole window in view, so
the output is exactly that of chunking the whole stream at once.

Example::

    >>> import io, os
    >>> data = os.urandom(1 << 20)
    >>> pieces = list(chunk(io.BytesIO(data), avg_size=64 * 1024))
    >>> b"".join(pieces) == data
    True
    >>> all(len(p) <= 4 * 64 * 1024 for p in pieces)
    True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import BinaryIO, Final

from fastcdc import fastcdc

__all__ = ["DEFAULT_AVG_SIZE", "NATIVE", "ChunkSizes", "chunk"]

DEFAULT_AVG_SIZE: Final = 1 << 20
"""Default average chunk size, 1 MiB (minimum 256 KiB, maximum 4 MiB)."""

NATIVE: Final[bool] = getattr(fastcdc, "__name__", "") == "fastcdc_cy"
"""Whether ``fastcdc`` loaded its compiled (Cython) cutter.

Without a wheel for the platform it falls back to pure Python, about 250
times slower (4 MB/s against 1 GB/s): correct, but too slow for a database.
Health checks and the CLI can warn on ``False``.
"""

# Limits of the fastcdc library (it checks them with ``assert``, which
# ``python -O`` strips, so they are enforced here instead).
_MIN_MIN: Final = 64
_AVG_MIN: Final = 256
_MAX_MIN: Final = 1024
_MAX_MAX: Final = 1 << 30
# Blocks handed to fastcdc: large enough that the per-call overhead and the
# copy of the carried-over tail are noise.
_BLOCK: Final = 16 << 20


@dataclasses.dataclass(frozen=True, slots=True)
class ChunkSizes:
    """Minimum, average and maximum chunk sizes in bytes, validated.

    The defaults for an average ``a`` are a minimum of ``a // 4`` and a
    maximum of ``4 * a``. Changing any of them changes every boundary, so a
    repository fixes them once (see :mod:`strongroom.backup.repository`).
    """

    min_size: int
    avg_size: int
    max_size: int

    def __post_init__(self) -> None:
        for name in ("min_size", "avg_size", "max_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int")
        if not _MIN_MIN <= self.min_size <= self.avg_size <= self.max_size <= _MAX_MAX:
            raise ValueError("chunk sizes must satisfy 64 <= min <= avg <= max <= 1 GiB")
        if self.avg_size < _AVG_MIN or self.max_size < _MAX_MIN:
            raise ValueError("the average chunk size must be >= 256 and the maximum >= 1024")

    @classmethod
    def around(cls, avg_size: int = DEFAULT_AVG_SIZE) -> ChunkSizes:
        """Return the sizes ``(avg // 4, avg, 4 * avg)``."""
        if isinstance(avg_size, bool) or not isinstance(avg_size, int):
            raise TypeError("avg_size must be an int")
        return cls(min_size=avg_size // 4, avg_size=avg_size, max_size=avg_size * 4)


def chunk(
    stream: BinaryIO,
    *,
    avg_size: int = DEFAULT_AVG_SIZE,
    min_size: int | None = None,
    max_size: int | None = None,
) -> Iterator[bytes]:
    """Yield the content-defined chunks of ``stream`` until it is exhausted.

    ``min_size`` and ``max_size`` default to ``avg_size // 4`` and
    ``4 * avg_size``. Short reads (pipes, sockets) are fine; the chunks
    depend only on the bytes, never on how they were read. An empty stream
    yields nothing.
    """
    sizes = ChunkSizes(
        min_size=avg_size // 4 if min_size is None else min_size,
        avg_size=avg_size,
        max_size=avg_size * 4 if max_size is None else max_size,
    )
    return _chunks(stream, sizes)


def _chunks(stream: BinaryIO, sizes: ChunkSizes) -> Iterator[bytes]:
    """The generator behind :func:`chunk`, started only after the sizes are validated."""
    block = max(_BLOCK, 2 * sizes.max_size)
    # One reusable buffer: the stream is read straight into it, and each
    # chunk is copied out once, as the bytes the caller keeps.
    buf = bytearray(block)
    view = memoryview(buf)
    have = 0
    eof = False
    while not eof:
        while have < block:
            n = _read_into(stream, view[have:])
            if not n:
                eof = True
                break
            have += n
        if not have:
            return
        cuts = [(c.offset, c.length) for c in fastcdc(view[:have], *_args(sizes))]
        # Every chunk but the last ended at a content boundary or at the
        # maximum size; the last may have ended only because the block did,
        # so unless the stream is over it is cut again with more data.
        keep = len(cuts) if eof else len(cuts) - 1
        for offset, length in cuts[:keep]:
            yield bytes(view[offset : offset + length])
        if not eof:
            tail = cuts[-1][0]
            view[: have - tail] = view[tail:have]
            have -= tail


def _read_into(stream: BinaryIO, into: memoryview) -> int:
    """Read up to ``len(into)`` bytes into ``into``; return how many (0 at the end)."""
    readinto = getattr(stream, "readinto", None)
    if readinto is not None:
        n = readinto(into)
        if n is None:
            # A non-blocking stream answers None for "nothing yet"; taking
            # that for the end would silently truncate the backup.
            raise RuntimeError("chunk() needs a blocking stream")
        return int(n)
    data = stream.read(len(into))
    into[: len(data)] = data
    return len(data)


def _args(sizes: ChunkSizes) -> tuple[int, int, int, bool]:
    """Positional arguments of ``fastcdc``: min, avg, max sizes and ``fat=False``."""
    # fat=False: the library returns offsets only, and the bytes are sliced
    # here once, rather than copied by the library and again by the caller.
    return sizes.min_size, sizes.avg_size, sizes.max_size, False
