"""Migration 0005 on a database with history: entries keep their bytes, gain the subject column."""

from __future__ import annotations

import json

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, select, text

from strongroom.storage import schema as s
from strongroom.storage.engine import _MIGRATIONS


def _upgrade(url: str, revision: str) -> None:
    engine = create_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", _MIGRATIONS)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    engine.dispose()


def test_upgrade_backfills_the_subject_column_and_journals_no_subject_key(db_url: str) -> None:
    _upgrade(db_url, "0004")
    engine = create_engine(db_url)
    with_subject = {"v": 1, "seq": 0, "event": "kv:record:read", "subject": "sp1_" + "ab" * 16}
    plain = {"v": 1, "seq": 1, "event": "kv:record:read"}
    with engine.begin() as conn:
        for seq, entry in enumerate((with_subject, plain)):
            conn.execute(
                text(
                    "INSERT INTO audit_entries (seq, leaf_hash, entry, time, event, tenant_id, "
                    "principal, resource, outcome) VALUES (:s, :h, :e, 0, 'kv:record:read', "
                    "'default', 'p', 'secret/a', 'allowed')"
                ),
                {"s": seq, "h": bytes([seq]) * 32, "e": json.dumps(entry).encode()},
            )
        # A subject journaled by a 0004-era trigger, key included.
        conn.execute(
            text(
                "INSERT INTO change_journal (tbl, op, ledger_size, row) VALUES "
                "('subjects', 'I', 2, :r)"
            ),
            {"r": json.dumps({"id": "sub_old", "wrapped_key": "aa" * 30, "tenant_id": "default"})},
        )
    engine.dispose()
    _upgrade(db_url, "head")
    engine = create_engine(db_url)
    with engine.begin() as conn:
        rows = conn.execute(
            select(s.audit_entries.c.seq, s.audit_entries.c.subject).order_by(s.audit_entries.c.seq)
        ).all()
        assert [tuple(r) for r in rows] == [(0, with_subject["subject"]), (1, None)]
        assert MigrationContext.configure(conn).get_current_revision() == "0005"
        # The triggers were regenerated: a subject's key is not journaled.
        conn.execute(text("INSERT INTO tenants (id, created_at) VALUES ('default', 0)"))
        conn.execute(
            text(
                "INSERT INTO subjects (id, tenant_id, kek_version, wrapped_key, created_at) "
                "VALUES ('sub_1', 'default', 1, :k, 0)"
            ),
            {"k": b"\x01" * 60},
        )
        images = [
            json.loads(r[0])
            for r in conn.execute(
                select(s.change_journal.c.row).where(s.change_journal.c.tbl == "subjects")
            )
        ]
        assert len(images) == 2 and all("wrapped_key" not in i for i in images)
        assert {i.get("id") for i in images} == {"sub_old", "sub_1"}
    engine.dispose()
