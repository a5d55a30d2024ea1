"""Logical snapshots: every table as ordered JSON lines, from one consistent read.

A backup must be consistent across tables while the server keeps serving,
and restorable onto either backend. So it is *logical*: each table becomes a
stream ``tables/<name>.jsonl`` with one row after another, columns in schema
order, rows in a stable order — primary key, or creation time for record
versions — so that unchanged rows produce unchanged bytes and deduplicate
across snapshots.

Row format ``strongroom-tables/v2`` (:data:`SNAPSHOT_FORMAT`): a JSON array
on one line, in which a binary column is its length in bytes (or ``null``),
then, right after the newline, the raw bytes of those binary columns in
column order. Ciphertexts, most of a vault, thus go through chunking,
compression and encryption as they are, not as base64 a third bigger.
Snapshots in the older ``v1`` (binary columns as base64 strings, one JSON
line per row) still restore.
The whole export runs in one read transaction: a SQLite WAL read snapshot,
or ``REPEATABLE READ`` on PostgreSQL, so no write lands half-way.

Ciphertexts, wrapped DEKs and token hashes are exported as they are stored:
nothing here decrypts anything. The columns in
:data:`~strongroom.storage.journal.WITHHELD` (a data subject's wrapped key)
are exported as ``null``: they live only in the short-lived key backups, so
that an erased subject cannot come back from an old snapshot.

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
import functools
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
    null,
    select,
    text,
)

from strongroom.errors import IntegrityViolation, InvalidInput
from strongroom.storage import schema as s
from strongroom.storage.journal import WITHHELD

__all__ = [
    "ADDED_COLUMNS",
    "ADDED_TABLES",
    "FORMAT_V1",
    "NOT_IMPORTED",
    "RESTORABLE_FROM",
    "SNAPSHOT_FORMAT",
    "database_size",
    "decode_rows",
    "export_tables",
    "import_tables",
    "lines",
    "missing_columns",
    "missing_tables",
    "pick_column",
    "reset_sequences",
    "schema_revision",
    "stream_name",
    "table_order",
]

SNAPSHOT_FORMAT: Final = "strongroom-tables/v2"
FORMAT_V1: Final = "strongroom-tables/v1"
_FORMATS: Final = frozenset({SNAPSHOT_FORMAT, FORMAT_V1})
NOT_IMPORTED: Final = frozenset({"change_journal", "backup_state"})
"""Exported but never imported: a restored database starts its own journal history
(:func:`strongroom.storage.journal.set_high_water`)."""
_BATCH = 2000

RESTORABLE_FROM: Final = "0003"
"""The oldest schema revision whose snapshots restore (the first with the change journal)."""

ADDED_COLUMNS: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "0004": {"subjects": ("ref_index",)},
    "0005": {"audit_entries": ("subject",)},
}
"""Nullable columns each revision appended to an exported table, in order.

A snapshot taken at an older revision has rows without them: they decode
as ``null`` and the restore fills what can be derived (the audit entries'
``subject`` copy). A migration that changes an exported table in any other
way must make older snapshots unrestorable instead (a test compares this
map with what the migrations build)."""

ADDED_TABLES: Final[dict[str, tuple[str, ...]]] = {
    "0005": ("consents", "retention_rules", "legal_holds"),
}
"""Tables each revision created: absent from older snapshots, restored empty."""


def _after(revision: str | None) -> list[str]:
    """The revisions of :data:`ADDED_COLUMNS`/:data:`ADDED_TABLES` newer than ``revision``."""
    known = sorted(set(ADDED_COLUMNS) | set(ADDED_TABLES))
    return [] if revision is None else [r for r in known if r > revision]


def missing_columns(table: str, revision: str | None) -> tuple[str, ...]:
    """Columns of ``table`` a snapshot at ``revision`` does not have (None: the current one)."""
    return tuple(c for r in _after(revision) for c in ADDED_COLUMNS.get(r, {}).get(table, ()))


def missing_tables(revision: str | None) -> frozenset[str]:
    """Tables a snapshot at ``revision`` does not have (None: the current one)."""
    return frozenset(t for r in _after(revision) for t in ADDED_TABLES.get(r, ()))


def table_order() -> list[Table]:
    """Every table, parents before children (the order a restore inserts in)."""
    return list(s.metadata.sorted_tables)


def stream_name(table: Table) -> str:
    """The stream a table is exported to."""
    return f"tables/{table.name}.jsonl"


def _binary_columns(table: Table) -> list[bool]:
    return [isinstance(c.type, LargeBinary) for c in table.columns]


_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


@functools.lru_cache(maxsize=64)
def _binary_indices(binary: tuple[bool, ...]) -> tuple[int, ...]:
    return tuple(i for i, is_bin in enumerate(binary) if is_bin)


def _encode_row(row: Iterable[Any], binary: list[bool]) -> bytes:
    """One row in the v2 format: the JSON line, then the raw bytes of its binary columns."""
    # One call to the C JSON encoder per row, with each binary value replaced
    # by its length: no big string for it to scan, no Python call per cell.
    values = list(row)
    blobs: list[bytes] = []
    for i in _binary_indices(tuple(binary)):
        if values[i] is not None:
            raw = bytes(values[i])
            values[i] = len(raw)
            blobs.append(raw)
    return _dumps(values).encode() + b"\n" + b"".join(blobs)


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
    hidden = WITHHELD.get(table.name, frozenset())
    cols = [null().label(c.name) if c.name in hidden else c for c in table.columns]
    stmt = select(*cols).order_by(*_order(table, conn.dialect.name))
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


def _values(line: bytes, table: Table, width: int, number: int) -> list[Any]:
    name = stream_name(table)
    try:
        values = json.loads(line)
    except ValueError as exc:
        raise IntegrityViolation(f"{name} row {number}: not JSON", stream=name) from exc
    if not isinstance(values, list) or len(values) != width:
        raise IntegrityViolation(f"{name} row {number}: expected {width} columns", stream=name)
    return values


def _rows_v1(table: Table, chunks: Iterable[bytes], width: int) -> Iterator[dict[str, Any]]:
    cols = list(table.columns)
    binary = _binary_columns(table)[:width]
    number = 0
    for line in lines(chunks):
        if not line.strip():
            continue
        number += 1
        values = _values(line, table, width, number)
        row = {
            col.name: base64.b64decode(v) if is_bin and v is not None else v
            for col, v, is_bin in zip(cols[:width], values, binary, strict=True)
        }
        yield _pad(row, cols[width:])


def _pad(row: dict[str, Any], missing: list[Any]) -> dict[str, Any]:
    for col in missing:
        row[col.name] = None
    return row


class _Buffer:
    """Bytes pulled from an iterator of chunks on demand, consumed from the front."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._it = iter(chunks)
        self._buf = bytearray()
        self._pos = 0

    def _more(self) -> bool:
        chunk = next(self._it, None)
        if chunk is None:
            return False
        del self._buf[: self._pos]
        self._pos = 0
        self._buf += chunk
        return True

    def line(self) -> bytes | None:
        """The bytes up to the next newline (consumed with it); None at a clean end."""
        start = self._pos
        while (end := self._buf.find(b"\n", start)) < 0:
            start = len(self._buf) - self._pos
            if not self._more():
                if self._pos < len(self._buf):
                    raise IntegrityViolation("a table stream ends in the middle of a row")
                return None
            start += self._pos
        out = bytes(self._buf[self._pos : end])
        self._pos = end + 1
        return out

    def take(self, n: int) -> bytes:
        """The next ``n`` bytes (consumed)."""
        while len(self._buf) - self._pos < n:
            if not self._more():
                raise IntegrityViolation("a table stream ends in the middle of a value")
        out = bytes(self._buf[self._pos : self._pos + n])
        self._pos += n
        return out


