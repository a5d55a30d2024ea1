"""Point-in-time restore: any ledger index between two snapshots gives exactly the state then."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from strongroom.backup import LocalTarget
from strongroom.backup.restore import RestorePoint, restore_database
from strongroom.backup.vault_snapshot import backup_database, root_from_shares
from strongroom.config import Settings
from strongroom.errors import NotFound
from strongroom.ledger.entry import Event, parse_entry
from strongroom.storage import Database
from strongroom.storage import schema as s
from strongroom.storage.audit import AuditRepository
from strongroom.storage.journal import JOURNALED, position
from strongroom.vault import Vault


def _vault(data_dir: Path, url: str | None) -> tuple[Vault, list[str], str]:
    vault = Vault(Settings(data_dir=data_dir, database_url=url))  # type: ignore[arg-type]
    vault.open()
    init = vault.initialize(shares=3, threshold=2)
    for share in init.shares[:2]:
        vault.submit_share(share)
    return vault, init.shares, init.root_token


def _state(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every state table's rows, minus the encryption counters (a batched, hi-lo upper bound)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with db.read() as conn:
        for name in JOURNALED:
            table = s.metadata.tables[name]
            cols = [c for c in table.columns if c.name != "encryptions_reserved"]
            rows = conn.execute(select(*cols).order_by(*table.primary_key.columns)).all()
            out[name] = [tuple(r) for r in rows]
    return out


def _last_index(vault: Vault) -> int:
    return vault.audit.size() - 1


@pytest.fixture
def history(
    db_url: str, tmp_path: Path
) -> tuple[LocalTarget, list[str], str, dict[int, Any], dict[int, float], list[Any]]:
    """A vault with two snapshots and, between them, every kind of change, recorded per index."""
    vault, shares, token = _vault(tmp_path / "src", db_url)
    root = vault.tokens.authenticate(token)
    target = LocalTarget(tmp_path / "repo")
    states: dict[int, Any] = {}
    times: dict[int, float] = {}
    snaps = []
    try:
        for i in range(40):
            vault.kv.put(root, "secret", f"app/{i:02d}", {"n": i, "pad": "p" * 100})
        snaps.append(backup_database(vault.db, target, keyring=vault.seal.keyring()))

        def step(fn: Any, event: Event | None = None) -> None:
            # KV operations audit themselves; the others are audited by the
            # HTTP layer, so run them in an operation scope the way it does.
            if event is None:
                fn()
            else:
                with vault.audit.operation(event, principal=root, resource="sys"):
                    fn()
            idx = _last_index(vault)
            states[idx] = _state(vault.db)
            times[idx] = time.time()
            time.sleep(0.01)

        step(lambda: vault.kv.put(root, "secret", "app/00", {"n": "second version"}))
        step(lambda: vault.kv.put(root, "secret", "new/one", {"fresh": True}))
        step(lambda: vault.kv.delete(root, "secret", "app/01"))
        # Written and taken away between the snapshots: the journal holds an
        # insert without its ciphertext, and the value in the later row.
        step(lambda: vault.kv.put(root, "secret", "seg/a", {"short": "lived"}))
        step(lambda: vault.kv.destroy(root, "secret", "seg/a", versions=[1]))
        step(lambda: vault.kv.put(root, "secret", "seg/b", {"gone": "soon"}))
        step(lambda: vault.kv.delete_metadata(root, "secret", "seg/b"))
        # SQLite may hand seg/b's row id to the next path: same key, new row.
        step(lambda: vault.kv.put(root, "secret", "seg/c", {"same": "key?"}))
        # Destroyed only after the last snapshot: its ciphertext comes from it.
        step(lambda: vault.kv.put(root, "secret", "seg/d", {"kept": "until later"}))
        step(lambda: vault.kv.destroy(root, "secret", "app/02", versions=[1]))
        step(lambda: vault.kv.delete_metadata(root, "secret", "app/03"))
        step(
            lambda: vault.admin.put_policy(
                root, "reader", '{"rules": [{"path": "secret/app/*", "capabilities": ["read"]}]}'
            ),
            Event.SYS_POLICY_WRITE,
        )
        step(lambda: vault.tokens.create(root, policies=["reader"]), Event.AUTH_TOKEN_CREATE)
        step(lambda: vault.keys.rotate(root), Event.SYS_KEYS_ROTATE)
        step(lambda: vault.kv.put(root, "secret", "app/04", {"after": "rotation"}))
        step(lambda: vault.keys.rewrap_all(root), Event.SYS_KEYS_REWRAP)
        step(lambda: vault.kv.put(root, "secret", "app/05", {"last": "write"}))
        snaps.append(backup_database(vault.db, target, keyring=vault.seal.keyring()))
        # Changes after the last snapshot are not restorable yet.
        vault.kv.put(root, "secret", "app/06", {"not": "backed up"})
        vault.kv.destroy(root, "secret", "seg/d", versions=[1])
    finally:
        vault.close()
    return target, shares, token, states, times, snaps


def _restore(target: LocalTarget, shares: list[str], url: str, point: RestorePoint) -> Any:
    return restore_database(target, point, root=root_from_shares(shares[:2]), database_url=url)


def test_every_index_between_snapshots_restores_exactly(
    history: Any, tmp_path: Path, db_url: str, request: pytest.FixtureRequest
) -> None:
    target, shares, _token, states, _times, snaps = history
    for n, (index, expected) in enumerate(sorted(states.items())):
        if db_url.startswith("sqlite"):
            url = f"sqlite:///{tmp_path / f'r{n}' / 'strongroom.db'}"
        else:
            url = request.getfixturevalue("pg_server")()
        result = _restore(target, shares, url, RestorePoint(at_index=index))
        assert result.at_index == index
        # The base is the older snapshot, or the newer one when it is exactly that point.
        last = index == snaps[-1].meta["ledger_size"] - 1
        assert result.snapshot_id == snaps[1 if last else 0].snapshot_id
        assert (result.replayed == 0) == last
        # The log is never rolled back: it comes whole from the newest snapshot.
        assert result.ledger_size == snaps[-1].meta["ledger_size"]
        db = Database.from_url(url)
        try:
            assert _state(db) == expected, f"state differs at index {index}"
        finally:
            db.engine.dispose()


def test_restored_point_opens_and_reads_as_it_was(history: Any, tmp_path: Path) -> None:
    target, shares, token, states, times, snaps = history
    # The moment right after "delete app/01": app/00 has its second version,
    # app/01 is deleted, app/02 is still intact.
    index = sorted(states)[2]
    url = f"sqlite:///{tmp_path / 'pit' / 'strongroom.db'}"
    result = _restore(target, shares, url, RestorePoint(at_time=times[index]))
    assert result.at_index == index
    vault = Vault(Settings(data_dir=tmp_path / "pit"))
    vault.open()
    try:
        for share in shares[1:3]:
            vault.submit_share(share)
        root = vault.tokens.authenticate(token)
        assert vault.kv.get(root, "secret", "app/00").data == {"n": "second version"}
        assert vault.kv.get(root, "secret", "app/02").data == {"n": 2, "pad": "p" * 100}
        assert vault.kv.get(root, "secret", "new/one").data == {"fresh": True}
        with pytest.raises(NotFound):
            vault.kv.get(root, "secret", "app/01")
        # The restored vault writes on: its log continues after the newest
        # snapshot's, and a new backup starts a new history in the repository.
        before = vault.audit.size()
        vault.kv.put(root, "secret", "after/restore", {"ok": 1})
        assert vault.audit.size() > before >= snaps[-1].meta["ledger_size"]
        third = backup_database(vault.db, target, keyring=vault.seal.keyring())
        assert third.meta["timeline"] != snaps[-1].meta["timeline"]
        assert third.meta["journal_first"] > snaps[-1].meta["journal_last"]
    finally:
        vault.close()


def test_points_outside_the_chain_are_refused(history: Any, tmp_path: Path) -> None:
    target, shares, _token, _states, _times, snaps = history
    url = f"sqlite:///{tmp_path / 'x' / 'strongroom.db'}"
    with pytest.raises(NotFound, match="after the newest snapshot"):
        _restore(target, shares, url, RestorePoint(at_index=snaps[-1].meta["ledger_size"]))
    with pytest.raises(NotFound, match="no snapshot at or before"):
        _restore(target, shares, url, RestorePoint(at_index=2))
    with pytest.raises(NotFound, match="no entry at or before"):
        _restore(target, shares, url, RestorePoint(at_time=1.0))


def test_a_journal_trimmed_by_another_repository_is_a_named_gap(tmp_path: Path) -> None:
    vault, shares, token = _vault(tmp_path / "src", None)
    root = vault.tokens.authenticate(token)
    main, other = LocalTarget(tmp_path / "main"), LocalTarget(tmp_path / "other")
    try:
        backup_database(vault.db, main, keyring=vault.seal.keyring())
        vault.kv.put(root, "secret", "a", {"v": 1})
        index = _last_index(vault)
        # A backup elsewhere takes (and trims) the journal segment.
        backup_database(vault.db, other, keyring=vault.seal.keyring())
        vault.kv.put(root, "secret", "b", {"v": 2})
        backup_database(vault.db, main, keyring=vault.seal.keyring())
    finally:
        vault.close()
    url = f"sqlite:///{tmp_path / 'x' / 'strongroom.db'}"
    with pytest.raises(NotFound, match="was trimmed"):
        _restore(main, shares, url, RestorePoint(at_index=index))
    # The other repository still covers it.
    assert _restore(other, shares, url, RestorePoint(at_index=index)).at_index == index


def test_the_restore_is_logged_at_the_next_unseal(history: Any, tmp_path: Path) -> None:
    target, shares, token, states, _times, snaps = history
    index = sorted(states)[4]
    url = f"sqlite:///{tmp_path / 'logged' / 'strongroom.db'}"
    _restore(target, shares, url, RestorePoint(at_index=index))
    vault = Vault(Settings(data_dir=tmp_path / "logged"))
    vault.open()
    try:
        for share in shares[:2]:
            vault.submit_share(share)
        size = snaps[-1].meta["ledger_size"]
        assert vault.audit.size() == size + 1
        with vault.db.read() as conn:
            entry = AuditRepository(conn).entries(size, size + 1)[0]
        logged = parse_entry(entry.entry)
        assert logged["event"] == "sys:backup:restore"
        assert logged["details"]["at_index"] == index
        assert logged["details"]["snapshot"] == snaps[0].snapshot_id
        # Once only: sealing and unsealing again appends nothing.
        vault.seal_now(vault.tokens.authenticate(token))
        for share in shares[:2]:
            vault.submit_share(share)
        assert vault.audit.size() == size + 1
    finally:
        vault.close()


def test_a_backup_trims_the_journal_it_stored(make_vault: Any, tmp_path: Path) -> None:
    vault = make_vault()
    root = vault.tokens.authenticate("strongroom_test_root_token")
    for i in range(5):
        vault.kv.put(root, "secret", f"k{i}", {"i": i})
    with vault.db.read() as conn:
        before = position(conn)
    assert before.last > before.first
    snap = backup_database(vault.db, LocalTarget(tmp_path / "repo"), keyring=vault.seal.keyring())
    assert snap.meta["journal_first"] == before.first
    assert snap.meta["journal_last"] >= before.last
    with vault.db.read() as conn:
        after = position(conn)
        left = conn.execute(select(func.count()).select_from(s.change_journal)).scalar_one()
    assert after.first == snap.meta["journal_last"] + 1
    assert left == 0
    # Reads are audited but change nothing: they journal nothing.
    for i in range(5):
        vault.kv.get(root, "secret", f"k{i}")
    with vault.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(s.change_journal)).scalar_one() == 0
