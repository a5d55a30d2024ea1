"""The change journal: every row change since the last backup, for point-in-time restore.

A snapshot is the state at one instant; restoring to any ledger index
*between* two snapshots needs the changes in between, the way PostgreSQL
needs its WAL on top of a base backup. Database triggers append each row
change of the vault's state tables to ``change_journal`` inside the
transaction that made it:

* ``I`` — a row inserted (its whole new image);
* ``U`` — a row updated (its primary key and only the columns that changed,
  so a rewrap journals a wrapped DEK, never the record's ciphertext again);
* ``D`` — a row deleted (its primary key).

Each row also records ``ledger_size``, the number of audit entries when
the change was made. All writes go through the single group-commit writer
(:mod:`strongroom.storage.writer`), and each audited operation appends its
entry *after* its own changes, so the changes of the write that carries
entry ``i`` are journaled with ``ledger_size == i``: "the state at ledger
index ``i``" is the base snapshot plus every journal row with
``ledger_size <= i``. Reads journal nothing.

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

import itertools
import json
from collections.abc import Callable, Iterable, Iterator
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
    "PREIMAGE",
    "WITHHELD",
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
    "consents",
    "retention_rules",
    "legal_holds",
)
"""The state tables whose changes are journaled (parents before children)."""

PREIMAGE: Final = {"kv_versions": "ciphertext"}
"""Columns not copied into the journal when a row is inserted.

A record's ciphertext is most of what a vault stores, and it never changes
once written: it is only ever taken away (destroy sets it to NULL, a
metadata delete removes the row). So an insert journals the row without it,
and whatever takes it away journals the old value as ``^ciphertext``. A
replay finds an inserted row's ciphertext in the first later journal row
that took it away, or else in the newer snapshot's table, where it still
is. Every write then costs one extra small row, not a second copy of the
record (as hex, twice its size).
"""

WITHHELD: Final = {"subjects": frozenset({"wrapped_key"})}
"""Columns never written to the journal, nor to a snapshot (:mod:`strongroom.storage.snapshot`).

A data subject's key must not outlive its erasure in a long-lived backup
(ARCHITECTURE.md §4): it travels only in the separate, short-lived key
backups (:mod:`strongroom.backup.subject_keys`), and a restore rejoins it
from there, minus every subject erased since. Neither an insert nor a
rewrap journals it.
"""

_PREFIX: Final = "sr_journal_"
_PG_FUNCTION: Final = "sr_journal_row"


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


# Entries in the log when the change is made (the next entry's index).
_LEDGER_SIZE: Final = "(SELECT COALESCE(max(seq) + 1, 0) FROM audit_entries)"


def _sqlite_ddl(
    table: str, cols: list[tuple[str, str]], pk: list[str], pre: str | None
) -> list[str]:
    keys = [(n, k) for n, k in cols if n in pk]
    inserted = [(n, k) for n, k in cols if n != pre]
    # json_remove drops the unchanged columns; a path to a key that does not
    # exist ('$."-"') is a no-op, which keeps the argument list fixed.
    unchanged = [
        f"CASE WHEN NEW.{n} IS OLD.{n} THEN '$.{n}' ELSE '$.\"-\"' END"
        for n, _ in cols
        if n not in pk
    ]
    changed = [
        f"'{n}', CASE WHEN NEW.{n} IS OLD.{n} THEN NULL ELSE {_sqlite_value('NEW.' + n, k)} END"
        if n not in pk
        else f"'{n}', {_sqlite_value('NEW.' + n, k)}"
        for n, k in cols
    ]
    gone = ""
    if pre is not None:
        # The value a destroy or delete takes away (see PREIMAGE).
        changed.append(
            f"'^{pre}', CASE WHEN NEW.{pre} IS OLD.{pre} THEN NULL ELSE "
            f"{_sqlite_value('OLD.' + pre, 'bytes')} END"
        )
        unchanged.append(f"CASE WHEN NEW.{pre} IS OLD.{pre} THEN '$.\"^{pre}\"' ELSE '$.\"-\"' END")
        gone = f", '^{pre}', {_sqlite_value('OLD.' + pre, 'bytes')}"
    deleted = _sqlite_object(keys, "OLD")
    if gone:
        deleted = deleted[:-1] + gone + ")"
    ins = "INSERT INTO change_journal (tbl, op, ledger_size, row) VALUES"
    return [
        f"CREATE TRIGGER {_PREFIX}{table}_i AFTER INSERT ON {table} BEGIN "
        f"{ins} ('{table}', 'I', {_LEDGER_SIZE}, {_sqlite_object(inserted, 'NEW')}); END",
        f"CREATE TRIGGER {_PREFIX}{table}_u AFTER UPDATE ON {table} BEGIN "
        f"{ins} ('{table}', 'U', {_LEDGER_SIZE}, json_remove(json_object({', '.join(changed)}), "
        f"{', '.join(unchanged)})); END",
        f"CREATE TRIGGER {_PREFIX}{table}_d AFTER DELETE ON {table} BEGIN "
        f"{ins} ('{table}', 'D', {_LEDGER_SIZE}, {deleted}); END",
    ]


# TG_ARGV holds the primary-key columns; prefixed with '^', the PREIMAGE
# column: left out of inserts, its old value added when an update or delete
# takes it away; prefixed with '!', the WITHHELD columns: never journaled.
_PG_ROW_FUNCTION_SQL: Final = """
CREATE OR REPLACE FUNCTION sr_journal_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    img jsonb;
    was jsonb;
    out jsonb;
    pre text;
    hidden text[];
    size bigint;
