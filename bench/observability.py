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
commits, decryption. Timed: sequential ``GET /v1/secret/data/…`` reads,
alternating full and bare rounds; the best round of each is reported.
Overhead = 1 - full rate / bare rate. Goal: under 10%. Tracing is off in
both (it costs nothing unless an exporter is configured).

Example::

    >>> NAME
    'observability_overhead'
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.server import ROOT_TOKEN
from bench.stats import rounded
from strongroom.api.app import create_app
from strongroom.api.middleware import HttpMetrics
from strongroom.api.protection import Throttle
from strongroom.config import Settings
from strongroom.observability import configure_logging
from strongroom.vault.service import Vault

__all__ = ["GOAL_PCT", "NAME", "run"]

NAME = "observability_overhead"
GOAL_PCT = 10.0


async def _reads(app: Any, n: int) -> float:
    """Seconds for ``n`` sequential authenticated reads through ``app``."""
    transport = httpx.ASGITransport(app=app)
    headers = {"X-Strongroom-Token": ROOT_TOKEN}
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        start = time.perf_counter()
        for i in range(n):
            r = await client.get(f"/v1/secret/data/obs/{i % 100}", headers=headers)
            if r.status_code != 200:
                raise RuntimeError(f"read failed: {r.status_code} {r.text[:200]}")
        return time.perf_counter() - start


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
    n = 300 if quick else 2_000
    rounds = 2 if quick else 3
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
            times: dict[str, list[float]] = {"full": [], "bare": []}
            for _ in range(rounds):
                for name, app, level in (("full", full, "info"), ("bare", bare, "warning")):
                    _configure(level)
                    times[name].append(asyncio.run(_reads(app, n)))
            logging.getLogger().handlers.clear()
        finally:
            vault.close()
    full_rate = n / min(times["full"])
    bare_rate = n / min(times["bare"])
    overhead = (1 - full_rate / bare_rate) * 100
    print(
        f"  full {full_rate:,.0f} reads/s, bare {bare_rate:,.0f} reads/s, overhead {overhead:.1f}%",
        file=sys.stderr,
    )
    return {
        "description": (
            "Per-request cost of metrics, the access log with redaction and the rate limiter: "
            "sequential authenticated reads in process through ASGI, the shipped app against "
            "the same app without them (logging at warning)."
        ),
        "reads_per_round": n,
        "rounds": rounds,
        "full_reads_per_second": rounded(full_rate),
        "bare_reads_per_second": rounded(bare_rate),
        "per_request_cost_us": rounded((1 / full_rate - 1 / bare_rate) * 1e6),
        "overhead_pct": rounded(overhead),
        "goal": f"overhead < {GOAL_PCT}%",
        "goal_met": overhead < GOAL_PCT,
    }