def _rows_v2(table: Table, chunks: Iterable[bytes], width: int) -> Iterator[dict[str, Any]]:
    cols = list(table.columns)
    binary = _binary_columns(table)[:width]
    buf = _Buffer(chunks)
    number = 0
    while (line := buf.line()) is not None:
        number += 1
        values = _values(line, table, width, number)
        row: dict[str, Any] = {}
        for col, v, is_bin in zip(cols[:width], values, binary, strict=True):
            if is_bin and v is not None:
                if type(v) is not int or v < 0:
                    raise IntegrityViolation(
                        f"{stream_name(table)} row {number}: {col.name} is not a byte length"
                    )
                row[col.name] = buf.take(v)
            else:
                row[col.name] = v
        yield _pad(row, cols[width:])


def decode_rows(
    table: Table, chunks: Iterable[bytes], fmt: str, *, revision: str | None = None
) -> Iterator[dict[str, Any]]:
    """The rows of ``table``'s stream, as column name → value, from its raw chunks.

    ``fmt`` is the snapshot's format (its manifest meta ``format``); the
    chunks may split the stream anywhere. ``revision`` is the snapshot's
    schema revision when older than this code's: the columns added since
    (:data:`ADDED_COLUMNS`) come back as ``None``.
    """
    if fmt not in _FORMATS:
        raise InvalidInput(f"unknown snapshot format {fmt!r}: restore with a newer Strongroom")
    missing = missing_columns(table.name, revision)
    width = len(table.columns) - len(missing)
    if tuple(c.name for c in list(table.columns)[width:]) != missing:  # pragma: no cover
        raise IntegrityViolation(f"{table.name}: ADDED_COLUMNS does not match the schema")
    if fmt == FORMAT_V1:
        return _rows_v1(table, chunks, width)
    return _rows_v2(table, chunks, width)


def import_tables(
    conn: Connection,
    streams: Mapping[str, Iterable[bytes]],
    *,
    tables: Collection[str] | None = None,
    fmt: str = SNAPSHOT_FORMAT,
    revision: str | None = None,
) -> dict[str, int]:
    """Insert exported rows into an empty, migrated database; return rows per table.

    ``revision`` is the snapshot's schema revision when older than this
    code's (see :func:`decode_rows`); tables created since stay empty.

    ``streams`` maps stream names to their bytes, in chunks split anywhere,
    in format ``fmt``. Every table
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
        if name not in streams and table.name in missing_tables(revision):
            continue
        if name not in streams:
            raise InvalidInput(f"the snapshot has no stream {name}")
        if conn.execute(select(func.count()).select_from(table)).scalar_one():
            raise InvalidInput(f"table {table.name} is not empty; restore needs an empty database")
        batch: list[dict[str, Any]] = []
        for row in decode_rows(table, streams[name], fmt, revision=revision):
            batch.append(row)
            if len(batch) >= _BATCH:
                conn.execute(insert(table), batch)
                batch = []
        if batch:
            conn.execute(insert(table), batch)
        counts[table.name] = int(conn.execute(select(func.count()).select_from(table)).scalar_one())
    reset_sequences(conn)
    return counts


def pick_column(
    table: Table,
    chunks: Iterable[bytes],
    keys: Collection[tuple[Any, ...]],
    column: str,
    *,
    fmt: str = SNAPSHOT_FORMAT,
    revision: str | None = None,
) -> dict[tuple[Any, ...], Any]:
    """``column`` of the exported rows of ``table`` whose primary key is in ``keys``."""
    pk = [c.name for c in table.primary_key.columns]
    wanted = set(keys)
    found: dict[tuple[Any, ...], Any] = {}
    for row in decode_rows(table, chunks, fmt, revision=revision):
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
