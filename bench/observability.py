"""``observability_overhead``: what metrics, logging, redaction and rate limits cost per request.

In process, through the ASGI interface (``httpx.ASGITransport``), so that
neither the network nor the load generator blurs a per-request cost of tens
of microseconds. One dev vault with 100 records; two apps over it, built
by ``create_app``:

* **full**: as shipped: the metrics middleware, the rate limiter (memory),
  the access line per request at ``info`` through the JSON renderer and the
  redaction processor (written to ``/dev/null``);
* **bare**: the same app without the metrics middleware and the rate
  limiter, and logging at ``warning`` (the access line is dropped before any
  processor runs).

Both keep everything else: authentication, policy, the audit entry each read
commits, decryption. Timed: sequential ``GET /v1/secret/data/…`` reads in
process CPU time, alternating full and bare rounds; each pair gives an
overhead = 1 - bare time / full time, and the median pair is reported (with
the range). Goal: under 10%. Reported beside it, not in it: what the
security monitor adds when it reads the log of the same requests (its
thread's CPU time counts; the rounds wait for its queue to drain). Tracing is off in
both (it costs nothing unless an exporter is configured).

Example::

    >>> NAME
    'observability_overhead'
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.server import ROOT_TOKEN
from bench.stats import rounded
from strongroom.api.app import create_app
from strongroom.api.middleware import HttpMetrics
from strongroom.api.monitoring import start_monitor, stop_monitor
from strongroom.api.protection import Throttle
from strongroom.config import Settings
from strongroom.observability import configure_logging
from strongroom.vault.service import Vault

__all__ = ["GOAL_PCT", "NAME", "run"]

NAME = "observability_overhead"
GOAL_PCT = 10.0


async def _reads(app: Any, n: int, settle: Callable[[], None] = lambda: None) -> float:
    """CPU seconds this process spent on ``n`` sequential authenticated reads through ``app``.

    CPU time, not wall time: on a small shared machine other processes move
    wall time by more than the few percent being measured.
    """
    transport = httpx.ASGITransport(app=app)
    headers = {"X-Strongroom-Token": ROOT_TOKEN}
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for i in range(20):  # warm the route, the caches and the connection
            await client.get(f"/v1/secret/data/obs/{i}", headers=headers)
        start = time.process_time()
        for i in range(n):
            r = await client.get(f"/v1/secret/data/obs/{i % 100}", headers=headers)
            if r.status_code != 200:
                raise RuntimeError(f"read failed: {r.status_code} {r.text[:200]}")
        settle()  # work the requests left behind (the monitor's queue) is theirs too
        return time.process_time() - start


def _configure(level: str) -> None:
    configure_logging(fmt="json", level=level)
    # The client's own request lines (httpx logs each at info) are not the server's cost.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(
                open(  # noqa: SIM115 - kept open for the run
                    "/dev/null", "w", encoding="utf-8"
                )
            )


def run(*, quick: bool) -> dict[str, Any]:
    """Run the benchmark and return its JSON result."""
    n = 300 if quick else 1_000
    rounds = 3 if quick else 11
    with tempfile.TemporaryDirectory(prefix="sr-bench-obs-") as tmp:
        settings = Settings(data_dir=Path(tmp), dev=True, dev_root_token=ROOT_TOKEN)
        vault = Vault(settings)
        vault.open()
        try:
            root = vault.tokens.authenticate(ROOT_TOKEN)
            for i in range(100):
                vault.kv.put(root, "secret", f"obs/{i}", {"value": "x" * 200, "i": i})
            full = create_app(settings, vault=vault)
            bare = create_app(settings, vault=vault)
            stripped: set[Any] = {HttpMetrics, Throttle}
            bare.user_middleware = [
                m for m in bare.user_middleware if getattr(m, "cls", None) not in stripped
            ]
            times: dict[str, list[float]] = {"full": [], "bare": [], "monitored": []}
            for _ in range(rounds):
                for name, app, level in (("full", full, "info"), ("bare", bare, "warning")):
                    _configure(level)
                    times[name].append(asyncio.run(_reads(app, n)))
                # The shipped app with the security monitor reading the log
                # (its thread's CPU time is the process's too).
                _configure("info")
                # Without the start-up replay of recent history (it would be
                # timed with the reads, and a server does it once).
                watcher = start_monitor(
                    settings.model_copy(update={"monitor_warmup_entries": 0}), vault
                )
                if watcher is None:  # pragma: no cover - enabled by default
                    raise RuntimeError("the monitor is disabled")
                try:
                    times["monitored"].append(asyncio.run(_reads(full, n, watcher.drain)))
                finally:
                    stop_monitor(vault, watcher)
            logging.getLogger().handlers.clear()
        finally:
            vault.close()
    # Paired rounds (full, then bare, alternating): each pair's overhead, and
    # the median of those is the figure (one slow round moves a min or a
    # mean; it moves the median of eleven pairs much less).
    paired = sorted((1 - b / f) * 100 for f, b in zip(times["full"], times["bare"], strict=True))
    overhead = statistics.median(paired)
    full_rate = n / statistics.median(times["full"])
    bare_rate = n / statistics.median(times["bare"])
    monitor_pairs = sorted(
        (1 - f / m) * 100 for f, m in zip(times["full"], times["monitored"], strict=True)
    )
    monitor_cost = statistics.median(monitor_pairs)
    print(
        f"  full {full_rate:,.0f} reads/CPU-s, bare {bare_rate:,.0f} reads/CPU-s, overhead "
        f"{overhead:.1f}% (pairs {paired[0]:.1f}% to {paired[-1]:.1f}%); "
        f"the security monitor adds {monitor_cost:.1f}%",
        file=sys.stderr,
    )
    return {
        "description": (
            "Per-request cost of metrics, the access log with redaction and the rate limiter: "
            "sequential authenticated reads in process through ASGI, the shipped app against "
            "the same app without them (logging at warning); CPU time, median of paired rounds."
        ),
        "reads_per_round": n,
        "rounds": rounds,
        "clock": "process CPU time",
        "full_reads_per_second": rounded(full_rate),
        "bare_reads_per_second": rounded(bare_rate),
        "per_request_cost_us": rounded((1 / full_rate - 1 / bare_rate) * 1e6),
        "overhead_pct": rounded(overhead),
        "paired_overhead_pct_range": [rounded(paired[0]), rounded(paired[-1])],
        "monitored_reads_per_second": rounded(n / statistics.median(times["monitored"])),
        "monitor_overhead_pct": rounded(monitor_cost),
        "monitor_overhead_pct_range": [rounded(monitor_pairs[0]), rounded(monitor_pairs[-1])],
        "goal": f"overhead < {GOAL_PCT}%",
        "goal_met": overhead < GOAL_PCT,
    }
