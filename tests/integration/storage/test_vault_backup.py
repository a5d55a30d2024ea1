"""A whole vault backed up while serving, then restored elsewhere with only the shares."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from strongroom.backup import LocalTarget, Repository
from strongroom.backup.restore import RestorePoint, restore_database
from strongroom.backup.vault_snapshot import backup_database, root_from_shares
from strongroom.config import Settings
from strongroom.errors import InvalidInput, PermissionDenied, StrongroomError
from strongroom.ledger.merkle import root_at
from strongroom.observability.metrics import REGISTRY
from strongroom.storage.audit import AuditRepository
from strongroom.vault import Vault


def _shamir_vault(tmp_path: Path, url: str | None = None) -> tuple[Vault, list[str], str]:
    vault = Vault(Settings(data_dir=tmp_path / "src", database_url=url))  # type: ignore[arg-type]
    vault.open()
    init = vault.initialize(shares=3, threshold=2)
    for share in init.shares[:2]:
        vault.submit_share(share)
    return vault, init.shares, init.root_token


@pytest.mark.parametrize(
    "target_backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_backup_while_serving_then_restore_with_shares(
    db_url: str, target_backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    vault, shares, token = _shamir_vault(tmp_path, db_url)
    root = vault.tokens.authenticate(token)
    try:
        for i in range(300):
            vault.kv.put(root, "secret", f"r/{i:04d}", {"v": i, "pad": "x" * 200})
        vault.kv.delete(root, "secret", "r/0001")
        vault.kv.destroy(root, "secret", "r/0002", versions=[1])
        stop = threading.Event()

        def busy() -> None:
            i = 0
            while not stop.is_set():
                vault.kv.put(root, "secret", f"busy/{i % 20}", {"i": i})
                i += 1

        t = threading.Thread(target=busy)
        t.start()
        try:
            target = LocalTarget(tmp_path / "repo")
            first = backup_database(vault.db, target, keyring=vault.seal.keyring())
        finally:
            stop.set()
            t.join()
        # A second backup after changing 1% of the records: unchanged tables
        # are not stored again (dedup at scale is measured by make bench).
        for i in range(3):
            vault.kv.put(root, "secret", f"r/{i + 10:04d}", {"v": -i})
        second = backup_database(vault.db, target, keyring=vault.seal.keyring())
        assert second.stats is not None and first.stats is not None
        assert 0 < second.stats.chunks_new < second.stats.chunks_total
        assert Repository.open(target).verify(second).ok
        expected = {p: vault.kv.get(root, "secret", p).data for p in ("r/0000", "r/0010", "r/0299")}
    finally:
        vault.close()

    # A fresh machine: only the repository and the shares.
    if target_backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'fresh' / 'strongroom.db'}"
    else:
        url = request.getfixturevalue("pg_server")()
    other = Vault(Settings(data_dir=tmp_path / "other"))
    other.open()
    wrong = other.initialize(shares=3, threshold=2).shares
    other.close()
    with pytest.raises(PermissionDenied):
        restore_database(
            target,
            RestorePoint(second.snapshot_id),
            root=root_from_shares(wrong[:2]),
            database_url=url,
        )
    result = restore_database(
        target,
        RestorePoint(second.snapshot_id),
        root=root_from_shares(shares[1:3]),
        database_url=url,
    )
    assert result.ledger_size == second.meta["ledger_size"]

    restored = Vault(Settings(data_dir=tmp_path / "fresh", database_url=url))  # type: ignore[arg-type]
    restored.open()
    try:
        assert restored.status()["sealed"] is True
        for share in shares[:2]:
            restored.submit_share(share)
        r = restored.tokens.authenticate(token)
        for path, data in expected.items():
            assert restored.kv.get(r, "secret", path).data == data
        with restored.db.read() as conn:
            audit = AuditRepository(conn)
            assert root_at(audit, result.ledger_size).hex() != ""
    finally:
        restored.close()


def test_restore_refuses_a_non_empty_database(tmp_path: Path) -> None:
    vault, shares, _ = _shamir_vault(tmp_path)
    try:
        target = LocalTarget(tmp_path / "repo")
        snap = backup_database(vault.db, target, keyring=vault.seal.keyring())
    finally:
        vault.close()
    url = f"sqlite:///{tmp_path / 'src' / 'strongroom.db'}"
    with pytest.raises(InvalidInput):
        restore_database(
            target,
            RestorePoint(snap.snapshot_id),
            root=root_from_shares(shares[:2]),
            database_url=url,
        )


def test_tampered_chunk_is_named_by_keyless_verify(
    tmp_path: Path, make_vault: Callable[..., Vault]
) -> None:
    vault = make_vault()
    root = vault.tokens.authenticate("strongroom_test_root_token")
    vault.kv.put(root, "secret", "a", {"k": "v" * 1000})
    target = LocalTarget(tmp_path / "repo")
    snap = backup_database(vault.db, target, keyring=vault.seal.keyring())
    victim = next(iter(snap.chunks()))
    path = tmp_path / "repo" / victim.object_name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    result = Repository.open(target).verify(snap)
    assert not result.ok
    assert [p.object_name for p in result.problems] == [victim.object_name]


def test_backups_are_counted_in_the_metrics(
    tmp_path: Path, make_vault: Callable[..., Vault]
) -> None:
    vault = make_vault()

    def value(name: str, **labels: str) -> float:
        found = REGISTRY.get_sample_value(name, labels)
        return 0.0 if found is None else found

    ok, failed = (
        value("strongroom_backups_total", outcome="success"),
        value("strongroom_backups_total", outcome="error"),
    )
    backup_database(vault.db, LocalTarget(tmp_path / "repo"), keyring=vault.seal.keyring())
    assert value("strongroom_backups_total", outcome="success") == ok + 1
    assert value("strongroom_backup_last_success_timestamp_seconds") > 0
    # A target that cannot hold a repository (a plain file) fails, and is counted.
    (tmp_path / "not-a-dir").write_bytes(b"x")
    with pytest.raises(StrongroomError):
        backup_database(vault.db, LocalTarget(tmp_path / "not-a-dir"), keyring=vault.seal.keyring())
    assert value("strongroom_backups_total", outcome="error") == failed + 1
