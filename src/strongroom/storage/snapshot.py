"""Logical snapshots: every table as ordered JSON lines, from one consistent read.

A backup must be consistent across tables while the server keeps serving,
and restorable onto either backend. So it is *logical*: each table becomes a
stream ``tables/<name>.jsonl`` of JSON arrays (one row each, columns in
schema order, bytes as base64 strings, rows in a stable order — primary
key, or creation time for record versions — so that unchanged rows produce
unchanged bytes and deduplicate across snapshots).
The whole export runs in one read transaction: a SQLite WAL read snapshot,
or ``REPEATABLE READ`` on PostgreSQL, so no write lands half-way.

Ciphertexts, wrapped keys and token hashes are exported as they are stored:
nothing here decrypts anything.

Example::

    >>> from sqlalchemy import create_engine
    >>> from strongroom.storage.schema import metadata
    >>> engine = create_engine("sqlite://")
    >>> metadata.create_all(engine)
    >>> with engine.connect() as conn:
    ...     names = [name for name, _ in export_tables(conn)]
    >>> "tables/kv_versions.jsonl" in names
    True
"""

from __future__ import annotations

import base64
import json
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any, Final

from sqlalchemy import (
    Connection,
    LargeBinary,
    Table,
    func,
    insert,
    literal_column,
    select,
    text,
)

from strongroom.errors import IntegrityViolation, InvalidInput
from strongroom.storage import schema as s

__all__ = [
    "NOT_IMPORTED",
    "SNAPSHOT_FORMAT",
    "database_size",
    "export_tables",
    "import_tables",
    "lines",
    "pick_column",
    "reset_sequences",
    "schema_revision",
    "stream_name",
    "table_order",
]

SNAPSHOT_FORMAT: Final = "strongroom-tables/v1"
NOT_IMPORTED: Final = frozenset({"change_journal", "backup_state"})
"""Exported but never imported: a restored database starts its own journal history
(:func:`strongroom.storage.journal.set_high_water`)."""
_BATCH = 2000


def table_order() -> list[Table]:
    """Every table, parents before children (the order a restore inserts in)."""
    return list(s.metadata.sorted_tables)


def stream_name(table: Table) -> str:
    """The stream a table is exported to."""
    return f"tables/{table.name}.jsonl"


def _binary_columns(table: Table) -> list[bool]:
    return [isinstance(c.type, LargeBinary) for c in table.columns]


_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _encode_row(row: Iterable[Any], binary: list[bool]) -> bytes:
    # The same bytes as json.dumps(list, separators=(",", ":"), ensure_ascii=False),
    # built by hand: base64 needs no escaping, and letting the JSON encoder
    # scan every record's ciphertext cost a quarter of a backup's main thread.
    parts = [
        b'"' + base64.b64encode(v) + b'"' if is_bin and v is not None else _dumps(v).encode()
        for v, is_bin in zip(row, binary, strict=True)
    ]
    return b"[" + b",".join(parts) + b"]\n"


def _order(table: Table, dialect: str) -> list[Any]:
    # Record versions are streamed in the order they were written: a new
    # version then lands at the end of the stream, next to the other new
    # ones, instead of beside its older versions in every chunk (a second
    # backup after changing 1% of the records stores a few new chunks, not a
    # third of them). On SQLite that is rowid order, a plain table scan
    # (sorting by created_at would sort every ciphertext in a temp file);
    # PostgreSQL has no stable physical order, so it sorts by created_at.
    # Ties and every other table: primary-key order.
    if table.name == s.kv_versions.name:
        if dialect == "sqlite":
            return [literal_column("rowid")]
        return [table.c.created_at, *table.primary_key.columns]
    return list(table.primary_key.columns)


def _rows(conn: Connection, table: Table) -> Iterator[bytes]:
    binary = _binary_columns(table)
    stmt = select(*table.columns).order_by(*_order(table, conn.dialect.name))
    result = conn.execution_options(stream_results=True, yield_per=_BATCH).execute(stmt)
    for row in result:
        yield _encode_row(row, binary)


def export_tables(conn: Connection) -> Iterator[tuple[str, Iterator[bytes]]]:
    """Yield ``(stream name, lines)`` for every table, inside ``conn``'s transaction.

    The caller opens the transaction (:meth:`Database.snapshot_read`) so that
    every table comes from the same point in time; consume each stream before
    asking for the next.
    """
    for table in table_order():
        yield stream_name(table), _rows(conn, table)


