"""The change journal: every row change since the last backup, for point-in-time restore.

A snapshot is the state at one instant; restoring to any ledger index
*between* two snapshots needs the changes in between, the way PostgreSQL
needs its WAL on top of a base backup. Database triggers append each row
change of the vault's state tables to ``change_journal`` inside the
transaction that made it:

* ``I`` — a row inserted (its whole new image);
* ``U`` — a row updated (its primary key and only the columns that changed,
  so a rewrap journals a wrapped DEK, never the record's ciphertext again);
* ``D`` — a row deleted (its primary key);
* ``E`` — an audit entry appended (its ``seq``): the position markers that
  tie the journal to the ledger.

All writes go through the single group-commit writer
(:mod:`strongroom.storage.writer`), and each audited operation appends its
entry *after* its own changes, so "the state at ledger index ``i``" is the
base snapshot plus every journal row up to and including marker ``E(i)``.

Triggers, not application code, because they see every write path: Core
statements, raw DBAPI batches (rewrap, audit appends) and foreign-key
cascades alike. Their text is generated from the live table's columns, so
a migration that changes a journaled table calls :func:`install_triggers`
again and the triggers follow.

Images are JSON objects ``{column: value}``. Both backends produce them
differently, so :func:`decode_image` normalises: bytes are hex (SQLite
``hex()``; PostgreSQL ``to_jsonb`` gives ``\\x``-prefixed hex), floats are
exact (SQLite's JSON keeps only 15 digits, so floats travel as
``printf('%!.17g')`` strings; PostgreSQL prints the shortest exact form),
booleans are 0/1 or true/false.

The audit tables themselves are not journaled: the log is append-only and
a restore always takes it whole from the newest snapshot. Nor is the seal
configuration: a restore keeps the shares the operator holds now.

Example::

    >>> import json
    >>> from strongroom.storage import schema as s
    >>> decode_image(s.kv_versions, json.dumps({"destroyed": 1, "ciphertext": "00ff"}))
    {'destroyed': True, 'ciphertext': b'\\x00\\xff'}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import (
    Boolean,
    Connection,
    Float,
    LargeBinary,
    Table,
    and_,
    delete,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)

from strongroom.errors import IntegrityViolation
from strongroom.storage import schema as s

__all__ = [
    "JOURNALED",
    "JournalPosition",
    "JournalRow",
    "ReplayResult",
    "decode_image",
    "drop_triggers",
    "has_restore_note",
    "install_triggers",
    "position",
    "replay",
    "set_high_water",
    "take_restore_note",
    "trim",
]

JOURNALED: Final = (
    "tenants",
    "mounts",
    "kv_metadata",
    "kv_versions",
    "subjects",
    "tokens",
    "policies",
    "kek_versions",
)
"""The state tables whose changes are journaled (parents before children)."""

_PREFIX: Final = "sr_journal_"
_PG_FUNCTION: Final = "sr_journal_row"
_PG_MARK_FUNCTION: Final = "sr_journal_mark"


# -- triggers -----------------------------------------------------------------


def _columns(conn: Connection, table: str) -> list[tuple[str, str]]:
    """``(name, kind)`` of the live table's columns; kind is bytes, float or plain."""
    out: list[tuple[str, str]] = []
    for col in inspect(conn).get_columns(table):
        typ = col["type"]
        kind = (
            "bytes" if isinstance(typ, LargeBinary) else "float" if isinstance(typ, Float) else ""
        )
        out.append((str(col["name"]), kind))
    return out


def _pk(conn: Connection, table: str) -> list[str]:
    return list(inspect(conn).get_pk_constraint(table)["constrained_columns"])


def _sqlite_value(ref: str, kind: str) -> str:
    if kind == "bytes":
        return f"CASE WHEN {ref} IS NULL THEN NULL ELSE hex({ref}) END"
    if kind == "float":
        return f"CASE WHEN {ref} IS NULL THEN NULL ELSE printf('%!.17g', {ref}) END"
    return ref