BEGIN
    size := (SELECT COALESCE(max(seq) + 1, 0) FROM audit_entries);
    pre := (SELECT substr(a, 2) FROM unnest(TG_ARGV) AS a WHERE left(a, 1) = '^' LIMIT 1);
    hidden := ARRAY(SELECT substr(a, 2) FROM unnest(TG_ARGV) AS a WHERE left(a, 1) = '!');
    IF TG_OP = 'INSERT' THEN
        img := to_jsonb(NEW) - hidden;
        IF pre IS NOT NULL THEN
            img := img - pre;
        END IF;
        INSERT INTO change_journal (tbl, op, ledger_size, row)
        VALUES (TG_TABLE_NAME, 'I', size, img::text);
    ELSIF TG_OP = 'UPDATE' THEN
        img := to_jsonb(NEW) - hidden;
        was := to_jsonb(OLD) - hidden;
        out := (
            SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each(img) AS e
            WHERE e.key = ANY (TG_ARGV) OR e.value IS DISTINCT FROM was -> e.key
        );
        IF pre IS NOT NULL AND (img -> pre) IS DISTINCT FROM (was -> pre) THEN
            out := out || jsonb_build_object('^' || pre, was -> pre);
        END IF;
        INSERT INTO change_journal (tbl, op, ledger_size, row)
        VALUES (TG_TABLE_NAME, 'U', size, out::text);
    ELSE
        was := to_jsonb(OLD);
        out := (
            SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each(was) AS e
            WHERE e.key = ANY (TG_ARGV)
        );
        IF pre IS NOT NULL THEN
            out := out || jsonb_build_object('^' || pre, was -> pre);
        END IF;
        INSERT INTO change_journal (tbl, op, ledger_size, row)
        VALUES (TG_TABLE_NAME, 'D', size, out::text);
    END IF;
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
    for table in JOURNALED:
        if table not in names:
            continue
        pk = _pk(conn, table)
        hidden = WITHHELD.get(table, frozenset())
        if sqlite:
            cols = [(n, k) for n, k in _columns(conn, table) if n not in hidden]
            for ddl in _sqlite_ddl(table, cols, pk, PREIMAGE.get(table)):
                conn.exec_driver_sql(ddl)
        else:
            pre = [f"^{PREIMAGE[table]}"] if table in PREIMAGE else []
            withheld = [f"!{c}" for c in sorted(hidden)]
            args = ", ".join(f"'{c}'" for c in [*pk, *pre, *withheld])
            conn.exec_driver_sql(
                f"CREATE TRIGGER {_PREFIX}{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {_PG_FUNCTION}({args})"
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
    """One journal row as exported: its number, table, operation, ledger size and image."""

    seq: int
    table: str
    op: str
    ledger_size: int
    image: str


def decode_image(table: Table, image: str) -> dict[str, Any]:
    """A journal image as Python values of ``table``'s column types (either backend's form)."""
    return _decode(table, _parse(table, image))


def _parse(table: Table, image: str) -> dict[str, Any]:
    try:
        raw = json.loads(image)
    except ValueError as exc:
        raise IntegrityViolation(f"a {table.name} journal image is not JSON") from exc
    if not isinstance(raw, dict):
        raise IntegrityViolation(f"a {table.name} journal image is not an object")
    return raw


def _decode_value(table: Table, name: str, value: Any) -> Any:
    col = table.columns.get(name)
    if col is None:
        raise IntegrityViolation(f"the journal names an unknown column {table.name}.{name}")
    if value is None:
        return None
    if isinstance(col.type, LargeBinary):
        return bytes.fromhex(str(value).removeprefix("\\x"))
    if isinstance(col.type, Float):
        return float(value)
    if isinstance(col.type, Boolean):
        return bool(value)
    return value


def _decode(table: Table, raw: dict[str, Any]) -> dict[str, Any]:
    return {name: _decode_value(table, name, value) for name, value in raw.items()}


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What a replay applied."""

    rows: int


Current = Callable[[str, set[tuple[Any, ...]]], dict[tuple[Any, ...], Any]]
"""``current(table, keys)``: the :data:`PREIMAGE` column of those rows in the newer snapshot."""


@dataclass(slots=True)
class _Change:
    row: JournalRow
    table: Table
    image: dict[str, Any]


def _key(change: _Change) -> tuple[Any, ...]:
    try:
        return tuple(change.image[c.name] for c in change.table.primary_key.columns)
    except KeyError:
        raise IntegrityViolation(f"journal row {change.row.seq} lacks its primary key") from None


def _changes(
    rows: Iterator[JournalRow], through_entry: int
) -> tuple[list[_Change], Iterator[JournalRow]]:
    """The changes up to the point (images parsed), and the rest of the segment."""
    out: list[_Change] = []
    for row in rows:
        if row.ledger_size > through_entry:
            return out, itertools.chain([row], rows)
        table = s.metadata.tables.get(row.table)
        if table is None or row.table not in JOURNALED:
            raise IntegrityViolation(f"journal row {row.seq} names an unknown table {row.table}")
        if row.op not in ("I", "U", "D"):
            raise IntegrityViolation(f"journal row {row.seq} has an unknown operation {row.op!r}")
        out.append(_Change(row, table, _parse(table, row.image)))
    return out, iter(())


def _fill_preimages(changes: list[_Change], later: Iterable[JournalRow], current: Current) -> None:
    """Put back the PREIMAGE column of every inserted row (see :data:`PREIMAGE`).

    From the first later journal row that took the value away — among the
    replayed changes or in the rest of the segment (``later``) — or else
    from the newer snapshot, where the value still is.
    """
    pending: dict[tuple[str, tuple[Any, ...]], _Change] = {}

    def took_away(table: str, image: dict[str, Any]) -> None:
        pre = PREIMAGE[table]
        if f"^{pre}" in image:
            waiting = pending.pop((table, _key_of(table, image)), None)
            if waiting is not None:
                waiting.image[pre] = image[f"^{pre}"]

    for change in changes:
        name = change.table.name
        pre = PREIMAGE.get(name)
        if pre is None:
            continue
        if change.row.op == "I" and pre not in change.image:
            pending[(name, _key(change))] = change
        took_away(name, change.image)
        change.image.pop(f"^{pre}", None)
    for row in later:
        if pending and row.op in ("U", "D") and row.table in PREIMAGE:
            took_away(row.table, _parse(s.metadata.tables[row.table], row.image))
    by_table: dict[str, set[tuple[Any, ...]]] = {}
    for table, key in pending:
        by_table.setdefault(table, set()).add(key)
    for table, keys in by_table.items():
        found = current(table, keys)
        pre = PREIMAGE[table]
        for key in keys:
            if key not in found:
                raise IntegrityViolation(
                    f"the journal cannot rebuild {table} row {key}: its {pre} is neither in a "
                    "later journal row nor in the newer snapshot"
                )
            change = pending[(table, key)]
            value = found[key]
            change.image[pre] = value.hex() if isinstance(value, bytes) else value


def _key_of(table: str, image: dict[str, Any]) -> tuple[Any, ...]:
    cols = s.metadata.tables[table].primary_key.columns
    return tuple(image.get(c.name) for c in cols)


def replay(
    conn: Connection,
    rows: Iterable[JournalRow],
    *,
    through_entry: int,
    current: Current,
) -> ReplayResult:
    """Apply the journal's changes up to the write that carries entry ``through_entry``.

    Run it with the journal triggers dropped, inside the restore's
    transaction, on a database holding the base snapshot. ``rows`` is the
    whole segment, which must reach past the point (rows after it may hold
    a value an earlier insert needs); ``current`` looks up what neither
    holds (see :data:`PREIMAGE`).
    """
    changes, later = _changes(_ordered(rows), through_entry)
    _fill_preimages(changes, later, current)
    for change in changes:
        table, values = change.table, _decode(change.table, change.image)
        for withheld in WITHHELD.get(table.name, ()):
            values.pop(withheld, None)  # a journal from before it was withheld
        keys = list(table.primary_key.columns)
        if change.row.op == "I":
            conn.execute(insert(table), values)
            continue
        missing = [c.name for c in keys if c.name not in values]
        if missing:
            raise IntegrityViolation(f"journal row {change.row.seq} lacks its key {missing}")
        where = and_(*(c == values.pop(c.name) for c in keys))
        if change.row.op == "D":
            conn.execute(delete(table).where(where))
        elif values:
            conn.execute(update(table).where(where).values(values))
    return ReplayResult(len(changes))


def _ordered(rows: Iterable[JournalRow]) -> Iterator[JournalRow]:
    last = 0
    for row in rows:
        if row.seq <= last:
            raise IntegrityViolation(f"journal row {row.seq} is out of order")
        last = row.seq
        yield row