def _decode_row(line: bytes, table: Table, binary: list[bool], number: int) -> dict[str, Any]:
    try:
        values = json.loads(line)
    except ValueError as exc:
        raise IntegrityViolation(
            f"{stream_name(table)} line {number}: not JSON", stream=stream_name(table)
        ) from exc
    if not isinstance(values, list) or len(values) != len(binary):
        raise IntegrityViolation(
            f"{stream_name(table)} line {number}: expected {len(binary)} columns",
            stream=stream_name(table),
        )
    row: dict[str, Any] = {}
    for col, value, is_bin in zip(table.columns, values, binary, strict=True):
        row[col.name] = base64.b64decode(value) if is_bin and value is not None else value
    return row


def import_tables(
    conn: Connection,
    streams: Mapping[str, Iterable[bytes]],
    *,
    tables: Collection[str] | None = None,
) -> dict[str, int]:
    """Insert exported rows into an empty, migrated database; return rows per table.

    ``streams`` maps stream names to their lines (any chunking of the bytes
    into lines is fine as long as each item is one line). Every table
    imported (all of them but :data:`NOT_IMPORTED`, or those named in
    ``tables``) must have its stream and be empty. Run it in one
    transaction: a failed restore leaves nothing behind. Whoever inserts
    more rows afterwards (a journal replay) calls :func:`reset_sequences`
    again.
    """
    counts: dict[str, int] = {}
    for table in table_order():
        if table.name in NOT_IMPORTED or (tables is not None and table.name not in tables):
            continue
        name = stream_name(table)
        if name not in streams:
            raise InvalidInput(f"the snapshot has no stream {name}")
        if conn.execute(select(func.count()).select_from(table)).scalar_one():
            raise InvalidInput(f"table {table.name} is not empty; restore needs an empty database")
        binary = _binary_columns(table)
        batch: list[dict[str, Any]] = []
        n = 0
        for n, line in enumerate(streams[name], start=1):
            if not line.strip():
                continue
            batch.append(_decode_row(line, table, binary, n))
            if len(batch) >= _BATCH:
                conn.execute(insert(table), batch)
                batch = []
        if batch:
            conn.execute(insert(table), batch)
        counts[table.name] = int(conn.execute(select(func.count()).select_from(table)).scalar_one())
    reset_sequences(conn)
    return counts


def pick_column(
    table: Table, rows: Iterable[bytes], keys: Collection[tuple[Any, ...]], column: str
) -> dict[tuple[Any, ...], Any]:
    """``column`` of the exported rows of ``table`` whose primary key is in ``keys``."""
    binary = _binary_columns(table)
    pk = [c.name for c in table.primary_key.columns]
    wanted = set(keys)
    found: dict[tuple[Any, ...], Any] = {}
    for n, line in enumerate(rows, start=1):
        if not line.strip():
            continue
        row = _decode_row(line, table, binary, n)
        key = tuple(row[c] for c in pk)
        if key in wanted:
            found[key] = row[column]
            if len(found) == len(wanted):
                break
    return found


def reset_sequences(conn: Connection) -> None:
    """Move PostgreSQL's id sequence past rows that were inserted with their ids.

    SQLite needs nothing: a rowid primary key continues after the largest.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(
            text(
                "SELECT setval(pg_get_serial_sequence(:t, 'id'), "
                "COALESCE((SELECT max(id) FROM kv_metadata), 0) + 1, false)"
            ),
            {"t": s.kv_metadata.name},
        )


def database_size(conn: Connection) -> int:
    """Bytes the database holds in live pages (SQLite) or on disk (PostgreSQL)."""
    if conn.dialect.name == "sqlite":
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
        free = conn.exec_driver_sql("PRAGMA freelist_count").scalar_one()
        size = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
        return int(pages - free) * int(size)
    return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())


def schema_revision(conn: Connection) -> str | None:
    """The Alembic revision of the database (``None`` if never migrated)."""
    try:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()
    except Exception:  # noqa: BLE001 - no version table: not migrated
        return None


def lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Re-split a stream of arbitrary byte chunks into lines (for :func:`import_tables`)."""
    rest = b""
    for chunk in chunks:
        data = rest + chunk
        parts = data.split(b"\n")
        rest = parts.pop()
        yield from parts
    if rest:
        yield rest
