"""Audit-ledger benchmarks, in process: durable appends, proofs, the cost of auditing.

* ``audit_appends`` - durable appends per second: 64 threads call
  ``vault.audit.commit(event)`` on a dev vault (SQLite) with group commit as
  shipped, and on a second vault with ``group_commit_max_batch=1`` (one
  durable commit per append: the peer), in alternating rounds. Physical
  limits in the same run: SHA-256 of entry-sized inputs and the data disk's
  ``fdatasync`` rate.
* ``audit_proofs_1m`` - inclusion and consistency proofs over a million-entry
  ledger read from SQLite through ``AuditRepository``, versus the same proofs
  over an in-memory ``MemoryNodeStore`` (floor) and over bare ``sqlite3``
  (the same two queries without SQLAlchemy: the storage floor).
* ``audit_overhead`` - ``vault.kv.put`` and ``vault.kv.get`` with auditing as
  shipped versus the same calls with the audit hooks stripped from that one
  vault instance (see :func:`audit_stripped`), 8 threads, interleaved rounds.

Example::

    >>> NAMES
    ('audit_appends', 'audit_proofs_1m', 'audit_overhead')
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bench.ledger_data import TEMPLATES, ledger_entries, request_id
from bench.machine import fsync_rate, process_cpu_seconds
from bench.rounds import alternating
from bench.server import ROOT_TOKEN
from bench.stats import percentile, rounded, summarize_ms
from strongroom.config import Settings
from strongroom.ledger.entry import AuditEvent
from strongroom.ledger.merkle import (
    Frontier,
    MemoryNodeStore,
    NodeKey,
    NodeStore,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_at,
    verify_consistency,
    verify_inclusion,
)
from strongroom.storage import schema
from strongroom.storage.audit import AuditRepository
from strongroom.storage.engine import Database
from strongroom.vault.audit import AuditScope
from strongroom.vault.service import Vault

__all__ = [
    "GOAL_APPENDS",
    "GOAL_OVERHEAD",
    "GOAL_PROOF_US",
    "NAMES",
    "NAME_APPENDS",
    "NAME_OVERHEAD",
    "NAME_PROOFS",
    "audit_stripped",
    "run_appends",
    "run_overhead",
    "run_proofs",
]

NAME_APPENDS = "audit_appends"
NAME_PROOFS = "audit_proofs_1m"
NAME_OVERHEAD = "audit_overhead"
NAMES = (NAME_APPENDS, NAME_PROOFS, NAME_OVERHEAD)

GOAL_APPENDS = 3000.0
"""Goal: >= 3,000 durable appends per second with group commit."""
GOAL_PROOF_US = 50.0
"""Goal: median inclusion and consistency proof under 50 us, read from SQLite."""
GOAL_OVERHEAD = 0.15
"""Goal: auditing costs under 15% of kv.put and of kv.get throughput."""

APPEND_THREADS = 64
OVERHEAD_THREADS = 8
_SECRET = "s3cr3t-" + "0123456789abcdef" * 5 + "-v1"  # ~90 characters, as http_durable_writes


# -- shared: threads hammering a function for a while --------------------------


@dataclasses.dataclass(slots=True)
class _Slice:
    """One timed slice: operations completed, wall and process CPU time, latencies."""

    ops: int
    wall_s: float
    cpu_s: float
    latencies_s: list[float]

    @property
    def rate(self) -> float:
        return self.ops / self.wall_s if self.wall_s else 0.0


def _hammer(op: Callable[[int, int], None], *, threads: int, seconds: float) -> _Slice:
    """Run ``op(thread, n)`` in a loop on ``threads`` threads for ``seconds``.

    Every call started before the deadline is counted; the wall time runs from
    the common start to the last thread's end, so the rate is exact.
    """
    barrier = threading.Barrier(threads + 1)
    counts = [0] * threads
    lat: list[list[float]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []
    deadline = 0.0

    def worker(t: int) -> None:
        barrier.wait()
        n = 0
        mine = lat[t]
        clock = time.perf_counter
        try:
            while True:
                t0 = clock()
                if t0 >= deadline:
                    break
                op(t, n)
                mine.append(clock() - t0)
                n += 1
        except BaseException as exc:
            errors.append(exc)
        counts[t] = n

    pool = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(threads)]
    for th in pool:
        th.start()
    cpu0 = process_cpu_seconds(os.getpid()) or 0.0
    start = time.perf_counter()
    deadline = start + seconds
    barrier.wait()
    for th in pool:
        th.join()
    wall = time.perf_counter() - start
    cpu = (process_cpu_seconds(os.getpid()) or 0.0) - cpu0
    if errors:
        raise errors[0]
    return _Slice(sum(counts), wall, cpu, [x for xs in lat for x in xs])


@dataclasses.dataclass(slots=True)
class _Runs:
    """Every slice one contender ran."""

    slices: list[_Slice] = dataclasses.field(default_factory=list)

    @property
    def rate(self) -> float:
        wall = sum(s.wall_s for s in self.slices)
        return sum(s.ops for s in self.slices) / wall if wall else 0.0

    def summary(self, rate_key: str) -> dict[str, Any]:
        ops = sum(s.ops for s in self.slices)
        wall = sum(s.wall_s for s in self.slices)
        cpu = sum(s.cpu_s for s in self.slices)
        return {
            rate_key: rounded(self.rate),
            "round_rates": [rounded(s.rate) for s in self.slices],
            "ops": ops,
            **summarize_ms([x for s in self.slices for x in s.latencies_s]),
            "process_cpu_utilisation": rounded(cpu / wall) if wall else None,
            "cpu_us_per_op": rounded(1e6 * cpu / ops) if ops else None,
        }


def _interleaved(
    contenders: Mapping[str, Callable[[float], _Slice]], *, rounds: int, slice_s: float
) -> dict[str, _Runs]:
    """``rounds`` rounds of one ``slice_s`` slice per contender, in alternating order."""
    out = {name: _Runs() for name in contenders}
    for order in alternating(list(contenders), rounds):
        for name in order:
            out[name].slices.append(contenders[name](slice_s))
    return out


def _median_ratio(a: _Runs, b: _Runs) -> float:
    """Median over rounds of ``rate(a) / rate(b)``."""
    return statistics.median(
        x.rate / y.rate if y.rate else float("inf") for x, y in zip(a.slices, b.slices, strict=True)
    )


def _sha256_rate(data: Sequence[bytes], *, seconds: float) -> float:
    """Bare ``hashlib.sha256(x).digest()`` calls per second over ``data``, one thread."""
    sha = hashlib.sha256
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for x in data:
            sha(x).digest()
        n += len(data)
    return n / (time.perf_counter() - start)


def _dev_vault(tmp: Path, **settings: Any) -> Vault:
    vault = Vault(Settings(data_dir=tmp, dev=True, dev_root_token=ROOT_TOKEN, **settings))
    vault.open()
    return vault


# -- audit_appends ---------------------------------------------------------------


def _thread_cpu_seconds(native_id: int | None) -> float | None:
    """User + system CPU seconds of one thread of this process (``/proc``), or ``None``."""
    if native_id is None:
        return None
    try:
        raw = Path(f"/proc/self/task/{native_id}/stat").read_text()
    except OSError:
        return None
    fields = raw.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _BatchCounter:
    """Counts the writer's transactions and the operations they held (``on_batch`` hook)."""

    def __init__(self) -> None:
        self.batches = 0
        self.ops = 0

    def __call__(self, size: int, _seconds: float) -> None:
        self.batches += 1
        self.ops += size