def _sqlite_object(cols: list[tuple[str, str]], row: str) -> str:
    return (
        "json_object("
        + ", ".join(f"'{name}', {_sqlite_value(f'{row}.{name}', kind)}" for name, kind in cols)
        + ")"
    )


def _sqlite_ddl(table: str, cols: list[tuple[str, str]], pk: list[str]) -> list[str]:
    keys = [(n, k) for n, k in cols if n in pk]
    # json_remove drops the unchanged columns; a path to a key that does not
    # exist ('$."-"') is a no-op, which keeps the argument list fixed.
    unchanged = ", ".join(
        f"CASE WHEN NEW.{n} IS OLD.{n} THEN '$.{n}' ELSE '$.\"-\"' END"
        for n, _ in cols
        if n not in pk
    )
    changed = ", ".join(
        f"'{n}', CASE WHEN NEW.{n} IS OLD.{n} THEN NULL ELSE {_sqlite_value('NEW.' + n, k)} END"
        if n not in pk
        else f"'{n}', {_sqlite_value('NEW.' + n, k)}"
        for n, k in cols
    )
    ins = "INSERT INTO change_journal (tbl, op, row) VALUES"
    return [
        f"CREATE TRIGGER {_PREFIX}{table}_i AFTER INSERT ON {table} BEGIN "
        f"{ins} ('{table}', 'I', {_sqlite_object(cols, 'NEW')}); END",
        f"CREATE TRIGGER {_PREFIX}{table}_u AFTER UPDATE ON {table} BEGIN "
        f"{ins} ('{table}', 'U', json_remove(json_object({changed}), {unchanged})); END",
        f"CREATE TRIGGER {_PREFIX}{table}_d AFTER DELETE ON {table} BEGIN "
        f"{ins} ('{table}', 'D', {_sqlite_object(keys, 'OLD')}); END",
    ]


_PG_ROW_FUNCTION_SQL: Final = """
CREATE OR REPLACE FUNCTION sr_journal_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    img jsonb;
    was jsonb;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO change_journal (tbl, op, row)
        VALUES (TG_TABLE_NAME, 'I', to_jsonb(NEW)::text);
    ELSIF TG_OP = 'UPDATE' THEN
        img := to_jsonb(NEW);
        was := to_jsonb(OLD);
        INSERT INTO change_journal (tbl, op, row)
        VALUES (TG_TABLE_NAME, 'U', (
            SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each(img) AS e
            WHERE e.key = ANY (TG_ARGV) OR e.value IS DISTINCT FROM was -> e.key
        )::text);
    ELSE
        was := to_jsonb(OLD);
        INSERT INTO change_journal (tbl, op, row)
        VALUES (TG_TABLE_NAME, 'D', (
            SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each(was) AS e
            WHERE e.key = ANY (TG_ARGV)
        )::text);
    END IF;
    RETURN NULL;
END
$$
"""

_PG_MARK_FUNCTION_SQL: Final = """
CREATE OR REPLACE FUNCTION sr_journal_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO change_journal (tbl, op, row)
    VALUES ('audit_entries', 'E', json_build_object('seq', NEW.seq)::text);
    RETURN NULL;
END
$$
"""


def _existing_triggers(conn: Connection) -> list[tuple[str, str]]:
    """``(trigger, table)`` for every journal trigger in the database."""
    if conn.dialect.name == "sqlite":
        rows = conn.execute(
            text("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'")
        ).all()
    else:
        rows = conn.execute(
            text(
                "SELECT t.tgname, c.relname FROM pg_trigger t "
                "JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal"
            )
        ).all()
    return [(str(n), str(t)) for n, t in rows if str(n).startswith(_PREFIX)]


def drop_triggers(conn: Connection) -> None:
    """Remove every journal trigger (a restore replays history without re-journaling it)."""
    for name, table in _existing_triggers(conn):
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        else:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON {table}")


