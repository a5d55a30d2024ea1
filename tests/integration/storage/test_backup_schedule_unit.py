"""The backup scheduler's decisions: skip while sealed, record failures, never count a bad run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from strongroom.backup import LocalTarget, Repository
from strongroom.backup.manifest import Manifest
from strongroom.backup.schedule import BackupScheduler
from strongroom.errors import StorageUnavailable
from strongroom.vault import Vault


class _Unwritable(LocalTarget):
    def put(self, name: str, data: bytes, *, overwrite: bool = False) -> None:
        raise StorageUnavailable("no space left on the backup disk")


def test_skips_while_sealed_and_records_failures(
    make_vault: Callable[..., Vault], tmp_path: Path
) -> None:
    vault = make_vault()
    seen: list[Manifest] = []
    sealed = BackupScheduler(
        vault.db,
        LocalTarget(tmp_path / "a"),
        interval_s=60,
        keyring=lambda: None,
        on_snapshot=seen.append,
    )
    assert sealed.run_once() is None and sealed.status.runs == 0
    broken = BackupScheduler(
        vault.db,
        _Unwritable(tmp_path / "b"),
        interval_s=60,
        keyring=vault.seal.keyring,
        on_snapshot=seen.append,
    )
    assert broken.run_once() is None
    assert broken.status.last_success is None
    assert "no space left" in (broken.status.last_error or "")
    good = BackupScheduler(
        vault.db,
        LocalTarget(tmp_path / "c"),
        interval_s=60,
        keyring=vault.seal.keyring,
        on_snapshot=seen.append,
    )
    manifest = good.run_once()
    assert manifest is not None and seen == [manifest]
    assert good.status.last_snapshot == manifest.snapshot_id
    assert Repository.open(LocalTarget(tmp_path / "c")).verify(manifest).ok
