"""Interleaved measurement: contenders take turns in short rounds.

On a shared machine the background load drifts over seconds. Measuring
contender A for ten seconds and then B for ten seconds lets that drift leak
into the ratio A/B. Here each contender runs for one short slice per round,
in alternating order (A B, B A, A B, ...), and the ratio is the median of the
per-round ratios, so drift that is slow compared with a round cancels out.

Example::

    >>> alternating(["a", "b"], 3)
    [['a', 'b'], ['b', 'a'], ['a', 'b']]
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.loadgen import LoadResult
from bench.machine import process_cpu_seconds
from bench.stats import rounded, summarize_ms

__all__ = ["Contender", "Interleaved", "Load", "alternating", "interleave", "median_ratio"]

Load = Callable[[float, float], LoadResult]
"""``(duration_s, warmup_s) -> LoadResult``: one slice of load on one contender."""


@dataclass(slots=True)
class Contender:
    """Something to load: the load function and the server process it hits."""

    load: Load
    server_pid: int


@dataclass(slots=True)
class Interleaved:
    """Every slice one contender ran, merged, with per-round rates and CPU use."""

    slices: list[LoadResult] = field(default_factory=list)
    server_cpu_s: float = 0.0
    wall_s: float = 0.0

    @property
    def merged(self) -> LoadResult:
        """All measurement windows combined."""
        return LoadResult.merge(self.slices)

    @property
    def round_rates(self) -> list[float]:
        """Successful responses per second, one per round."""
        return [s.rate for s in self.slices]

    def summary(self, rate_key: str) -> dict[str, Any]:
        """JSON form: rate, per-round rates, counts, latencies and CPU utilisation."""
        m = self.merged
        return {
            rate_key: rounded(m.rate),
            "round_rates": [rounded(r) for r in self.round_rates],
            "ok": m.ok,
            "errors": m.error_summary(),
            **summarize_ms(m.latencies_s),
            "server_cpu_utilisation": rounded(self.server_cpu_s / self.wall_s)
            if self.wall_s
            else None,
            "loadgen_cpu_utilisation": rounded(m.loadgen_cpu_s / self.wall_s)
            if self.wall_s
            else None,
        }


def alternating(names: list[str], rounds: int) -> list[list[str]]:
    """The order of each round: as given, then reversed, and so on."""
    return [list(names) if r % 2 == 0 else list(reversed(names)) for r in range(rounds)]


def interleave(
    contenders: dict[str, Contender],
    *,
    rounds: int,
    slice_s: float,
    warmup_s: float,
    settle_s: float,
) -> dict[str, Interleaved]:
    """Warm each contender up once, then run ``rounds`` alternating slices of ``slice_s``.

    ``settle_s`` is an unmeasured lead-in at the start of every slice (new
    connections, the thread pool ramping up).
    """
    out = {name: Interleaved() for name in contenders}
    for c in contenders.values():
        c.load(0.0, warmup_s)
    for order in alternating(list(contenders), rounds):
        for name in order:
            c = contenders[name]
            cpu0 = process_cpu_seconds(c.server_pid)
            wall0 = time.perf_counter()
            res = c.load(slice_s, settle_s)
            wall = time.perf_counter() - wall0
            cpu1 = process_cpu_seconds(c.server_pid)
            out[name].slices.append(res)
            out[name].wall_s += wall
            if cpu0 is not None and cpu1 is not None:
                out[name].server_cpu_s += cpu1 - cpu0
    return out


def median_ratio(a: Interleaved, b: Interleaved) -> float:
    """Median over rounds of ``rate(a) / rate(b)`` (``inf`` when ``b`` never succeeded)."""
    ratios = [
        x / y if y else float("inf") for x, y in zip(a.round_rates, b.round_rates, strict=True)
    ]
    return statistics.median(ratios)
