"""FastCDC chunking: content-defined boundaries, stable under edits, independent of reads."""

from __future__ import annotations

import io
import os
import random

import pytest
from fastcdc import fastcdc
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.backup import DEFAULT_AVG_SIZE, ChunkSizes, chunk
from strongroom.backup import chunker as chunker_module


class ShortReads(io.RawIOBase):
    """A stream that returns at most a few bytes per read, like a pipe."""

    def __init__(self, data: bytes, seed: int) -> None:
        self._data = memoryview(data)
        self._pos = 0
        self._rng = random.Random(seed)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self._rng.randint(1, 700), len(self._data) - self._pos)
        buffer[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


class ReadOnly:
    """A file-like object with ``read`` only (no ``readinto``)."""

    def __init__(self, data: bytes) -> None:
        self._io = io.BytesIO(data)

    def read(self, n: int) -> bytes:
        return self._io.read(min(n, 999))


def _reference(data: bytes, sizes: ChunkSizes) -> list[bytes]:
    """Chunk the whole buffer at once with the library itself."""
    cuts = fastcdc(data, sizes.min_size, sizes.avg_size, sizes.max_size, False)
    return [data[c.offset : c.offset + c.length] for c in cuts]


SMALL = ChunkSizes(min_size=64, avg_size=256, max_size=1024)


class TestChunk:
    def test_compiled_cutter_is_in_use(self) -> None:
        # The pure-Python fallback is ~250x slower; a wheel must exist here.
        assert chunker_module.NATIVE

    def test_round_trip_default_sizes(self) -> None:
        data = os.urandom(9 << 20)
        pieces = list(chunk(io.BytesIO(data)))
        assert b"".join(pieces) == data
        assert all(len(p) <= 4 * DEFAULT_AVG_SIZE for p in pieces)
        assert all(len(p) >= DEFAULT_AVG_SIZE // 4 for p in pieces[:-1])
        assert 3 <= len(pieces) <= 30

    def test_empty_stream_yields_nothing(self) -> None:
        assert list(chunk(io.BytesIO(b""))) == []

    def test_short_stream_is_one_chunk(self) -> None:
        assert list(chunk(io.BytesIO(b"tiny"))) == [b"tiny"]

    def test_matches_the_library_across_block_boundaries(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Small blocks force many carries of the last chunk into the next block.
        monkeypatch.setattr(chunker_module, "_BLOCK", 2048)
        data = os.urandom(200_000)
        got = list(chunk(io.BytesIO(data), avg_size=256, min_size=64, max_size=1024))
        assert got == _reference(data, SMALL)

    @settings(max_examples=60, deadline=None)
    @given(data=st.binary(min_size=0, max_size=20_000), seed=st.integers(0, 2**32))
    def test_independent_of_how_the_stream_is_read(self, data: bytes, seed: int) -> None:
        expected = _reference(data, SMALL) if data else []
        sizes = {"avg_size": 256, "min_size": 64, "max_size": 1024}
        assert list(chunk(io.BytesIO(data), **sizes)) == expected
        assert list(chunk(ShortReads(data, seed), **sizes)) == expected  # type: ignore[arg-type]
        assert list(chunk(ReadOnly(data), **sizes)) == expected  # type: ignore[arg-type]

    def test_insertion_early_leaves_later_chunks_unchanged(self) -> None:
        rng = random.Random(7)
        data = rng.randbytes(8 << 20)
        edited = data[:1000] + b"inserted bytes" * 10 + data[1000:]
        before = list(chunk(io.BytesIO(data), avg_size=64 * 1024))
        after = list(chunk(io.BytesIO(edited), avg_size=64 * 1024))
        assert len(before) > 50
        # Only the chunks around the edit change; every later one is shared.
        assert before[2:] == after[-(len(before) - 2) :]
        assert len(set(after) - set(before)) <= 2

    def test_deletion_in_the_middle_is_local(self) -> None:
        rng = random.Random(8)
        data = rng.randbytes(8 << 20)
        edited = data[: 4 << 20] + data[(4 << 20) + 5000 :]
        before = set(chunk(io.BytesIO(data), avg_size=64 * 1024))
        after = list(chunk(io.BytesIO(edited), avg_size=64 * 1024))
        assert sum(1 for p in after if p not in before) <= 2

    def test_non_blocking_stream_is_refused(self) -> None:
        class NotYet(io.RawIOBase):
            def readable(self) -> bool:
                return True

            def readinto(self, buffer: memoryview) -> None:  # type: ignore[override]
                return None

        with pytest.raises(RuntimeError):
            list(chunk(NotYet()))  # type: ignore[arg-type]


class TestChunkSizes:
    def test_around(self) -> None:
        assert ChunkSizes.around() == ChunkSizes(256 << 10, 1 << 20, 4 << 20)
        assert ChunkSizes.around(4096) == ChunkSizes(1024, 4096, 16384)

    @pytest.mark.parametrize(
        ("lo", "avg", "hi"),
        [(32, 256, 1024), (512, 256, 1024), (64, 2048, 1024), (64, 128, 1024), (64, 256, 512)],
    )
    def test_invalid_sizes(self, lo: int, avg: int, hi: int) -> None:
        with pytest.raises(ValueError):
            ChunkSizes(lo, avg, hi)

    def test_types_checked(self) -> None:
        with pytest.raises(TypeError):
            ChunkSizes(64, True, 1024)
        with pytest.raises(TypeError):
            ChunkSizes.around(1.5)  # type: ignore[arg-type]

    def test_chunk_validates_before_reading(self) -> None:
        with pytest.raises(ValueError):
            chunk(io.BytesIO(b"x"), avg_size=100)
