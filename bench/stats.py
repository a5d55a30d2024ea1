"""Small statistics helpers shared by the benchmarks.

Example::

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
    2.5
    >>> summarize_ms([0.001, 0.002, 0.003])["p50_ms"]
    2.0
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence

__all__ = ["percentile", "rate_of", "rounded", "summarize_ms"]


def percentile(values: Sequence[float], pct: float) -> float:
    """Return the ``pct``-th percentile of ``values`` with linear interpolation.

    ``values`` need not be sorted. An empty sequence gives ``nan``.
    """
    if not values:
        return math.nan
    data = sorted(values)
    rank = (len(data) - 1) * pct / 100.0
    lo = math.floor(rank)
    hi = math.ceil(rank)
    if lo == hi:
        return data[lo]
    return data[lo] + (data[hi] - data[lo]) * (rank - lo)


def summarize_ms(latencies_s: Sequence[float]) -> dict[str, float | None]:
    """Summarise latencies given in seconds as milliseconds (p50, p90, p99, p99.9, max)."""
    data = sorted(latencies_s)
    if not data:
        return {}
    return {
        "p50_ms": rounded(percentile(data, 50) * 1e3),
        "p90_ms": rounded(percentile(data, 90) * 1e3),
        "p99_ms": rounded(percentile(data, 99) * 1e3),
        "p999_ms": rounded(percentile(data, 99.9) * 1e3),
        "max_ms": rounded(data[-1] * 1e3),
        "mean_ms": rounded(statistics.fmean(data) * 1e3),
    }


def rate_of(fn: Callable[[int], None], ops: int) -> float:
    """Time one call ``fn(ops)`` with ``perf_counter`` and return operations per second.

    ``fn`` must perform exactly ``ops`` operations.
    """
    start = time.perf_counter()
    fn(ops)
    return ops / (time.perf_counter() - start)


def rounded(value: float, digits: int = 3) -> float | None:
    """Round for readable JSON: one decimal from 100 up, else ``digits``; ``nan`` gives ``None``."""
    if math.isnan(value) or math.isinf(value):
        return None
    if abs(value) >= 100:
        return round(value, 1)
    return round(value, digits)
