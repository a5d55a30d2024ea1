"""Repository: init/open, snapshots that dedup, verify with and without the key, crash safety."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zstandard

from strongroom.backup import (
    ChunkRecord,
    ChunkSizes,
    LocalTarget,
    Manifest,
    ProblemKind,
    Repository,
    StreamRecord,
    Target,
)
from strongroom.crypto import KEK, BackupKey
from strongroom.errors import (
    Conflict,
    DecryptionFailed,
    IntegrityViolation,
    InvalidInput,
    KeyUnavailable,
    NotFound,
    StorageUnavailable,
)

SMALL = ChunkSizes.around(64 * 1024)
T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z


class Vault:
    """What a test needs: a target, a repository on it, its key and KEK."""

    def __init__(self, root: Path) -> None:
        self.target = LocalTarget(root)
        self.kek = KEK.generate(version=3)
        self.key = BackupKey.generate()
        self.repo = Repository.init(
            self.target,
            key=self.key,
            wrapped_key=self.key.wrap_with(self.kek),
            key_material={"sealed_kek": "opaque-base64", "kek_version": "3"},
            chunk_sizes=SMALL,
        )

    def write(self, streams: dict[str, bytes], **kwargs: Any) -> Manifest:
        files = {name: io.BytesIO(data) for name, data in streams.items()}
        kwargs.setdefault("meta", {"ledger_size": 1})
        return self.repo.write_snapshot(files, key=self.key, **kwargs)

    def read(self, manifest: Manifest, name: str) -> bytes:
        return b"".join(self.repo.read_stream(manifest, name, key=self.key))

    def path(self, name: str) -> Path:
        return self.target.root / name

    def flip(self, name: str, position: int = -1) -> None:
        raw = bytearray(self.path(name).read_bytes())
        raw[position] ^= 0x01
        self.path(name).write_bytes(bytes(raw))


@pytest.fixture
def make_vault(tmp_path: Path) -> Callable[[], Vault]:
    """Factory: each call sets up a fresh repository in its own folder."""
    counter = iter(range(1000))
    return lambda: Vault(tmp_path / f"repo{next(counter)}")


def _data(n: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(n)


class FailingTarget:
    """Wraps a target; every put after the first ``puts`` raises, as a crash would."""

    def __init__(self, inner: Target, *, puts: int) -> None:
        self.inner = inner
        self.left = puts
        self.done: list[str] = []
        # Uploads run in worker threads: count under a lock, or two could
        # both take the last allowed put.
        self._lock = threading.Lock()

    def put(self, name: str, data: bytes, *, overwrite: bool = False) -> None:
        with self._lock:
            if self.left <= 0:
                raise StorageUnavailable("simulated crash")
            self.left -= 1
        self.inner.put(name, data, overwrite=overwrite)
        self.done.append(name)

    def get(self, name: str) -> bytes:
        return self.inner.get(name)

    def exists(self, name: str) -> bool:
        return self.inner.exists(name)

    def list(self, prefix: str) -> list[str]:
        return self.inner.list(prefix)

    def delete(self, name: str) -> None:
        self.inner.delete(name)


class TestInitAndOpen:
    def test_layout(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        config = json.loads(v.path("config").read_bytes())
        assert config["format"] == "strongroom-backup/v1"
        assert config["id"] == v.repo.repo_id
        assert config["chunker"]["avg_size"] == 64 * 1024
        assert v.target.list("") == ["config", f"keys/{v.key.key_id}"]
        stored = json.loads(v.path(f"keys/{v.key.key_id}").read_bytes())
        assert stored["kek_version"] == 3
        assert BackupKey.unwrap_with(v.kek, base64.b64decode(stored["wrapped_key"])) == v.key

    def test_open_reads_config_and_keys(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        repo = Repository.open(v.target)
        assert repo.repo_id == v.repo.repo_id
        assert repo.chunk_sizes == SMALL
        (entry,) = repo.keys()
        assert entry.key_id == v.key.key_id
        assert entry.kek_version == 3
        assert dict(entry.key_material) == {"sealed_kek": "opaque-base64", "kek_version": "3"}
        assert BackupKey.unwrap_with(v.kek, entry.wrapped_key) == v.key

    def test_init_twice_is_a_conflict(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        with pytest.raises(Conflict):
            Repository.init(
                v.target, key=v.key, wrapped_key=v.key.wrap_with(v.kek), key_material={}
            )

    def test_open_without_repository(self, tmp_path: Path) -> None:
        with pytest.raises(NotFound):
            Repository.open(LocalTarget(tmp_path))

    @pytest.mark.parametrize(
        "config",
        [
            b"not json",
            b"[]",
            b'{"format":"strongroom-backup/v9"}',
            b'{"format":"strongroom-backup/v1","id":"x"}',
        ],
    )
    def test_open_damaged_config(self, tmp_path: Path, config: bytes) -> None:
        LocalTarget(tmp_path).put("config", config)
        with pytest.raises(IntegrityViolation):
            Repository.open(LocalTarget(tmp_path))

    def test_bad_chunk_sizes_in_config(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        config = json.loads(v.path("config").read_bytes())
        config["chunker"]["min_size"] = 10
        v.target.put("config", json.dumps(config).encode(), overwrite=True)
        with pytest.raises(IntegrityViolation, match="chunk sizes"):
            Repository.open(v.target)

    def test_wrapped_key_and_material_checked(self, tmp_path: Path) -> None:
        key = BackupKey.generate()
        with pytest.raises(InvalidInput):
            Repository.init(LocalTarget(tmp_path), key=key, wrapped_key=b"junk", key_material={})
        with pytest.raises(TypeError):
            Repository.init(
                LocalTarget(tmp_path),
                key=key,
                wrapped_key=key.wrap_with(KEK.generate(version=1)),
                key_material={"n": 1},  # type: ignore[dict-item]
            )
        assert LocalTarget(tmp_path).list("") == []

    def test_damaged_key_entry(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        v.target.put(f"keys/{v.key.key_id}", b'{"format":"x"}', overwrite=True)
        with pytest.raises(IntegrityViolation, match="keys/"):
            v.repo.keys()

    def test_put_key_after_kek_rotation(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        new_kek = KEK.generate(version=4)
        v.repo.put_key(key=v.key, wrapped_key=v.key.wrap_with(new_kek), key_material={})
        (entry,) = v.repo.keys()
        assert entry.kek_version == 4
        assert BackupKey.unwrap_with(new_kek, entry.wrapped_key) == v.key


class TestWriteAndRead:
    def test_round_trip(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        streams = {"db": _data(3 << 20), "ledger": b"entries" * 100, "empty": b""}
        m = v.write(streams, meta={"ledger_size": 700, "note": "checkpoint"}, time_ns=T0)
        assert m.created == "2026-01-01T00:00:00.000000Z"
        assert dict(m.meta) == {"ledger_size": 700, "note": "checkpoint"}
        assert m.key_id == v.key.key_id
        for name, data in streams.items():
            assert v.read(m, name) == data
            assert m.stream(name).size == len(data)
        assert m.stats is not None
        assert m.stats.bytes_read == sum(map(len, streams.values()))
        assert m.stats.chunks_total == m.stats.chunks_new == len(list(m.chunks()))
        assert m.stats.bytes_stored_new == sum(c.stored_size for c in m.chunks())
        assert v.repo.list_snapshots() == [m]
        assert v.repo.get_snapshot(m.snapshot_id) == m

    def test_chunks_are_compressed_and_sealed(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        m = v.write({"db": b"A" * 100_000})
        (record,) = m.chunks()
        stored = v.target.get(record.object_name)
        assert stored[:5] == b"SRbk\x01"
        assert b"AAAA" not in stored
        assert len(stored) < 1000
        plain = zstandard.ZstdDecompressor().decompress(v.key.open(stored, chunk_id=record.id))
        assert plain == b"A" * 100_000

    def test_unknown_stream_or_snapshot(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        m = v.write({"db": b"x"})
        with pytest.raises(NotFound):
            v.repo.read_stream(m, "nope", key=v.key)
        with pytest.raises(NotFound):
            v.repo.get_snapshot("00" * 32)
        with pytest.raises(NotFound):
            v.repo.get_snapshot("../config")

    def test_key_must_be_stored_in_the_repository(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        with pytest.raises(KeyUnavailable):
            v.repo.write_snapshot({"db": io.BytesIO(b"x")}, key=BackupKey.generate(), meta={})
        assert v.target.list("chunks/") == []

    def test_input_checked_before_any_upload(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        with pytest.raises(ValueError):
            v.write({"db": _data(1 << 20), "bad\nname": b"x"})
        with pytest.raises(TypeError):
            v.write({"db": _data(1 << 20)}, meta={"x": object()})
        assert v.target.list("chunks/") == []

    def test_progress(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        calls: list[tuple[int, int]] = []
        v.write({"a": _data(1 << 20), "b": _data(1 << 19, 2)}, progress=lambda *a: calls.append(a))
        assert [done for done, _ in calls] == sorted(done for done, _ in calls)
        assert calls[-1] == (3 << 19, 3 << 19)
        assert len(calls) > 4

    def test_progress_total_unknown_for_pipes(self, make_vault: Callable[[], Vault]) -> None:
        class Pipe(io.BytesIO):
            def seekable(self) -> bool:
                return False

        v = make_vault()
        calls: list[tuple[int, int]] = []
        v.repo.write_snapshot(
            {"p": Pipe(b"data")}, key=v.key, meta={}, progress=lambda *a: calls.append(a)
        )
        assert calls == [(4, -1)]

    def test_same_chunks_whatever_the_worker_count(self, make_vault: Callable[[], Vault]) -> None:
        data = {"db": _data(2 << 20), "copy": _data(2 << 20)}
        one, many = make_vault(), make_vault()
        many.key = one.key
        many.repo.put_key(key=one.key, wrapped_key=one.key.wrap_with(one.kek), key_material={})
        a, b = one.write(data, workers=1), many.write(data, workers=8)
        assert [[c.id for c in s.chunks] for s in a.streams] == [
            [c.id for c in s.chunks] for s in b.streams
        ]
        assert a.stats is not None and b.stats is not None
        assert a.stats.chunks_new == b.stats.chunks_new == len(a.stream("db").chunks)
        assert many.read(b, "copy") == data["copy"]

    def test_workers_validated(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        with pytest.raises(ValueError):
            v.write({"db": b"x"}, workers=0)


class TestDedup:
    def test_second_snapshot_of_nearly_identical_data(
        self, make_vault: Callable[[], Vault]
    ) -> None:
        v = make_vault()
        data = _data(8 << 20)
        first = v.write({"db": data})
        assert first.stats is not None
        assert first.stats.chunks_new == first.stats.chunks_total > 60
        edited = bytearray(data)
        edited[3_000_000:3_000_100] = _data(100, 9)  # an update in place
        edited[6_000_000:6_000_000] = b"new row" * 20  # an insertion
        second = v.write({"db": bytes(edited)})
        assert second.stats is not None
        assert second.stats.chunks_total >= 60
        # Only the chunks around the two edits are new.
        assert 1 <= second.stats.chunks_new <= 4
        assert second.stats.bytes_stored_new < len(data) // 20
        assert v.read(second, "db") == bytes(edited)
        assert v.read(first, "db") == data
        objects = v.target.list("chunks/")
        assert len(objects) == first.stats.chunks_new + second.stats.chunks_new

    def test_unchanged_data_uploads_nothing(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        v.write({"db": _data(1 << 20)})
        again = v.write({"db": _data(1 << 20)})
        assert again.stats is not None
        assert again.stats.chunks_new == again.stats.bytes_stored_new == 0
        assert len(v.repo.list_snapshots()) == 2

    def test_repeats_within_one_snapshot_are_stored_once(
        self, make_vault: Callable[[], Vault]
    ) -> None:
        v = make_vault()
        block = _data(1 << 20)
        m = v.write({"a": block, "b": block, "c": block})
        assert m.stats is not None
        assert m.stats.chunks_total == 3 * len(m.stream("a").chunks)
        assert m.stats.chunks_new == len(m.stream("a").chunks)
        assert len(v.target.list("chunks/")) == m.stats.chunks_new

    def test_a_deleted_chunk_is_uploaded_again(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        first = v.write({"db": _data(1 << 20)})
        lost = next(first.chunks())
        v.target.delete(lost.object_name)
        second = v.write({"db": _data(1 << 20)})
        assert second.stats is not None
        assert second.stats.chunks_new == 1
        assert v.repo.verify(second).ok
        assert not v.repo.verify(first).ok  # its record holds the old object's hash


class TestVerify:
    def test_clean_repository(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        m = v.write({"db": _data(1 << 20), "ledger": b"x" * 1000})
        keyless = v.repo.verify(m)
        assert keyless.ok
        assert not keyless.read_data
        assert keyless.chunks_checked == len(list(m.chunks()))
        assert keyless.bytes_checked == sum(c.stored_size for c in m.chunks())
        keyless.raise_for_problems()
        full = v.repo.verify(m, key=v.key)
        assert full.ok
        assert full.read_data

    def test_shared_chunks_are_checked_once_per_run(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        first = v.write({"db": _data(1 << 20), "extra": b"a" * 100})
        second = v.write({"db": _data(1 << 20), "extra": b"b" * 100})
        seen: set[str] = set()
        assert v.repo.verify(first, key=v.key, seen=seen).ok
        again = v.repo.verify(second, key=v.key, seen=seen)
        # Only the chunk the first snapshot did not have is read again.
        assert again.ok and again.chunks_checked == 1
        # A damaged shared chunk is never marked good, so each run names it.
        victim = next(iter(first.chunks()))
        v.flip(victim.object_name)
        seen = set()
        assert not v.repo.verify(first, seen=seen).ok
        assert victim.object_name in {
            p.object_name for p in v.repo.verify(second, seen=seen).problems
        }

    def test_any_flipped_chunk_byte_is_named(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        m = v.write({"db": _data(1 << 20)})
        chunks = list(m.chunks())
        assert len(chunks) > 4
        for record in chunks:
            for position in (0, 5, 17, record.stored_size // 2, -1):
                original = v.path(record.object_name).read_bytes()
                v.flip(record.object_name, position)
                result = v.repo.verify(m)
                assert [(p.object_name, p.kind) for p in result.problems] == [
                    (record.object_name, ProblemKind.CORRUPT)
                ]
                v.path(record.object_name).write_bytes(original)
        assert v.repo.verify(m).ok

    def test_flipped_manifest_byte_is_named(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        m = v.write({"db": _data(1 << 20)})
        size = v.path(m.object_name).stat().st_size
        for position in range(0, size, max(1, size // 40)):
            original = v.path(m.object_name).read_bytes()
            v.flip(m.object_name, position)
            result = v.repo.verify(m)
            assert [(p.object_name, p.kind) for p in result.problems] == [
                (m.object_name, ProblemKind.CORRUPT)
            ]
            with pytest.raises(IntegrityViolation, match=m.object_name):
                v.repo.list_snapshots()
            v.path(m.object_name).write_bytes(original)
        assert v.repo.verify(m).ok

    def test_missing_chunk_is_named(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        m = v.write({"db": _data(1 << 20)})
        gone = list(m.chunks())[2]
        v.target.delete(gone.object_name)
        result = v.repo.verify(m)
        assert [(p.object_name, p.kind) for p in result.problems] == [
            (gone.object_name, ProblemKind.MISSING)
        ]
        with pytest.raises(IntegrityViolation, match=gone.object_name) as info:
            result.raise_for_problems()
        assert info.value.extra["problems"][0]["kind"] == "missing"
        with pytest.raises(IntegrityViolation, match="missing"):
            v.read(m, "db")

    def test_missing_manifest_is_named(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        m = v.write({"db": b"x"})
        v.target.delete(m.object_name)
        (problem,) = v.repo.verify(m).problems
        assert (problem.object_name, problem.kind) == (m.object_name, ProblemKind.MISSING)

    def test_truncated_chunk_is_corrupt(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        m = v.write({"db": b"x" * 5000})
        (record,) = m.chunks()
        v.path(record.object_name).write_bytes(v.path(record.object_name).read_bytes()[:-1])
        (problem,) = v.repo.verify(m).problems
        assert problem.kind is ProblemKind.CORRUPT
        assert "size" in problem.detail
        with pytest.raises(IntegrityViolation, match=record.object_name):
            v.read(m, "db")

    def test_wrong_key_is_undecryptable_on_read_data(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        m = v.write({"db": _data(1 << 20)})
        assert v.repo.verify(m).ok  # the keyless check cannot tell
        result = v.repo.verify(m, key=BackupKey.generate())
        kinds = {p.object_name: p.kind for p in result.problems}
        assert kinds[m.object_name] is ProblemKind.UNDECRYPTABLE
        for record in m.chunks():
            assert kinds[record.object_name] is ProblemKind.UNDECRYPTABLE
        with pytest.raises(DecryptionFailed):
            b"".join(v.repo.read_stream(m, "db", key=BackupKey.generate()))

    def test_consistent_but_wrong_chunk_needs_read_data(
        self, make_vault: Callable[[], Vault]
    ) -> None:
        # Someone with the key seals other bytes under a chunk's id and
        # rewrites the manifest to match: only re-deriving the id catches it.
        v = make_vault()
        m = v.write({"db": b"real data" * 100})
        (record,) = m.chunks()
        fake = zstandard.ZstdCompressor().compress(b"fake data" * 100)
        blob = v.key.seal(fake, chunk_id=record.id)
        v.target.put(record.object_name, blob, overwrite=True)
        forged_record = ChunkRecord(
            id=record.id,
            stored_sha256=hashlib.sha256(blob).hexdigest(),
            size=record.size,
            stored_size=len(blob),
        )
        forged = Manifest.build(
            created=m.created,
            key_id=m.key_id,
            meta=m.meta,
            streams=[StreamRecord("db", record.size, (forged_record,))],
        )
        v.target.put(forged.object_name, forged.to_bytes())
        assert v.repo.verify(forged).ok
        (problem,) = v.repo.verify(forged, key=v.key).problems
        assert problem.kind is ProblemKind.CORRUPT
        assert "chunk id" in problem.detail
        with pytest.raises(IntegrityViolation, match="chunk id"):
            v.read(forged, "db")


class TestCrashSafety:
    @pytest.mark.parametrize("workers", [1, 4])
    def test_failure_mid_write_leaves_no_snapshot(
        self, make_vault: Callable[[], Vault], workers: int
    ) -> None:
        v = make_vault()
        before = v.write({"db": _data(1 << 20, 5)})
        data = _data(4 << 20)
        failing = FailingTarget(v.target, puts=5)
        repo = Repository.open(failing)
        with pytest.raises(StorageUnavailable, match="simulated crash"):
            repo.write_snapshot({"db": io.BytesIO(data)}, key=v.key, meta={}, workers=workers)
        uploaded = [n for n in failing.done if n.startswith("chunks/")]
        assert len(uploaded) == 5
        # No manifest was written: only the earlier snapshot is listed.
        assert v.repo.list_snapshots() == [before]
        assert v.repo.verify(before, key=v.key).ok
        # A retry succeeds and reuses what the failed attempt uploaded.
        after = v.write({"db": data})
        assert after.stats is not None
        assert after.stats.chunks_new == after.stats.chunks_total - 5
        assert v.repo.verify(after, key=v.key).ok
        assert v.read(after, "db") == data
        assert v.repo.list_snapshots() == sorted([before, after], key=lambda m: m.created)

    def test_failure_writing_the_manifest(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        data = _data(1 << 20)

        class ManifestFails(FailingTarget):
            def put(self, name: str, data: bytes, *, overwrite: bool = False) -> None:
                if name.startswith("snapshots/"):
                    raise StorageUnavailable("simulated crash")
                super().put(name, data, overwrite=overwrite)

        repo = Repository.open(ManifestFails(v.target, puts=1000))
        with pytest.raises(StorageUnavailable):
            repo.write_snapshot({"db": io.BytesIO(data)}, key=v.key, meta={})
        assert v.repo.list_snapshots() == []
        retry = v.write({"db": data})
        assert retry.stats is not None
        assert retry.stats.chunks_new == 0
        assert v.repo.verify(retry, key=v.key).ok

    def test_damaged_leftover_chunk_is_replaced(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        data = _data(1 << 20)
        failing = FailingTarget(v.target, puts=3)
        with pytest.raises(StorageUnavailable):
            Repository.open(failing).write_snapshot(
                {"db": io.BytesIO(data)}, key=v.key, meta={}, workers=1
            )
        leftover = next(n for n in failing.done if n.startswith("chunks/"))
        v.flip(leftover, 30)
        retry = v.write({"db": data})
        assert retry.stats is not None
        assert retry.stats.chunks_new == retry.stats.chunks_total - 2
        assert v.repo.verify(retry, key=v.key).ok

    def test_damaged_old_manifest_does_not_block_a_backup(
        self, make_vault: Callable[[], Vault]
    ) -> None:
        v = make_vault()
        old = v.write({"db": _data(1 << 20)})
        v.flip(old.object_name, 10)
        new = v.write({"db": _data(1 << 20)})
        assert new.stats is not None
        # The old snapshot's chunks were unindexed, so each was checked and reused.
        assert new.stats.chunks_new == 0
        assert v.repo.verify(new, key=v.key).ok