def _append_slice(
    vault: Vault, events: list[list[AuditEvent]], writer_cpu: list[float]
) -> Callable[[float], _Slice]:
    """A slice of appends on ``vault``; adds the writer thread's CPU seconds to ``writer_cpu``."""
    commit = vault.audit.commit

    def op(t: int, n: int) -> None:
        mine = events[t]
        commit(mine[n % len(mine)])

    def run(seconds: float) -> _Slice:
        thread = vault.db.writer._thread  # the single writer thread (bench only)
        tid = thread.native_id if thread is not None else None
        before = _thread_cpu_seconds(tid)
        result = _hammer(op, threads=APPEND_THREADS, seconds=seconds)
        after = _thread_cpu_seconds(tid)
        if before is not None and after is not None:
            writer_cpu.append(after - before)
        return result

    return run


def run_appends(*, quick: bool) -> dict[str, Any]:
    """Run ``audit_appends`` and return its JSON result."""
    rounds, slice_s, warmup_s = (2, 1.0, 0.5) if quick else (5, 2.0, 1.0)
    events = [
        [
            dataclasses.replace(
                TEMPLATES[(t + k) % len(TEMPLATES)], request_id=request_id(t * 1000 + k)
            )
            for k in range(16)
        ]
        for t in range(APPEND_THREADS)
    ]
    sample = [
        b"\x00" + ev.canonical(seq=1_000_000 + i, time_ns=time.time_ns())
        for i, ev in enumerate(TEMPLATES)
    ]
    with (
        tempfile.TemporaryDirectory(prefix="sr-bench-appends-") as tmp_a,
        tempfile.TemporaryDirectory(prefix="sr-bench-appends1-") as tmp_b,
    ):
        group = _dev_vault(Path(tmp_a))
        single = _dev_vault(Path(tmp_b), group_commit_max_batch=1)
        counters = {"group_commit": _BatchCounter(), "one_commit_per_append": _BatchCounter()}
        try:
            vaults = {"group_commit": group, "one_commit_per_append": single}
            writer_cpu: dict[str, list[float]] = {name: [] for name in vaults}
            contenders = {
                name: _append_slice(v, events, writer_cpu[name]) for name, v in vaults.items()
            }
            sizes0 = {name: v.audit.size() for name, v in vaults.items()}
            for fn in contenders.values():
                fn(warmup_s)
            for cpu in writer_cpu.values():
                cpu.clear()
            # The writer's on_batch hook is not configurable from Settings;
            # set here (bench only) to count the transactions.
            for name, v in vaults.items():
                v.db.writer._on_batch = counters[name]
            fsync_s = fsync_rate(Path(tmp_a), seconds=1.0 if quick else 2.0)
            print(f"  disk: {fsync_s:.0f} fdatasync/s", file=sys.stderr)
            runs = _interleaved(contenders, rounds=rounds, slice_s=slice_s)
            for name, r in runs.items():
                print(f"  {name}: {r.rate:.0f} appends/s", file=sys.stderr)
            # Every acknowledged append must be a durable row.
            durable: dict[str, bool] = {}
            for name, v in vaults.items():
                with v.db.read() as conn:
                    stored = AuditRepository(conn).size()
                warm = stored - sizes0[name] - sum(s.ops for s in runs[name].slices)
                durable[name] = stored == v.audit.size() and warm >= 0
        finally:
            group.close()
            single.close()
    sha_rate = _sha256_rate(sample, seconds=0.5 if quick else 1.0)
    gc, one = runs["group_commit"], runs["one_commit_per_append"]
    out: dict[str, Any] = {}
    for name, r in runs.items():
        c = counters[name]
        wall = sum(x.wall_s for x in r.slices)
        ops = sum(x.ops for x in r.slices)
        wcpu = sum(writer_cpu[name]) if len(writer_cpu[name]) == len(r.slices) else None
        out[name] = {
            **r.summary("appends_per_second"),
            "writer_thread_cpu_utilisation": rounded(wcpu / wall) if wcpu and wall else None,
            "writer_thread_cpu_us_per_op": rounded(1e6 * wcpu / ops) if wcpu and ops else None,
            "transactions": c.batches,
            "mean_appends_per_transaction": rounded(c.ops / c.batches) if c.batches else None,
            "all_acknowledged_appends_durable": durable[name],
        }
    rate = gc.rate
    ratio = _median_ratio(gc, one)
    return {
        "description": (
            f"Durable audit appends per second in process: {APPEND_THREADS} threads each "
            "calling vault.audit.commit(AuditEvent) (canonical entry, leaf hash, Merkle "
            "nodes, one SQLite row per entry plus its nodes, acknowledged once fsync'd) on a "
            "dev vault with group commit as shipped, versus a vault with "
            "group_commit_max_batch=1 (one durable commit per append), in alternating "
            "rounds. Limits measured in the same run: bare SHA-256 of entry-sized inputs "
            "(one thread) and the data disk's 4 KiB append+fdatasync rate."
        ),
        "threads": APPEND_THREADS,
        "rounds": rounds,
        "slice_s": slice_s,
        "entry_bytes_mean": rounded(statistics.fmean(len(x) - 1 for x in sample)),
        **out,
        "appends_per_second": rounded(rate),
        "ratio": rounded(ratio),
        "disk_fdatasync_per_second": rounded(fsync_s),
        "ratio_to_fdatasync": rounded(rate / fsync_s),
        "sha256_per_second": rounded(sha_rate),
        "ratio_to_sha256": rounded(rate / sha_rate),
        "context_not_measured": (
            "Tessera (Go, 12 cores) ~2,900 appends/s; Trillian on MySQL 60-100 appends/s "
            "(published figures, other hardware)"
        ),
        "goal": f">= {GOAL_APPENDS:,.0f} durable appends/s with group commit",
        "goal_met": bool(rate >= GOAL_APPENDS and all(durable.values())),
    }


