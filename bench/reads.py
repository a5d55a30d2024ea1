"""``http_reads``: reads over HTTP, flat out and at a fixed offered rate.

A fresh dev server (group commit on, SQLite) is loaded with records, then:

1. **max reads versus peer**, interleaved (:mod:`bench.rounds`): ``GET
   /v1/secret/data/<path>`` of the pre-written records flat out from 64
   keep-alive connections (authenticate, policy, queries, unwrap the DEK,
   decrypt, JSON), taking turns in short rounds with ``GET /livez`` on the
   same server: the same HTTP stack (uvicorn, FastAPI, middleware, thread
   pool) doing no vault work, the ceiling any route reaches on this core.
   ``ratio_to_livez`` is the median of the per-round ratios;
2. **fixed rate**: 1000 reads/s offered on an open-loop schedule for a fixed
   time; latency is measured from each request's scheduled send time, so
   queueing behind a slow response is counted (no coordinated omission);
3. **half of max**: the same at half the measured maximum, a load the server
   can sustain (information only; the goal is judged at 1000 reads/s).

Example::

    >>> NAME
    'http_reads'
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.loadgen import (
    LoadResult,
    RequestFactory,
    build_request,
    closed_loop,
    open_loop,
    run_async,
    send_all,
)
from bench.machine import CPUPlan, pinned, process_cpu_seconds
from bench.rounds import Contender, Load, interleave, median_ratio
from bench.server import HOST, ROOT_TOKEN, ServerProcess
from bench.stats import rounded, summarize_ms
from bench.writes import write_body

__all__ = ["FIXED_RATE", "GOAL_P99_MS", "GOAL_READS", "NAME", "run"]

NAME = "http_reads"
GOAL_READS = 3000.0
"""Goal: >= 3000 reads per second flat out."""
GOAL_P99_MS = 10.0
"""Goal: p99 < 10 ms at the fixed offered rate."""
FIXED_RATE = 1000.0
"""Offered rate of the latency phase, requests per second."""

CONNECTIONS = 64
_SETTLE_S = 0.5


def _fixed_rate(
    port: int, make: RequestFactory, *, rate: float, duration_s: float, warmup_s: float
) -> dict[str, Any]:
    """Offer ``rate`` requests/s open-loop and return the JSON summary of the phase."""
    wall0 = time.perf_counter()
    # At most one connection per request/s, so that at low rates no connection
    # idles past the server's keep-alive timeout (uvicorn: 5 s) between uses.
    connections = min(CONNECTIONS, max(1, int(rate)))
    res = run_async(
        open_loop(
            HOST,
            port,
            make_request=make,
            rate=rate,
            connections=connections,
            duration_s=duration_s,
            warmup_s=warmup_s,
        )
    )
    wall = time.perf_counter() - wall0
    lag = summarize_ms(res.send_lag_s)
    return {
        "offered_per_second": rate,
        "connections": connections,
        "duration_s": duration_s,
        "scheduled": res.scheduled,
        "ok": res.ok,
        "errors": res.error_summary(),
        "achieved_per_second": rounded(res.rate),
        **summarize_ms(res.latencies_s),
        "send_lag_p50_ms": lag.get("p50_ms"),
        "send_lag_p99_ms": lag.get("p99_ms"),
        "loadgen_cpu_utilisation": rounded(res.loadgen_cpu_s / wall),
    }


def _with_server_cpu(pid: int, phase: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run ``phase()`` and add the server's CPU utilisation over it to its result."""
    cpu0 = process_cpu_seconds(pid)
    wall0 = time.perf_counter()
    out = phase()
    wall = time.perf_counter() - wall0
    cpu1 = process_cpu_seconds(pid)
    out["server_cpu_utilisation"] = (
        rounded((cpu1 - cpu0) / wall) if cpu0 is not None and cpu1 is not None else None
    )
    return out


