"""Retention plans, prune, its crash safety and the prune/backup lock protocol."""

from __future__ import annotations

import io
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from strongroom.backup import ChunkSizes, LocalTarget, Manifest, Repository, Target
from strongroom.backup.prune import PruneResult, Retention, plan, prune
from strongroom.backup.repository import BACKUP_LOCK_PREFIX, PRUNE_LOCK
from strongroom.cli.main import app
from strongroom.crypto import KEK, BackupKey
from strongroom.errors import Conflict, InvalidInput, StorageUnavailable

SMALL = ChunkSizes.around(64 * 1024)
DAY = 86_400 * 10**9
T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z


def _data(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def _manifest(created: str, n: int) -> Manifest:
    if "T" not in created:
        created = f"{created}T12:00:00.000000Z"
    return Manifest.build(created=created, key_id="00" * 16, meta={"n": n}, streams=())


class Vault:
    """A repository on some target, its key, and snapshots that share one stream."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.key = BackupKey.generate()
        self.repo = Repository.init(
            target,
            key=self.key,
            wrapped_key=self.key.wrap_with(KEK.generate(version=1)),
            key_material={},
            chunk_sizes=SMALL,
        )
        self.common = _data(300_000, 99)

    def write(self, n: int, **kwargs: Any) -> Manifest:
        """Snapshot ``n``: a unique stream and one shared by every snapshot, one day apart."""
        streams = {"db": io.BytesIO(_data(300_000, n)), "common": io.BytesIO(self.common)}
        kwargs.setdefault("time_ns", T0 + n * DAY)
        return self.repo.write_snapshot(streams, key=self.key, meta={"n": n}, **kwargs)

    def chunk_names(self) -> set[str]:
        return set(self.target.list("chunks/"))

    def assert_whole(self, *, read: bool = False) -> None:
        """Every listed snapshot verifies without the key (and, if ``read``, reads back)."""
        for m in self.repo.list_snapshots():
            assert self.repo.verify(m).ok, m.snapshot_id
            if read:
                n = m.meta["n"]
                assert b"".join(self.repo.read_stream(m, "db", key=self.key)) == _data(300_000, n)
                common = b"".join(self.repo.read_stream(m, "common", key=self.key))
                assert common == self.common


@pytest.fixture
def make_vault(tmp_path: Path) -> Callable[[], Vault]:
    """Factory: a fresh repository on a local folder."""
    counter = iter(range(1000))
    return lambda: Vault(LocalTarget(tmp_path / f"repo{next(counter)}"))


class FailingDeletes:
    """Wraps a target; every delete after the first ``deletes`` raises, as a kill would."""

    def __init__(self, inner: Target, *, deletes: int) -> None:
        self.inner = inner
        self.left = deletes

    def put(self, name: str, data: bytes, *, overwrite: bool = False) -> None:
        self.inner.put(name, data, overwrite=overwrite)

    def get(self, name: str) -> bytes:
        return self.inner.get(name)

    def exists(self, name: str) -> bool:
        return self.inner.exists(name)

    def list(self, prefix: str) -> list[str]:
        return self.inner.list(prefix)

    def delete(self, name: str) -> None:
        if self.left <= 0:
            raise StorageUnavailable("simulated crash")
        self.left -= 1
        self.inner.delete(name)


class BeforeBackupLock(FailingDeletes):
    """Runs ``hook`` just before a backup takes its lock (a prune racing the uploads)."""

    def __init__(self, inner: Target, hook: Callable[[Target], None]) -> None:
        super().__init__(inner, deletes=10**9)
        self.hook = hook

    def put(self, name: str, data: bytes, *, overwrite: bool = False) -> None:
        if name.startswith(BACKUP_LOCK_PREFIX):
            self.hook(self.inner)
        super().put(name, data, overwrite=overwrite)


# (snapshot dates, policy, dates kept). Several snapshots on one date are
# told apart by hour: "2026-01-05T09" is 09:00 that day.
PLANS = [
    (
        ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"],
        Retention(keep_last=2),
        ["2026-01-03", "2026-01-04"],
    ),
    (
        # Newest of each of the last 3 days that have snapshots; 01-03 has none.
        ["2026-01-01", "2026-01-02T08", "2026-01-02T20", "2026-01-04T01", "2026-01-04T23"],
        Retention(keep_daily=3),
        ["2026-01-01", "2026-01-02T20", "2026-01-04T23"],
    ),
    (
        ["2026-01-01", "2026-01-02T08", "2026-01-02T20", "2026-01-04T01", "2026-01-04T23"],
        Retention(keep_daily=2),
        ["2026-01-02T20", "2026-01-04T23"],
    ),
    (
        # ISO weeks: 2025-12-29..2026-01-04 is 2026-W01, Monday 01-05 starts W02.
        ["2025-12-30", "2026-01-03", "2026-01-04", "2026-01-05", "2026-01-11", "2026-01-12"],
        Retention(keep_weekly=3),
        ["2026-01-04", "2026-01-11", "2026-01-12"],
    ),
    (
        ["2026-01-15", "2026-01-31", "2026-02-01", "2026-02-28", "2026-03-01"],
        Retention(keep_monthly=2),
        ["2026-02-28", "2026-03-01"],
    ),
    (
        # Rules overlap: a snapshot kept by any rule is kept once.
        ["2025-11-30", "2026-01-15", "2026-01-31", "2026-02-01", "2026-02-28", "2026-03-01"],
        Retention(keep_last=1, keep_daily=2, keep_monthly=4),
        ["2025-11-30", "2026-01-31", "2026-02-28", "2026-03-01"],
    ),
    (
        ["2026-01-01", "2026-01-02"],
        Retention(keep_last=5, keep_daily=5, keep_weekly=5, keep_monthly=5),
        ["2026-01-01", "2026-01-02"],
    ),
]


def _at(date: str) -> str:
    if "T" in date:
        return f"{date}:00:00.000000Z"
    return f"{date}T12:00:00.000000Z"


class TestPlan:
    @pytest.mark.parametrize(("dates", "policy", "kept"), PLANS)
    def test_table(self, dates: list[str], policy: Retention, kept: list[str]) -> None:
        manifests = [_manifest(_at(d), i) for i, d in enumerate(dates)]
        keep, forget = plan(reversed(manifests), policy)
        assert [m.created for m in keep] == [_at(d) for d in kept]
        assert sorted(keep + forget, key=lambda m: m.created) == manifests
        assert [m.created for m in forget] == sorted(m.created for m in forget)

    def test_same_instant_is_ordered_by_id(self) -> None:
        a, b = _manifest("2026-01-01", 1), _manifest("2026-01-01", 2)
        newest = max(a, b, key=lambda m: m.snapshot_id)
        assert plan([a, b], Retention(keep_last=1))[0] == [newest]
        assert plan([b, a], Retention(keep_daily=1))[0] == [newest]

    def test_empty(self) -> None:
        assert plan([], Retention(keep_last=1)) == ([], [])

    def test_keeping_nothing_is_refused(self) -> None:
        with pytest.raises(InvalidInput, match="must keep something"):
            Retention()
        with pytest.raises(InvalidInput, match="keep_daily must not be negative"):
            Retention(keep_last=1, keep_daily=-1)
        with pytest.raises(TypeError):
            Retention(keep_last=True)


class TestPrune:
    def test_keeps_policy_frees_unshared_chunks(
        self, make_target: Callable[[], Target], tmp_path: Path
    ) -> None:
        v = Vault(make_target())
        snaps = [v.write(n) for n in range(4)]
        shared = {c.object_name for c in snaps[0].stream("common").chunks}
        unique = {n: {c.object_name for c in s.stream("db").chunks} for n, s in enumerate(snaps)}
        before = v.chunk_names()

        dry = prune(v.repo, Retention(keep_last=2), dry_run=True)
        assert dry.dry_run and v.chunk_names() == before
        assert len(v.repo.list_snapshots()) == 4

        result = prune(v.repo, Retention(keep_last=2))
        assert result.kept == (snaps[2].snapshot_id, snaps[3].snapshot_id)
        assert result.forgotten == (snaps[0].snapshot_id, snaps[1].snapshot_id)
        assert (result.chunks_deleted, result.bytes_freed) == (dry.chunks_deleted, dry.bytes_freed)
        gone = unique[0] | unique[1]
        assert result.chunks_deleted == len(gone)
        assert result.bytes_freed == sum(
            c.stored_size for s in snaps[:2] for c in s.stream("db").chunks
        )
        assert v.chunk_names() == before - gone
        assert shared <= v.chunk_names()  # dedup-shared chunks survive
        assert v.repo.list_snapshots() == snaps[2:]
        v.assert_whole(read=True)
        assert v.target.list("locks/") == []

    def test_nothing_to_forget(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        snaps = [v.write(n) for n in range(2)]
        before = v.chunk_names()
        result = prune(v.repo, Retention(keep_daily=7))
        assert result == PruneResult(
            kept=tuple(s.snapshot_id for s in snaps), forgotten=(), chunks_deleted=0, bytes_freed=0
        )
        assert v.chunk_names() == before

    def test_leftover_chunks_are_removed(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        kept = v.write(0)
        leftover = "chunks/ab/" + "ab" * 32
        v.target.put(leftover, b"from an interrupted backup")
        result = prune(v.repo, Retention(keep_last=1))
        assert (result.chunks_deleted, result.bytes_freed) == (1, 26)
        assert not v.target.exists(leftover)
        assert v.repo.verify(kept, key=v.key).ok

    @pytest.mark.parametrize("deletes", [0, 1, 2, 3, 5, 8])
    def test_crash_loses_nothing_kept(self, make_vault: Callable[[], Vault], deletes: int) -> None:
        v = make_vault()
        snaps = [v.write(n) for n in range(4)]
        crashing = Repository.open(FailingDeletes(v.target, deletes=deletes))
        with pytest.raises(StorageUnavailable, match="simulated crash"):
            prune(crashing, Retention(keep_last=1))
        # Whatever is still listed is whole; the lock is stale.
        v.assert_whole()
        assert snaps[3] in v.repo.list_snapshots()
        with pytest.raises(Conflict, match="another prune"):
            prune(v.repo, Retention(keep_last=1))
        prune(v.repo, Retention(keep_last=1), force_unlock=True)
        assert v.repo.list_snapshots() == [snaps[3]]
        assert v.chunk_names() == {c.object_name for c in snaps[3].chunks()}
        v.assert_whole(read=True)
        assert v.target.list("locks/") == []


class TestLocks:
    def test_second_prune_is_refused(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        v.write(0)
        v.target.put(PRUNE_LOCK, json.dumps({"created": "2026-01-01T00:00:00.000000Z"}).encode())
        with pytest.raises(Conflict, match=r"since 2026-01-01T00:00:00\.000000Z") as info:
            prune(v.repo, Retention(keep_last=1))
        assert "--force-unlock" in info.value.detail
        # The lock is someone else's: a refused prune leaves it alone.
        assert v.target.exists(PRUNE_LOCK)

    def test_backup_refused_while_pruning(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        v.target.put(PRUNE_LOCK, b"{}")
        with pytest.raises(Conflict, match="a prune is running"):
            v.write(0)
        assert v.target.list("chunks/") == []
        assert v.target.list(BACKUP_LOCK_PREFIX) == []

    def test_prune_refused_while_backing_up(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        v.write(0)
        v.write(1)
        v.target.put(f"{BACKUP_LOCK_PREFIX}0123", b"{}")
        with pytest.raises(Conflict, match="a backup is running"):
            prune(v.repo, Retention(keep_last=1))
        assert len(v.repo.list_snapshots()) == 2
        assert not v.target.exists(PRUNE_LOCK)
        result = prune(v.repo, Retention(keep_last=1), force_unlock=True)
        assert len(result.forgotten) == 1
        assert v.target.list("locks/") == []

    def test_backup_holds_its_lock_only_while_finishing(
        self, make_vault: Callable[[], Vault]
    ) -> None:
        v = make_vault()
        seen: list[str] = []
        racing = Repository.open(BeforeBackupLock(v.target, lambda t: seen.extend(t.list(""))))
        racing.write_snapshot({"db": io.BytesIO(b"x" * 1000)}, key=v.key, meta={})
        assert not any(n.startswith("locks/") for n in seen)
        assert v.target.list("locks/") == []

    def test_prune_starting_during_upload_stops_the_backup(
        self, make_vault: Callable[[], Vault]
    ) -> None:
        v = make_vault()
        racing = Repository.open(BeforeBackupLock(v.target, lambda t: t.put(PRUNE_LOCK, b"{}")))
        with pytest.raises(Conflict, match="a prune is running"):
            racing.write_snapshot({"db": io.BytesIO(b"x" * 1000)}, key=v.key, meta={})
        assert v.repo.list_snapshots() == []
        assert v.target.list(BACKUP_LOCK_PREFIX) == []

    def test_prune_that_ran_during_upload_stops_the_backup(
        self, make_vault: Callable[[], Vault]
    ) -> None:
        v = make_vault()
        old = v.write(0)

        def prune_everything(target: Target) -> None:
            # A whole prune ran while the backup uploaded: the old snapshot
            # and the chunks the backup reuses from it are gone.
            target.delete(old.object_name)
            for name in target.list("chunks/"):
                target.delete(name)

        racing = Repository.open(BeforeBackupLock(v.target, prune_everything))
        with pytest.raises(Conflict, match="run the backup again"):
            racing.write_snapshot(
                {"db": io.BytesIO(_data(300_000, 0)), "common": io.BytesIO(v.common)},
                key=v.key,
                meta={"n": 0},
                time_ns=T0 + DAY,
            )
        assert v.repo.list_snapshots() == []
        assert v.target.list("locks/") == []
        v.write(1)
        v.assert_whole(read=True)


class TestCLI:
    def test_prune_json(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        snaps = [v.write(n) for n in range(3)]
        assert isinstance(v.target, LocalTarget)
        args = ["backup", "prune", "--target", str(v.target.root), "--keep-last", "1"]
        dry = CliRunner().invoke(app, [*args, "--dry-run", "--format", "json"])
        assert dry.exit_code == 0, dry.output
        assert json.loads(dry.stdout)["dry_run"] is True
        assert len(v.repo.list_snapshots()) == 3
        result = CliRunner().invoke(app, [*args, "--format", "json"])
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        assert out["kept"] == [snaps[2].snapshot_id]
        assert out["forgotten"] == [s.snapshot_id for s in snaps[:2]]
        assert out["chunks_deleted"] > 0 and out["bytes_freed"] > 0
        assert v.repo.list_snapshots() == snaps[2:]

    def test_prune_table_and_refusals(self, make_vault: Callable[[], Vault]) -> None:
        v = make_vault()
        snaps = [v.write(n) for n in range(2)]
        assert isinstance(v.target, LocalTarget)
        target = str(v.target.root)
        table = CliRunner().invoke(
            app, ["backup", "prune", "--target", target, "--keep-daily", "1", "--dry-run"]
        )
        assert table.exit_code == 0, table.output
        assert "forget" in table.stdout and "chunks_deleted" in table.stdout
        nothing = CliRunner().invoke(app, ["backup", "prune", "--target", target])
        assert isinstance(nothing.exception, InvalidInput)
        assert len(v.repo.list_snapshots()) == len(snaps)
