"""Database engines, migrations and the unit-of-work entry points.

:class:`Database` is built from :class:`~strongroom.config.Settings`. SQLite
runs in WAL mode with ``synchronous=FULL`` so that a commit is on disk before
it is acknowledged; PostgreSQL runs through psycopg 3 with a connection pool.
Schema changes go through Alembic (``upgrade head`` at start-up).

Example::

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> db = Database.from_url(f"sqlite:///{d}/x.db")
    >>> db.migrate()
    >>> with db.read() as conn:
    ...     from strongroom.storage.repositories import TenantRepository
    ...     TenantRepository(conn).list()
    []
    >>> db.close()
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from strongroom.errors import StorageUnavailable
from strongroom.observability.tracing import span
from strongroom.storage.writer import GroupCommitWriter, WriteTx

__all__ = ["Database"]

T = TypeVar("T")

_MIGRATIONS = str(Path(__file__).parent / "migrations")


def _sqlite_hooks(engine: Engine) -> None:
    # pysqlite opens transactions lazily and breaks SAVEPOINT semantics; take
    # control of BEGIN ourselves (SQLAlchemy docs, "Serializable isolation /
    # Savepoints / Transactional DDL" for pysqlite).
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        # 64 MiB page cache per connection (the default is 2 MiB): bulk jobs
        # such as rewrap touch the record table and its KEK-version index
        # together, and a cache that holds both keeps them off the disk.
        cur.execute("PRAGMA cache_size=-65536")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # The writer takes the write lock up front so a batch never fails
        # half-way on a lock upgrade; readers use deferred (snapshot) reads.
        immediate = conn.info.get("strongroom_writer", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


WriteHook = Callable[[Callable[[WriteTx], Any]], Callable[[WriteTx], Any]]
"""Wraps a write op before it is queued (see :attr:`Database.write_hook`)."""


class Database:
    """Engines, the group-commit writer, and migrations for one database."""

    def __init__(self, engine: Engine, *, max_batch: int = 512, max_wait_s: float = 0.0) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self.writer = GroupCommitWriter(engine, max_batch=max_batch, max_wait_s=max_wait_s)
        self.write_hook: WriteHook | None = None
        """Wraps every :meth:`write` op in the caller's thread (the audit log
        uses it to put a request's entry in the same transaction)."""

    @classmethod
    def from_url(
        cls, url: str, *, pool_size: int = 8, max_batch: int = 512, max_wait_s: float = 0.0
    ) -> Database:
        """Build a database for a SQLAlchemy URL (``sqlite:///…`` or ``postgresql+psycopg://…``)."""
        if url.startswith("sqlite"):
            if url not in ("sqlite://", "sqlite:///:memory:"):
                path = Path(url.removeprefix("sqlite:///"))
                path.parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, pool_size=pool_size + 2, max_overflow=8)
            _sqlite_hooks(engine)
        elif url.startswith("postgresql"):
            engine = create_engine(url, pool_size=pool_size + 1, max_overflow=4, pool_pre_ping=True)
        else:
            raise StorageUnavailable("unsupported database URL scheme (sqlite or postgresql)")
        return cls(engine, max_batch=max_batch, max_wait_s=max_wait_s)

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        cfg = Config()
        cfg.set_main_option("script_location", _MIGRATIONS)
        try:
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except OperationalError as exc:
            raise StorageUnavailable("the database could not be reached") from exc

    def start(self) -> None:
        """Start the writer thread."""
        self.writer.start()

    def close(self) -> None:
        """Stop the writer and close every connection."""
        self.writer.stop()
        self.engine.dispose()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (a consistent snapshot on both backends)."""
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except OperationalError as exc:
            raise StorageUnavailable("the database could not be reached") from exc

    @contextmanager
    def snapshot_read(self) -> Iterator[Connection]:
        """A read transaction that sees one point in time across all tables.

        SQLite's deferred read transaction in WAL mode is a snapshot from its
        first read on; PostgreSQL needs ``REPEATABLE READ`` for the same.
        """
        try:
            with self.engine.connect() as raw:
                conn = (
                    raw
                    if self.is_sqlite
                    else raw.execution_options(isolation_level="REPEATABLE READ")
                )
                with conn.begin():
                    yield conn
        except OperationalError as exc:
            raise StorageUnavailable("the database could not be reached") from exc

    def write(self, op: Callable[[WriteTx], T]) -> T:
        """Run ``op`` through the group-commit writer and wait until it is durable."""
        hook = self.write_hook
        with span("storage write"):
            result: T = self.writer.call(op if hook is None else hook(op))
        return result

    async def awrite(self, op: Callable[[WriteTx], T]) -> T:
        """Async form of :meth:`write`."""
        hook = self.write_hook
        with span("storage write"):
            result: T = await self.writer.run(op if hook is None else hook(op))
        return result

    def ping(self) -> bool:
        """True when a trivial query succeeds."""
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except SQLAlchemyError:
            return False
        return True