def run(*, quick: bool, plan: CPUPlan) -> dict[str, Any]:
    """Run the benchmark and return its JSON result."""
    records = 2_000 if quick else 10_000
    rounds, slice_s, warmup_s = (3, 1.0, 1.0) if quick else (5, 2.0, 2.0)
    fixed_s, fixed_warmup_s = (3.0, 1.0) if quick else (10.0, 1.0)
    with (
        tempfile.TemporaryDirectory(prefix="sr-bench-reads-") as tmp,
        ServerProcess(Path(tmp), max_batch=512, cpu=plan.server) as server,
        pinned(plan.client),
    ):
        host = f"{HOST}:{server.port}"
        auth = {"X-Strongroom-Token": ROOT_TOKEN}
        paths = [f"/v1/secret/data/bench/r{i:06d}" for i in range(records)]
        puts = [
            build_request(
                "PUT",
                p,
                host=host,
                headers={**auth, "Content-Type": "application/json"},
                body=write_body(),
            )
            for p in paths
        ]
        fill = run_async(send_all(HOST, server.port, requests=puts, connections=CONNECTIONS))
        if fill.ok != records:
            raise RuntimeError(f"loading records failed: {fill.error_summary()}")
        print(f"  loaded {records} records in {fill.window_s:.1f} s", file=sys.stderr)
        gets = [build_request("GET", p, host=host, headers=auth) for p in paths]
        livez = build_request("GET", "/livez", host=host)

        def read(conn: int, seq: int) -> bytes:
            return gets[(seq * CONNECTIONS + conn) % records]

        def flat_out(make: RequestFactory) -> Load:
            def load(duration_s: float, warm_s: float) -> LoadResult:
                return run_async(
                    closed_loop(
                        HOST,
                        server.port,
                        make_request=make,
                        connections=CONNECTIONS,
                        duration_s=duration_s,
                        warmup_s=warm_s,
                    )
                )

            return load

        measured = interleave(
            {
                "reads": Contender(flat_out(read), server.pid),
                "livez": Contender(flat_out(lambda _c, _s: livez), server.pid),
            },
            rounds=rounds,
            slice_s=slice_s,
            warmup_s=warmup_s,
            settle_s=_SETTLE_S,
        )
        max_rate = measured["reads"].merged.rate
        print(
            f"  max reads: {max_rate:.0f} reads/s; /livez: "
            f"{measured['livez'].merged.rate:.0f} req/s",
            file=sys.stderr,
        )
        fixed = _with_server_cpu(
            server.pid,
            lambda: _fixed_rate(
                server.port, read, rate=FIXED_RATE, duration_s=fixed_s, warmup_s=fixed_warmup_s
            ),
        )
        print(
            f"  {FIXED_RATE:.0f}/s offered: p99 {fixed.get('p99_ms')} ms, "
            f"achieved {fixed['achieved_per_second']}/s",
            file=sys.stderr,
        )
        # Latency at a load this server can sustain: half its measured maximum.
        half_rate = max(10.0, round(max_rate / 2, -1))
        half = _with_server_cpu(
            server.pid,
            lambda: _fixed_rate(
                server.port, read, rate=half_rate, duration_s=fixed_s, warmup_s=fixed_warmup_s
            ),
        )
        argv = server.argv
    ratio = median_ratio(measured["reads"], measured["livez"])
    p99 = fixed.get("p99_ms")
    met = (
        max_rate >= GOAL_READS
        and p99 is not None
        and p99 < GOAL_P99_MS
        and not fixed["errors"]
        and fixed["ok"] == fixed["scheduled"]
    )
    return {
        "description": (
            f"GET of {records} pre-written records over HTTP flat out from {CONNECTIONS} "
            f"keep-alive connections, interleaved with GET /livez on the same server "
            f"({rounds} alternating rounds of {slice_s:g} s after a {warmup_s:g} s warm-up); "
            f"then {FIXED_RATE:g} reads/s offered open-loop for {fixed_s:g} s, latency from "
            "each request's scheduled send time, and the same at half the measured maximum."
        ),
        "records": records,
        "connections": CONNECTIONS,
        "rounds": rounds,
        "slice_s": slice_s,
        "max": measured["reads"].summary("reads_per_second"),
        "peer_livez": measured["livez"].summary("requests_per_second"),
        "ratio_to_livez": rounded(ratio),
        "ratio_method": "median over rounds of read rate / GET /livez rate",
        "fixed_rate": fixed,
        "fixed_rate_half_max": half,
        "server_command": " ".join(argv),
        "goal_reads_per_second": GOAL_READS,
        "goal_p99_ms": GOAL_P99_MS,
        "goal": (
            f"max >= {GOAL_READS:g} reads/s and p99 < {GOAL_P99_MS:g} ms "
            f"at {FIXED_RATE:g} reads/s offered"
        ),
        "goal_met": met,
    }
