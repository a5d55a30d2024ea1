"""``http_durable_writes``: durable writes per second over HTTP, group commit versus none.

The same server code runs twice, each on a fresh SQLite data dir: with
``group_commit_max_batch=512`` (many writes share one fsync'd transaction) and
with ``group_commit_max_batch=1`` (one durable commit per write: the peer).
The same client load drives both: 64 keep-alive connections, each PUTting
distinct paths with a ~100-byte secret, flat out. Both servers are up at once
and take turns in short alternating rounds after a warm-up
(:mod:`bench.rounds`), so drifting background load hits both alike; the
ratio is the median of the per-round ratios. Only 200 responses count. The
disk's raw ``fdatasync`` rate is measured in the same run as context (the
ceiling of one commit per write).

After each server stops, the rows in its database are counted, so every
acknowledged write is checked to be durable.

Example::

    >>> len(write_body()) > 100
    True
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.loadgen import LoadResult, build_request, closed_loop, run_async
from bench.machine import CPUPlan, fsync_rate, pinned
from bench.rounds import Contender, interleave, median_ratio
from bench.server import HOST, ROOT_TOKEN, ServerProcess
from bench.stats import rounded

__all__ = ["GOAL_RATIO", "GOAL_WRITES", "NAME", "run", "write_body"]

NAME = "http_durable_writes"
GOAL_RATIO = 10.0
"""Goal: group commit / one commit per write >= 10."""
GOAL_WRITES = 3000.0
"""Goal: >= 3000 durable writes per second with group commit."""

CONNECTIONS = 64
_SETTLE_S = 0.5
_RUNS = itertools.count()
_SECRET = "s3cr3t-" + "0123456789abcdef" * 5 + "-v1"  # ~90 characters


def write_body() -> bytes:
    """The JSON body of every write: ``{"data": {"password": <~100-byte secret>}}``."""
    return json.dumps({"data": {"password": _SECRET}}, separators=(",", ":")).encode()


def _load(port: int, duration_s: float, warmup_s: float, *, prefix: str) -> LoadResult:
    """Drive PUTs of distinct paths flat out for ``warmup_s + duration_s``.

    Paths are ``<prefix>/<run>/c<conn>/k<seq>``: every call writes new paths.
    """
    host = f"{HOST}:{port}"
    body = write_body()
    # Everything after the request line is the same for every write; only the
    # path changes, so each request is one bytes formatting operation.
    tail = build_request(
        "PUT",
        "/",
        host=host,
        headers={"X-Strongroom-Token": ROOT_TOKEN, "Content-Type": "application/json"},
        body=body,
    ).split(b"\r\n", 1)[1]

    run = next(_RUNS)
    base = f"/v1/secret/data/{prefix}/{run}".encode()

    def make(conn: int, seq: int) -> bytes:
        return b"PUT %b/c%d/k%d HTTP/1.1\r\n%b" % (base, conn, seq, tail)

    return run_async(
        closed_loop(
            HOST,
            port,
            make_request=make,
            connections=CONNECTIONS,
            duration_s=duration_s,
            warmup_s=warmup_s,
        )
    )


def _count_rows(data_dir: Path) -> int:
    """Count record versions durably stored in a stopped server's database."""
    with sqlite3.connect(f"file:{data_dir / 'strongroom.db'}?mode=ro", uri=True) as db:
        (n,) = db.execute("SELECT count(*) FROM kv_versions").fetchone()
    return int(n)


def run(*, quick: bool, plan: CPUPlan) -> dict[str, Any]:
    """Run the benchmark and return its JSON result."""
    rounds, slice_s, warmup_s = (3, 1.0, 1.0) if quick else (5, 2.0, 2.0)
    batches = {"group_commit": 512, "one_commit_per_write": 1}
    with contextlib.ExitStack() as stack:
        dirs = {
            name: Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sr-bench-writes-")))
            for name in batches
        }
        servers = {
            name: stack.enter_context(ServerProcess(dirs[name], max_batch=b, cpu=plan.server))
            for name, b in batches.items()
        }
        stack.enter_context(pinned(plan.client))
        contenders = {
            name: Contender(
                load=functools.partial(_load, srv.port, prefix=name), server_pid=srv.pid
            )
            for name, srv in servers.items()
        }
        measured = interleave(
            contenders, rounds=rounds, slice_s=slice_s, warmup_s=warmup_s, settle_s=_SETTLE_S
        )
        for srv in servers.values():
            srv.stop()
        rows = {name: _count_rows(d) for name, d in dirs.items()}
        fsyncs = fsync_rate(dirs["group_commit"], seconds=1.0 if quick else 2.0)
    parts: dict[str, dict[str, Any]] = {}
    for name, m in measured.items():
        ok = m.merged.ok
        parts[name] = {
            "group_commit_max_batch": batches[name],
            **m.summary("writes_per_second"),
            "rows_committed": rows[name],
            "all_acknowledged_writes_durable": rows[name] >= ok,
            "server_command": " ".join(servers[name].argv),
        }
        print(
            f"  max_batch={batches[name]}: {m.merged.rate:.0f} writes/s, "
            f"errors={m.merged.error_summary()}",
            file=sys.stderr,
        )
    ratio = median_ratio(measured["group_commit"], measured["one_commit_per_write"])
    group_rate = measured["group_commit"].merged.rate
    return {
        "description": (
            "Durable (acknowledged after fsync) PUTs per second over HTTP from "
            f"{CONNECTIONS} keep-alive connections writing distinct paths with a ~100-byte "
            "secret; group commit (max_batch=512) versus one commit per write (max_batch=1), "
            f"same server code, both servers up at once and loaded in turn: {rounds} "
            f"alternating rounds of {slice_s:g} s each after a {warmup_s:g} s warm-up."
        ),
        "connections": CONNECTIONS,
        "rounds": rounds,
        "slice_s": slice_s,
        "warmup_s": warmup_s,
        "body_bytes": len(write_body()),
        **parts,
        "ratio": rounded(ratio),
        "ratio_method": "median over rounds of group-commit rate / one-commit-per-write rate",
        "disk_fdatasync_per_second": rounded(fsyncs),
        "goal": f"ratio >= {GOAL_RATIO:g} and group commit >= {GOAL_WRITES:g} writes/s",
        "goal_met": ratio >= GOAL_RATIO and group_rate >= GOAL_WRITES,
    }