# -- audit_proofs_1m -------------------------------------------------------------


_ENTRY_COLUMNS = (
    "seq",
    "leaf_hash",
    "entry",
    "time",
    "event",
    "tenant_id",
    "principal",
    "resource",
    "outcome",
)
_CHUNK = 50_000


def _bulk_ledger(db_path: Path, total: int) -> tuple[Frontier, MemoryNodeStore]:
    """Fill the migrated ledger tables at ``db_path`` with ``total`` entries (bare sqlite3).

    Entries are realistic canonical bytes (:mod:`bench.ledger_data`); the
    nodes come from ``Frontier.extend``, exactly what ``AuditLog.append_in``
    stores one at a time. Returns the frontier and an in-memory copy of
    every node, leaves included.
    """
    if set(_ENTRY_COLUMNS) != {c.name for c in schema.audit_entries.columns}:
        raise RuntimeError("audit_entries columns changed; update the bench")
    entries_sql = (
        f"INSERT INTO {schema.audit_entries.name} ({', '.join(_ENTRY_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(_ENTRY_COLUMNS))})"
    )
    nodes_sql = f"INSERT INTO {schema.audit_nodes.name} (level, idx, hash) VALUES (?, ?, ?)"
    fields = [
        (str(ev.event), ev.tenant, ev.principal, ev.resource, str(ev.outcome)) for ev in TEMPLATES
    ]
    frontier, memory = Frontier(), MemoryNodeStore()
    db = sqlite3.connect(db_path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")  # setup only: the timed part only reads
        db.execute("PRAGMA cache_size=-262144")
        for start in range(0, total, _CHUNK):
            count = min(_CHUNK, total - start)
            rows = []
            leaves = []
            seq = start
            for raw, t, k in ledger_entries(start, count):
                lh = leaf_hash(raw)
                leaves.append(lh)
                rows.append((seq, lh, raw, t, *fields[k]))
                seq += 1
            frontier, nodes = frontier.extend(leaves)
            memory.put_nodes(nodes)
            db.execute("BEGIN")
            db.executemany(entries_sql, rows)
            db.executemany(nodes_sql, [(lv, ix, h) for (lv, ix), h in nodes if lv > 0])
            db.execute("COMMIT")
            if (start // _CHUNK) % 4 == 3:
                print(f"    {start + count:,} entries", file=sys.stderr)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return frontier, memory


class _BareSqliteStore:
    """``get_nodes`` with bare ``sqlite3`` and primary-key look-ups: the storage floor.

    One statement per table, as ``AuditRepository.get_nodes``: leaves by
    ``seq IN (...)``, upper nodes by joining a ``VALUES`` list of keys to
    ``audit_nodes`` on ``(level, idx)``, which SQLite answers with its primary
    key index. (The row-value form ``(level, idx) IN (VALUES ...)`` that
    SQLAlchemy renders for ``tuple_(...).in_(...)`` is planned by SQLite
    3.40 as a full scan of ``audit_nodes``.)
    """

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("BEGIN")  # one read snapshot, like the repository's connection

    def close(self) -> None:
        self._db.execute("COMMIT")
        self._db.close()

    def get_nodes(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        out: dict[NodeKey, bytes] = {}
        leaves = [ix for lv, ix in keys if lv == 0]
        upper = [k for k in keys if k[0] > 0]
        if leaves:
            sql = (
                f"SELECT seq, leaf_hash FROM {schema.audit_entries.name} "
                f"WHERE seq IN ({', '.join('?' * len(leaves))})"
            )
            for seq, h in self._db.execute(sql, leaves):
                out[(0, seq)] = h
        if upper:
            sql = (
                f"SELECT n.level, n.idx, n.hash FROM (VALUES {', '.join(['(?, ?)'] * len(upper))})"
                f" AS k CROSS JOIN {schema.audit_nodes.name} AS n"
                " ON n.level = k.column1 AND n.idx = k.column2"
            )
            for lv, ix, h in self._db.execute(sql, [x for k in upper for x in k]):
                out[(lv, ix)] = h
        return out


@dataclasses.dataclass(slots=True)
class _ProofTimes:
    inclusion_s: list[float] = dataclasses.field(default_factory=list)
    consistency_s: list[float] = dataclasses.field(default_factory=list)
    inclusion: list[list[bytes]] = dataclasses.field(default_factory=list)
    consistency: list[list[bytes]] = dataclasses.field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        def us(xs: list[float]) -> dict[str, Any]:
            return {
                "median_us": rounded(1e6 * statistics.median(xs)),
                "p99_us": rounded(1e6 * percentile(xs, 99)),
                "mean_us": rounded(1e6 * statistics.fmean(xs)),
                "max_us": rounded(1e6 * max(xs)),
            }

        return {
            "inclusion": us(self.inclusion_s),
            "consistency": us(self.consistency_s),
            "mean_inclusion_proof_length": rounded(
                statistics.fmean(len(p) for p in self.inclusion)
            ),
            "mean_consistency_proof_length": rounded(
                statistics.fmean(len(p) for p in self.consistency)
            ),
        }


def _time_proofs(
    store: NodeStore,
    inc: Sequence[tuple[int, int]],
    con: Sequence[tuple[int, int]],
    into: _ProofTimes,
) -> None:
    clock = time.perf_counter
    for index, size in inc:
        t0 = clock()
        p = inclusion_proof(store, index=index, size=size)
        into.inclusion_s.append(clock() - t0)
        into.inclusion.append(p)
    for first, second in con:
        t0 = clock()
        p = consistency_proof(store, first=first, second=second)
        into.consistency_s.append(clock() - t0)
        into.consistency.append(p)


def _warm_up(
    store: NodeStore, inc: Sequence[tuple[int, int]], con: Sequence[tuple[int, int]]
) -> float:
    """Run proofs (page cache, statement caches) for up to 2 s; return the mean seconds."""
    t = _ProofTimes()
    start = time.perf_counter()
    for pair_i, pair_c in zip(inc, con, strict=True):
        _time_proofs(store, [pair_i], [pair_c], t)
        if time.perf_counter() - start > 2.0:
            break
    return statistics.fmean(t.inclusion_s + t.consistency_s)


def _pairs(total: int, n: int, rng: random.Random) -> tuple[list[tuple[int, int]], ...]:
    """``n`` random (index, size) and ``n`` random (first, second) with 0 <= index < size."""
    inc = []
    con = []
    for _ in range(n):
        size = rng.randint(1, total)
        inc.append((rng.randrange(size), size))
        second = rng.randint(2, total)
        con.append((rng.randint(1, second - 1), second))
    return inc, con


def _repository_plans(db: Database, db_path: Path, index: int, size: int) -> list[str]:
    """SQLite's plan for each statement ``AuditRepository.get_nodes`` runs for one proof."""
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_a: Any) -> None:
        seen.append((statement, params))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        with db.read() as conn:
            inclusion_proof(AuditRepository(conn), index=index, size=size)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    raw = sqlite3.connect(db_path)
    try:
        return [
            "; ".join(str(r[-1]) for r in raw.execute(f"EXPLAIN QUERY PLAN {sql}", params))
            for sql, params in seen
            if sql.lstrip().upper().startswith("SELECT")
        ]
    finally:
        raw.close()


def run_proofs(
    *, quick: bool, total: int | None = None, pairs: int = 2000, budget_s: float | None = None
) -> dict[str, Any]:
    """Run ``audit_proofs_1m`` and return its JSON result.

    ``budget_s`` bounds the timed seconds of one store: a store too slow to
    run every pair in it is timed on the first pairs that fit (at least 40 of
    each kind), and the result says how many.
    """
    total = total or (100_000 if quick else 1_000_000)
    budget_s = budget_s or (10.0 if quick else 25.0)
    rounds = 4
    rng = random.Random(20260101)
    inc, con = _pairs(total, pairs, rng)
    warm_inc, warm_con = _pairs(total, 200, rng)
    with tempfile.TemporaryDirectory(prefix="sr-bench-proofs-") as tmp:
        db_path = Path(tmp) / "ledger.db"
        db = Database.from_url(f"sqlite:///{db_path}")
        db.migrate()
        t0 = time.perf_counter()
        frontier, memory = _bulk_ledger(db_path, total)
        build_s = time.perf_counter() - t0
        db_bytes = db_path.stat().st_size
        print(
            f"  built {total:,} entries in {build_s:.1f} s ({db_bytes / 2**20:.0f} MiB)",
            file=sys.stderr,
        )
        plans = _repository_plans(db, db_path, total // 3, total)
        bare = _BareSqliteStore(db_path)
        times = {"sqlite": _ProofTimes(), "bare_sqlite3": _ProofTimes(), "memory": _ProofTimes()}
        counts: dict[str, int] = {}
        try:
            with db.read() as conn:
                repo = AuditRepository(conn)
                if repo.size() != total or root_at(repo, total) != frontier.root():
                    raise RuntimeError("bulk-built ledger does not match its frontier")
                stores: dict[str, NodeStore] = {
                    "sqlite": repo,
                    "bare_sqlite3": bare,
                    "memory": memory,
                }
                for name, store in stores.items():
                    mean_s = _warm_up(store, warm_inc, warm_con)
                    counts[name] = min(pairs, max(40, int(budget_s / (2 * mean_s))))
                    if counts[name] < pairs:
                        print(
                            f"  {name}: {1e3 * mean_s:.1f} ms per proof; timing "
                            f"{counts[name]} pairs of each kind to stay within {budget_s:g} s",
                            file=sys.stderr,
                        )
                for r, order in enumerate(alternating(list(stores), rounds)):
                    for name in order:
                        step = -(-counts[name] // rounds)
                        part = slice(r * step, min((r + 1) * step, counts[name]))
                        _time_proofs(stores[name], inc[part], con[part], times[name])
        finally:
            bare.close()
            db.close()
    checked = _verify_all(memory, inc, con, times)
    expected = 2 * sum(counts.values())
    results = {name: {"pairs_timed": counts[name], **t.summary()} for name, t in times.items()}
    for name, res in results.items():
        print(
            f"  {name}: inclusion median {res['inclusion']['median_us']} us, "
            f"consistency median {res['consistency']['median_us']} us",
            file=sys.stderr,
        )
    sq, mem, raw = results["sqlite"], results["memory"], results["bare_sqlite3"]
    inc_us, con_us = sq["inclusion"]["median_us"], sq["consistency"]["median_us"]

    def ratio(other: dict[str, Any], kind: str) -> float | None:
        ours = sq[kind]["median_us"]
        return rounded(other[kind]["median_us"] / ours) if ours else None

    return {
        "description": (
            f"Inclusion and consistency proofs over a {total:,}-entry audit ledger "
            "(realistic canonical entries, nodes from Frontier.extend, bulk-inserted into "
            f"the migrated SQLite schema): up to {pairs:,} random (index, size) and as many "
            "random (first, second) pairs, each proof timed alone, read through "
            "AuditRepository on one read connection (as AuditLog.inclusion/consistency do), "
            "versus the same proofs over bare sqlite3 with primary-key look-ups (the storage "
            "floor, no SQLAlchemy) and over an in-memory MemoryNodeStore (the floor: "
            "planning, dict look-ups and folding only). Stores take turns in 4 alternating "
            f"rounds; a store too slow for every pair within {budget_s:g} s is timed on "
            "fewer (pairs_timed). Every timed proof is then checked with verify_inclusion / "
            "verify_consistency against root_at."
        ),
        "entries": total,
        "pairs_each": pairs,
        "build_seconds": rounded(build_s),
        "database_mib": rounded(db_bytes / 2**20),
        "sqlite": sq,
        "bare_sqlite3": raw,
        "memory": mem,
        "repository_query_plans": plans,
        "inclusion_median_us": inc_us,
        "consistency_median_us": con_us,
        "ratio_inclusion_to_memory": ratio(mem, "inclusion"),
        "ratio_consistency_to_memory": ratio(mem, "consistency"),
        "ratio_inclusion_to_bare_sqlite3": ratio(raw, "inclusion"),
        "ratio_consistency_to_bare_sqlite3": ratio(raw, "consistency"),
        "proofs_verified": checked,
        "all_proofs_verified": checked == expected,
        "goal": f"median < {GOAL_PROOF_US:g} us per inclusion and per consistency proof "
        "(SQLite via AuditRepository, in process)",
        "goal_met": bool(
            inc_us is not None
            and con_us is not None
            and inc_us < GOAL_PROOF_US
            and con_us < GOAL_PROOF_US
            and checked == expected
        ),
    }


def _verify_all(
    memory: MemoryNodeStore,
    inc: Sequence[tuple[int, int]],
    con: Sequence[tuple[int, int]],
    times: Mapping[str, _ProofTimes],
) -> int:
    """Check every proof of every store against ``root_at``; return how many passed."""
    roots: dict[int, bytes] = {}

    def root(size: int) -> bytes:
        if size not in roots:
            roots[size] = root_at(memory, size)
        return roots[size]

    ok = 0
    for t in times.values():
        for (index, size), proof in zip(inc, t.inclusion, strict=False):
            lh = memory.get_nodes([(0, index)])[(0, index)]
            verify_inclusion(leaf_hash=lh, index=index, size=size, proof=proof, root=root(size))
            ok += 1
        for (first, second), proof in zip(con, t.consistency, strict=False):
            verify_consistency(
                first=first,
                second=second,
                first_root=root(first),
                second_root=root(second),
                proof=proof,
            )
            ok += 1
    return ok


# -- audit_overhead --------------------------------------------------------------


_UNAUDITED = AuditScope(request_id="unaudited-bench")


def _no_operation(*_a: Any, **_k: Any) -> contextlib.nullcontext[AuditScope]:
    return contextlib.nullcontext(_UNAUDITED)


def _no_commit_scope(scope: AuditScope, *_a: Any, **_k: Any) -> None:
    return None


@contextlib.contextmanager
def audit_stripped(vault: Vault) -> Iterator[None]:
    """Remove the audit hooks from one vault instance for the duration of the block.

    Bench harness only. Three things are stripped: ``vault.db.write_hook``
    (the wrapper that puts a request's entry into the write's own
    transaction) is set to ``None``; ``vault.audit.operation`` (opens a scope
    per in-process operation, appends an entry on failure or at the end) and
    ``vault.audit.commit_scope`` (a read's durable entry, committed before
    the plaintext is returned) are shadowed on that instance by no-ops. What
    remains is the vault's own work: policy, the KV queries, envelope
    encryption, and for writes the durable group commit.
    """
    audit = vault.audit
    hook = vault.db.write_hook
    vault.db.write_hook = None
    setattr(audit, "operation", _no_operation)  # noqa: B010 - shadow the method on the instance
    setattr(audit, "commit_scope", _no_commit_scope)  # noqa: B010
    try:
        yield
    finally:
        del audit.operation
        del audit.commit_scope
        vault.db.write_hook = hook


def _kv_slices(vault: Vault, paths: int) -> dict[str, Callable[[float], _Slice]]:
    root = vault.tokens.authenticate(ROOT_TOKEN)
    data = {"password": _SECRET}
    kv = vault.kv

    def put(t: int, n: int) -> None:
        kv.put(root, "secret", f"bench/t{t}/r{n % paths}", data)

    def get(t: int, n: int) -> None:
        kv.get(root, "secret", f"bench/t{(t + n) % OVERHEAD_THREADS}/r{(n * 7) % paths}")

    def audited(op: Callable[[int, int], None]) -> Callable[[float], _Slice]:
        def run(seconds: float) -> _Slice:
            if vault.db.write_hook is None:
                raise RuntimeError("auditing is not on")
            return _hammer(op, threads=OVERHEAD_THREADS, seconds=seconds)

        return run

    def stripped(op: Callable[[int, int], None]) -> Callable[[float], _Slice]:
        def run(seconds: float) -> _Slice:
            with audit_stripped(vault):
                return _hammer(op, threads=OVERHEAD_THREADS, seconds=seconds)

        return run

    return {
        "put_audited": audited(put),
        "put_baseline": stripped(put),
        "get_audited": audited(get),
        "get_baseline": stripped(get),
    }


def run_overhead(*, quick: bool) -> dict[str, Any]:
    """Run ``audit_overhead`` and return its JSON result."""
    rounds, slice_s, warmup_s = (2, 1.0, 0.5) if quick else (5, 2.0, 1.0)
    paths = 16
    with tempfile.TemporaryDirectory(prefix="sr-bench-overhead-") as tmp:
        vault = _dev_vault(Path(tmp))
        try:
            root = vault.tokens.authenticate(ROOT_TOKEN)
            for t in range(OVERHEAD_THREADS):
                for p in range(paths):
                    vault.kv.put(root, "secret", f"bench/t{t}/r{p}", {"password": _SECRET})
            slices = _kv_slices(vault, paths)
            for fn in slices.values():
                fn(warmup_s)
            size0 = vault.audit.size()
            per_op: dict[str, dict[str, _Runs]] = {}
            for kind in ("put", "get"):
                pair = {f"{kind}_audited": slices[f"{kind}_audited"]}
                pair[f"{kind}_baseline"] = slices[f"{kind}_baseline"]
                per_op[kind] = _interleaved(pair, rounds=rounds, slice_s=slice_s)
            entries_added = vault.audit.size() - size0
            audited_ops = sum(
                s.ops for kind in ("put", "get") for s in per_op[kind][f"{kind}_audited"].slices
            )
        finally:
            vault.close()
    out: dict[str, Any] = {}
    ok = True
    for kind, runs in per_op.items():
        a, b = runs[f"{kind}_audited"], runs[f"{kind}_baseline"]
        overhead = 1 - _median_ratio(a, b)
        ok = ok and overhead < GOAL_OVERHEAD
        print(
            f"  kv.{kind}: audited {a.rate:.0f}/s, baseline {b.rate:.0f}/s, "
            f"overhead {100 * overhead:.1f}%",
            file=sys.stderr,
        )
        out[kind] = {
            "audited": a.summary("ops_per_second"),
            "baseline": b.summary("ops_per_second"),
            "overhead": rounded(overhead),
            "overhead_pct": rounded(100 * overhead),
        }
    return {
        "description": (
            f"Cost of auditing on the core vault, in process, {OVERHEAD_THREADS} threads on one "
            "dev vault (SQLite, group commit): vault.kv.put of a ~100-byte record (16 paths per "
            "thread, each put a new version) and vault.kv.get of those records, with "
            "auditing as shipped versus a baseline with the audit hooks stripped from that "
            "vault instance in the bench harness only: vault.db.write_hook = None (no entry "
            "in the write's transaction) and vault.audit.operation / vault.audit.commit_scope "
            "shadowed by no-ops (no scope, no entry, no durable audit commit before a read "
            "returns). Audited and baseline slices alternate within each round; overhead = "
            "1 - audited/baseline, median of the per-round ratios."
        ),
        "threads": OVERHEAD_THREADS,
        "rounds": rounds,
        "slice_s": slice_s,
        **out,
        "audit_entries_added": entries_added,
        "one_entry_per_audited_op": entries_added == audited_ops,
        "goal": f"overhead < {100 * GOAL_OVERHEAD:g}% for kv.put and for kv.get",
        "goal_met": bool(ok),
    }