def install_triggers(conn: Connection) -> None:
    """(Re)create the journal triggers from the live columns of every journaled table.

    Migrations call this after changing a journaled table; a table that does
    not exist yet is skipped.
    """
    drop_triggers(conn)
    names = set(inspect(conn).get_table_names())
    sqlite = conn.dialect.name == "sqlite"
    if not sqlite:
        conn.exec_driver_sql(_PG_ROW_FUNCTION_SQL)
        conn.exec_driver_sql(_PG_MARK_FUNCTION_SQL)
    for table in JOURNALED:
        if table not in names:
            continue
        pk = _pk(conn, table)
        if sqlite:
            for ddl in _sqlite_ddl(table, _columns(conn, table), pk):
                conn.exec_driver_sql(ddl)
        else:
            args = ", ".join(f"'{c}'" for c in pk)
            conn.exec_driver_sql(
                f"CREATE TRIGGER {_PREFIX}{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {_PG_FUNCTION}({args})"
            )
    if "audit_entries" in names:
        if sqlite:
            conn.exec_driver_sql(
                f"CREATE TRIGGER {_PREFIX}audit_entries AFTER INSERT ON audit_entries BEGIN "  # noqa: S608
                "INSERT INTO change_journal (tbl, op, row) "
                "VALUES ('audit_entries', 'E', json_object('seq', NEW.seq)); END"
            )
        else:
            conn.exec_driver_sql(
                f"CREATE TRIGGER {_PREFIX}audit_entries AFTER INSERT ON audit_entries "
                f"FOR EACH ROW EXECUTE FUNCTION {_PG_MARK_FUNCTION}()"
            )


# -- positions ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JournalPosition:
    """Where the journal stands in one read transaction.

    ``first``..``last`` are the journal rows the database still holds
    (``first = trimmed + 1``); ``timeline`` names this database's history,
    new after every restore, so segments of two histories never chain.
    """

    timeline: str
    first: int
    last: int


def position(conn: Connection) -> JournalPosition:
    """The journal's position as seen by ``conn``'s transaction."""
    row = conn.execute(
        select(s.backup_state.c.timeline, s.backup_state.c.journal_trimmed_to).where(
            s.backup_state.c.id == 1
        )
    ).one_or_none()
    if row is None:
        raise IntegrityViolation("the database has no backup_state row; run the migrations")
    timeline, trimmed = str(row[0]), int(row[1])
    top = conn.execute(select(func.max(s.change_journal.c.seq))).scalar_one_or_none()
    return JournalPosition(timeline, trimmed + 1, max(int(top or 0), trimmed))


def trim(conn: Connection, up_to: int) -> int:
    """Delete journal rows up to ``up_to`` (they are in a stored snapshot); return how many."""
    st = s.backup_state
    n = conn.execute(delete(s.change_journal).where(s.change_journal.c.seq <= up_to)).rowcount
    conn.execute(
        update(st)
        .where(and_(st.c.id == 1, st.c.journal_trimmed_to < up_to))
        .values(journal_trimmed_to=up_to)
    )
    return int(n or 0)


def set_high_water(
    conn: Connection, *, timeline: str, last: int, note: dict[str, Any] | None = None
) -> None:
    """Start a new history after a restore: empty journal, numbering continues after ``last``.

    Journal numbers stay unique across the repository's snapshots, and the
    new timeline keeps this history's segments from chaining onto the old one.
    ``note`` is what the restore did, for the log (see :func:`take_restore_note`).
    """
    conn.execute(delete(s.change_journal))
    conn.execute(
        update(s.backup_state)
        .where(s.backup_state.c.id == 1)
        .values(
            timeline=timeline,
            journal_trimmed_to=last,
            restore_note=None if note is None else json.dumps(note, sort_keys=True),
        )
    )
    if conn.dialect.name == "sqlite":
        conn.execute(text("DELETE FROM sqlite_sequence WHERE name = 'change_journal'"))
        if last:
            conn.execute(
                text("INSERT INTO sqlite_sequence (name, seq) VALUES ('change_journal', :n)"),
                {"n": last},
            )
    else:
        conn.execute(
            text("SELECT setval(pg_get_serial_sequence('change_journal', 'seq'), :n, :called)"),
            {"n": max(last, 1), "called": last > 0},
        )


