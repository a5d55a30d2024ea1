"""Group commit: many concurrent writes, one durable transaction.

A single writer thread owns one connection. Requests queue an *operation*
(a function of a :class:`WriteTx`); the thread takes everything queued (up to
``max_batch``), runs each operation in its own SAVEPOINT so that one failing
request does not spoil the others, commits once, and only then resolves each
request's future. A request is therefore acknowledged only after the
transaction holding it is durable (SQLite ``synchronous=FULL`` / PostgreSQL
``fsync``), and one fsync is paid for the whole batch instead of one per write.

Example::

    >>> from sqlalchemy import create_engine, text
    >>> engine = create_engine("sqlite://")
    >>> w = GroupCommitWriter(engine)
    >>> w.start()
    >>> w.call(lambda tx: tx.conn.execute(text("select 41 + 1")).scalar_one())
    42
    >>> w.stop()
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from strongroom.errors import StorageUnavailable

__all__ = ["GroupCommitWriter", "WriteTx"]

T = TypeVar("T")

_STOP = object()


@dataclass(slots=True)
class WriteTx:
    """What an operation sees: the connection and hooks tied to the commit."""

    conn: Connection
    _after_commit: list[Callable[[], None]] = field(default_factory=list)
    _before_commit: list[Callable[[Connection], None]] = field(default_factory=list)
    _counts: dict[Any, int] = field(default_factory=dict)
    _on_rollback: list[Callable[[], None]] = field(default_factory=list)

    def count(self, key: Any, n: int = 1) -> None:
        """Add ``n`` to a per-batch counter (e.g. encryptions per KEK version).

        Counters of committed operations are summed over the batch and handed
        to the writer's ``on_counts`` hook inside the same transaction, so one
        statement per batch replaces one per write.
        """
        self._counts[key] = self._counts.get(key, 0) + n

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` once the batch is durable (dropped if this operation rolls back)."""
        self._after_commit.append(fn)

    def on_rollback(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` if this operation's changes are undone (its own failure or the batch's).

        For in-memory state that mirrors the database, such as the audit
        log's Merkle frontier: hooks run newest first, so state restored step
        by step ends where it was before the operation.
        """
        self._on_rollback.append(fn)

    def before_commit(self, fn: Callable[[Connection], None]) -> None:
        """Run ``fn`` inside the transaction after every operation of the batch."""
        self._before_commit.append(fn)


@dataclass(slots=True)
class _Job(Generic[T]):
    op: Callable[[WriteTx], T]
    future: concurrent.futures.Future[T]


class GroupCommitWriter:
    """The single writer thread; see the module docstring."""

    def __init__(
        self,
        engine: Engine,
        *,
        max_batch: int = 512,
        max_wait_s: float = 0.0,
        on_batch: Callable[[int, float], None] | None = None,
    ) -> None:
        self.on_counts: Callable[[Connection, dict[Any, int]], Callable[[], None] | None] | None = (
            None
        )
        """Hook run inside each transaction with the batch's summed counters; it
        may return a function to run once the batch is durable."""
        self._engine = engine
        self._max_batch = max_batch
        self._max_wait_s = max_wait_s
        self._on_batch = on_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the writer thread (idempotent)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="strongroom-writer", daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        """Finish queued work and stop the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join()

    def submit(self, op: Callable[[WriteTx], T]) -> concurrent.futures.Future[T]:
        """Queue ``op``; the future resolves after the commit that holds it."""
        if self._thread is None:
            raise RuntimeError("the writer is not running")
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._queue.put(_Job(op, fut))
        return fut

    def call(self, op: Callable[[WriteTx], T]) -> T:
        """Run ``op`` through the writer and wait for its durable result."""
        return self.submit(op).result()

    async def run(self, op: Callable[[WriteTx], T]) -> T:
        """Async form of :meth:`call`."""
        return await asyncio.wrap_future(self.submit(op))

    # -- the thread ----------------------------------------------------

    def _run(self) -> None:
        conn: Connection | None = None
        while True:
            first = self._queue.get()
            if first is _STOP:
                break
            batch: list[_Job[Any]] = [first]
            deadline = time.monotonic() + self._max_wait_s
            stop = False
            while len(batch) < self._max_batch:
                try:
                    timeout = deadline - time.monotonic()
                    item = (
                        self._queue.get(timeout=timeout)
                        if timeout > 0
                        else self._queue.get_nowait()
                    )
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            try:
                if conn is None:
                    conn = self._engine.connect()
                    conn.info["strongroom_writer"] = True
                self._commit(conn, batch)
            except Exception:  # noqa: BLE001 - the writer thread must survive any failure
                # The transaction did not commit; nobody in this batch was acknowledged.
                self._fail_all(batch)
                if conn is not None:
                    try:
                        conn.invalidate()
                        conn.close()
                    except SQLAlchemyError:
                        pass
                conn = None
            if stop:
                break
        if conn is not None:
            conn.close()

    @staticmethod
    def _fail_all(batch: list[_Job[Any]]) -> None:
        for job in batch:
            if not job.future.done():
                job.future.set_exception(
                    StorageUnavailable("the write could not be committed; it was not applied")
                )

    def _commit(self, conn: Connection, batch: list[_Job[Any]]) -> None:
        started = time.perf_counter()
        outcomes: list[tuple[_Job[Any], bool, Any, list[Callable[[], None]]]] = []
        before: list[Callable[[Connection], None]] = []
        counts: dict[Any, int] = {}
        on_durable: Callable[[], None] | None = None
        undo: list[list[Callable[[], None]]] = []
        try:
            with conn.begin():
                for job in batch:
                    if not job.future.set_running_or_notify_cancel():
                        continue
                    tx = WriteTx(conn)
                    # Plain SAVEPOINT statements: SQLAlchemy's begin_nested() costs
                    # several times more, and this runs once per write.
                    conn.exec_driver_sql("SAVEPOINT sr_op")
                    try:
                        result = job.op(tx)
                    except Exception as exc:  # noqa: BLE001 - handed to the caller, not swallowed
                        conn.exec_driver_sql("ROLLBACK TO SAVEPOINT sr_op")
                        conn.exec_driver_sql("RELEASE SAVEPOINT sr_op")
                        _undo(tx._on_rollback)
                        if isinstance(exc, SQLAlchemyError):
                            err = StorageUnavailable("the write could not be stored")
                            err.__cause__ = exc
                            outcomes.append((job, False, err, []))
                        else:
                            outcomes.append((job, False, exc, []))
                        continue
                    conn.exec_driver_sql("RELEASE SAVEPOINT sr_op")
                    undo.append(tx._on_rollback)
                    before.extend(tx._before_commit)
                    for key, n in tx._counts.items():
                        counts[key] = counts.get(key, 0) + n
                    outcomes.append((job, True, result, tx._after_commit))
                for fn in before:
                    fn(conn)
                if counts and self.on_counts is not None:
                    on_durable = self.on_counts(conn, counts)
        except BaseException:
            # Nothing of this batch committed: undo every operation's
            # in-memory effects, newest operation first.
            for hooks in reversed(undo):
                _undo(hooks)
            raise
        if on_durable is not None:
            on_durable()
        # Durable from here on: acknowledge.
        for job, ok, value, hooks in outcomes:
            if ok:
                for hook in hooks:
                    hook()
                job.future.set_result(value)
            else:
                job.future.set_exception(value)
        if self._on_batch is not None:
            self._on_batch(len(batch), time.perf_counter() - started)


def _undo(hooks: list[Callable[[], None]]) -> None:
    for fn in reversed(hooks):
        fn()
