"""Snapshots of an older schema revision restore: every change since only added columns or tables.

ADDED_COLUMNS / ADDED_TABLES in strongroom.storage.snapshot say what each
revision added; the first test checks that against what the migrations
really build, so a future migration cannot silently break old backups.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect, select

from strongroom.backup import LocalTarget, Repository
from strongroom.backup.restore import RestorePoint, _check_revision, restore_database
from strongroom.backup.vault_snapshot import backup_database, backup_key_for, root_from_shares
from strongroom.config import Settings
from strongroom.errors import InvalidInput
from strongroom.storage import schema as s
from strongroom.storage.engine import _MIGRATIONS
from strongroom.storage.snapshot import (
    NOT_IMPORTED,
    RESTORABLE_FROM,
    _binary_columns,
    _encode_row,
    decode_rows,
    missing_columns,
    missing_tables,
    stream_name,
    table_order,
)
from strongroom.vault import Vault

REVISIONS = ["0003", "0004", "0005"]


def test_the_map_of_added_columns_matches_the_migrations(tmp_path: Path) -> None:
    assert REVISIONS[0] == RESTORABLE_FROM
    for rev in REVISIONS:
        url = f"sqlite:///{tmp_path / f'{rev}.db'}"
        engine = create_engine(url)
        cfg = Config()
        cfg.set_main_option("script_location", _MIGRATIONS)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, rev)
        with engine.connect() as conn:
            insp = inspect(conn)
            names = set(insp.get_table_names())
            for table in table_order():
                if table.name in missing_tables(rev):
                    assert table.name not in names, (rev, table.name)
                    continue
                live = [c["name"] for c in insp.get_columns(table.name)]
                gone = missing_columns(table.name, rev)
                expected = [c.name for c in table.columns if c.name not in gone]
                assert live == expected, (rev, table.name)
        engine.dispose()


def _downgrade_snapshot(repo: Repository, key: object, m: object, to: str) -> object:
    """The same snapshot as a Strongroom at revision ``to`` would have written it."""
    streams: dict[str, io.BytesIO] = {}
    fmt = m.meta["format"]  # type: ignore[attr-defined]
    for table in table_order():
        if table.name in missing_tables(to):
            continue
        name = stream_name(table)
        width = len(table.columns) - len(missing_columns(table.name, to))
        out = io.BytesIO()
        for row in decode_rows(table, repo.read_stream(m, name, key=key), fmt):  # type: ignore[arg-type]
            values = [row[c.name] for c in list(table.columns)[:width]]
            out.write(_encode_row(values, _binary_columns(table)[:width]))
        out.seek(0)
        streams[name] = out
    meta = {**m.meta, "schema_revision": to}  # type: ignore[attr-defined]
    return repo.write_snapshot(streams, key=key, meta=meta)  # type: ignore[arg-type]


def test_a_0004_snapshot_restores_and_gains_the_new_columns(tmp_path: Path) -> None:
    vault = Vault(Settings(data_dir=tmp_path / "src"))
    vault.open()
    init = vault.initialize(shares=3, threshold=2)
    for share in init.shares[:2]:
        vault.submit_share(share)
    try:
        root = vault.tokens.authenticate(init.root_token)
        sid = vault.subjects.create(root, reference="MRN-1").id
        vault.kv.put(root, "secret", "p/1", {"dx": "flu"}, subject=sid)
        vault.kv.put(root, "secret", "plain", {"v": 1})
        target = LocalTarget(tmp_path / "repo")
        current = backup_database(vault.db, target, keyring=vault.seal.keyring())
    finally:
        vault.close()
    repo = Repository.open(target)
    key = backup_key_for(repo, current, root=root_from_shares(init.shares[:2]))
    old = _downgrade_snapshot(repo, key, current, "0004")
    target.delete(f"snapshots/{current.snapshot_id}")
    assert not NOT_IMPORTED & missing_tables("0004")

    url = f"sqlite:///{tmp_path / 'fresh' / 'strongroom.db'}"
    (tmp_path / "fresh").mkdir()
    result = restore_database(
        target,
        RestorePoint(old.snapshot_id),
        root=root_from_shares(init.shares[1:]),
        database_url=url,  # type: ignore[attr-defined]
    )
    assert result.subjects is not None and result.subjects.rekeyed == 1
    engine = create_engine(url)
    with engine.connect() as conn:
        subjects = [
            json.loads(bytes(r[0]))["subject"]
            for r in conn.execute(
                select(s.audit_entries.c.entry).where(s.audit_entries.c.subject.is_not(None))
            )
        ]
        # The search column was filled from the entries themselves.
        assert subjects and all(x.startswith("sp1_") for x in subjects)
    engine.dispose()
    restored = Vault(Settings(data_dir=tmp_path / "fresh", database_url=url))  # type: ignore[arg-type]
    restored.open()
    try:
        for share in init.shares[:2]:
            restored.submit_share(share)
        r = restored.tokens.authenticate(init.root_token)
        assert restored.kv.get(r, "secret", "p/1").data == {"dx": "flu"}
        assert restored.kv.get(r, "secret", "plain").data == {"v": 1}
        assert restored.subjects.lookup(r, "MRN-1").id == sid
        assert restored.consents.history(r, sid) == []
    finally:
        restored.close()


def test_a_snapshot_older_than_the_journal_is_refused() -> None:
    for recorded in ("0002", "0006", ""):
        m = SimpleNamespace(snapshot_id="0" * 64, meta={"schema_revision": recorded})
        with pytest.raises(InvalidInput, match="schema revision"):
            _check_revision(m, "0005")  # type: ignore[arg-type]
    for recorded in ("0003", "0004", "0005"):
        _check_revision(SimpleNamespace(meta={"schema_revision": recorded}), "0005")  # type: ignore[arg-type]