def has_restore_note(conn: Connection) -> bool:
    """True when an offline restore left facts for the log."""
    st = s.backup_state
    found = conn.execute(select(st.c.restore_note).where(st.c.id == 1)).scalar_one_or_none()
    return found is not None


def take_restore_note(conn: Connection) -> dict[str, Any] | None:
    """The facts an offline restore left for the log, cleared in ``conn``'s transaction."""
    st = s.backup_state
    raw = conn.execute(select(st.c.restore_note).where(st.c.id == 1)).scalar_one_or_none()
    if raw is None:
        return None
    conn.execute(update(st).where(st.c.id == 1).values(restore_note=None))
    note = json.loads(raw)
    return note if isinstance(note, dict) else None


# -- replay -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JournalRow:
    """One journal row as exported: its number, table, operation and image."""

    seq: int
    table: str
    op: str
    image: str


def decode_image(table: Table, image: str) -> dict[str, Any]:
    """A journal image as Python values of ``table``'s column types (either backend's form)."""
    try:
        raw = json.loads(image)
    except ValueError as exc:
        raise IntegrityViolation(f"a {table.name} journal image is not JSON") from exc
    if not isinstance(raw, dict):
        raise IntegrityViolation(f"a {table.name} journal image is not an object")
    out: dict[str, Any] = {}
    for name, value in raw.items():
        col = table.columns.get(name)
        if col is None:
            raise IntegrityViolation(f"the journal names an unknown column {table.name}.{name}")
        if value is None:
            out[name] = None
        elif isinstance(col.type, LargeBinary):
            out[name] = bytes.fromhex(str(value).removeprefix("\\x"))
        elif isinstance(col.type, Float):
            out[name] = float(value)
        elif isinstance(col.type, Boolean):
            out[name] = bool(value)
        else:
            out[name] = value
    return out


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What a replay applied, and whether it reached its stopping entry."""

    rows: int
    reached: bool


def replay(conn: Connection, rows: Iterable[JournalRow], *, through_entry: int) -> ReplayResult:
    """Apply journal rows in order, through the marker of audit entry ``through_entry``.

    Run it with the journal triggers dropped, inside the restore's
    transaction, on a database holding the base snapshot.
    """
    applied = 0
    for row in _ordered(rows):
        if row.op == "E":
            marker = json.loads(row.image)
            if int(marker["seq"]) == through_entry:
                return ReplayResult(applied, True)
            continue
        table = s.metadata.tables.get(row.table)
        if table is None or row.table not in JOURNALED:
            raise IntegrityViolation(f"journal row {row.seq} names an unknown table {row.table}")
        values = decode_image(table, row.image)
        keys = [c for c in table.primary_key.columns]
        if row.op == "I":
            conn.execute(insert(table), values)
        elif row.op in ("U", "D"):
            missing = [c.name for c in keys if c.name not in values]
            if missing:
                raise IntegrityViolation(f"journal row {row.seq} lacks its key {missing}")
            where = and_(*(c == values.pop(c.name) for c in keys))
            if row.op == "D":
                conn.execute(delete(table).where(where))
            elif values:
                conn.execute(update(table).where(where).values(values))
        else:
            raise IntegrityViolation(f"journal row {row.seq} has an unknown operation {row.op!r}")
        applied += 1
    return ReplayResult(applied, False)


def _ordered(rows: Iterable[JournalRow]) -> Iterator[JournalRow]:
    last = 0
    for row in rows:
        if row.seq <= last:
            raise IntegrityViolation(f"journal row {row.seq} is out of order")
        last = row.seq
        yield row
