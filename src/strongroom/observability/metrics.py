"""Prometheus metrics: one registry for the process, rendered at ``/v1/sys/metrics``.

Names follow the Prometheus conventions: the ``strongroom_`` prefix, base
units (seconds, bytes), ``_total`` on counters (the client library adds
it), and no high-cardinality labels (no paths, no principals, no ids).

Only backups report here so far; the rest of the families (HTTP, vault,
crypto, ledger, rate limits, alerts) come with the observability work.

Example::

    >>> body, content_type = render()
    >>> b"strongroom_backup_last_success_timestamp_seconds" in body
    True
    >>> content_type.startswith("text/plain")
    True
"""

from __future__ import annotations

from typing import Final

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# The *_created series double every counter and say nothing a scrape needs.
disable_created_metrics()  # type: ignore[no-untyped-call]

__all__ = [
    "BACKUPS",
    "BACKUP_LAST_DURATION",
    "BACKUP_LAST_SUCCESS",
    "REGISTRY",
    "record_backup",
    "render",
]

REGISTRY: Final = CollectorRegistry(auto_describe=True)
"""Strongroom's own registry (not the library's global default)."""

BACKUP_LAST_SUCCESS: Final = Gauge(
    "strongroom_backup_last_success_timestamp_seconds",
    "UNIX time at which the last backup was stored in its repository (0: none yet).",
    registry=REGISTRY,
)
BACKUP_LAST_DURATION: Final = Gauge(
    "strongroom_backup_last_duration_seconds",
    "How long the last successful backup took, from its consistent read to its manifest.",
    registry=REGISTRY,
)
BACKUPS: Final = Counter(
    "strongroom_backups",
    "Backups attempted, by outcome (success or error).",
    ["outcome"],
    registry=REGISTRY,
)
for _outcome in ("success", "error"):
    BACKUPS.labels(outcome=_outcome)


def record_backup(*, ok: bool, finished_at: float, duration_s: float) -> None:
    """Count one backup; on success, move the last-success time and duration."""
    BACKUPS.labels(outcome="success" if ok else "error").inc()
    if ok:
        BACKUP_LAST_SUCCESS.set(finished_at)
        BACKUP_LAST_DURATION.set(duration_s)


def render() -> tuple[bytes, str]:
    """The exposition text of every Strongroom metric, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
