"""Prometheus metrics: the process's families, rendered at ``/v1/sys/metrics``.

Names follow the Prometheus conventions: the ``strongroom_`` prefix, base
units (seconds, bytes), ``_total`` on counters (the client library adds
it), and no high-cardinality labels: routes are templates
(``/v1/{mount}/data/{path:path}``), never paths; no principal, token,
record or client address is ever a label.

Two kinds of families:

* counters and histograms below, updated as things happen (requests,
  audited operations, crypto operations, audit failures, backups);
* gauges read at scrape time from the vault's state (seal state, KEK
  versions, ledger size, checkpoint age) by a collector the API registers
  per app (:mod:`strongroom.vault.metrics`), rendered with these by
  :func:`render`.

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
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# The *_created series double every counter and say nothing a scrape needs.
disable_created_metrics()  # type: ignore[no-untyped-call]

__all__ = [
    "ALERTS",
    "ALERT_DELIVERIES",
    "AUDIT_FAILURES",
    "BACKUPS",
    "BACKUP_LAST_DURATION",
    "BACKUP_LAST_SUCCESS",
    "CRYPTO_OPERATIONS",
    "HTTP_DURATION",
    "HTTP_REQUESTS",
    "LOCKOUTS",
    "MONITOR_DROPPED",
    "RATE_LIMITED",
    "RATE_LIMIT_ERRORS",
    "REGISTRY",
    "VAULT_OPERATIONS",
    "record_backup",
    "render",
]

REGISTRY: Final = CollectorRegistry(auto_describe=True)
"""Strongroom's own registry (not the library's global default)."""

# -- HTTP -----------------------------------------------------------------------

HTTP_REQUESTS: Final = Counter(
    "strongroom_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_DURATION: Final = Histogram(
    "strongroom_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by method and route template.",
    ["method", "route"],
    # From a cached read (~1 ms) to a backup or a rewrap batch (seconds).
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)

# -- the vault ------------------------------------------------------------------

VAULT_OPERATIONS: Final = Counter(
    "strongroom_vault_operations",
    "Operations recorded in the audit log (counted once durable), by event and outcome.",
    ["event", "outcome"],
    registry=REGISTRY,
)
AUDIT_FAILURES: Final = Counter(
    "strongroom_audit_failures",
    "Audit entries that could not be written (the operation was refused: fail-closed).",
    registry=REGISTRY,
)
CRYPTO_OPERATIONS: Final = Counter(
    "strongroom_crypto_operations",
    "Envelope operations on records: seal (encrypt), open (decrypt), rewrap (new KEK).",
    ["operation"],
    registry=REGISTRY,
)
for _op in ("seal", "open", "rewrap"):
    CRYPTO_OPERATIONS.labels(operation=_op)

# -- protection -----------------------------------------------------------------

RATE_LIMITED: Final = Counter(
    "strongroom_rate_limited",
    "Requests answered 429, by why: token or ip (over a rate limit), lockout.",
    ["scope"],
    registry=REGISTRY,
)
for _scope in ("token", "ip", "lockout"):
    RATE_LIMITED.labels(scope=_scope)
LOCKOUTS: Final = Counter(
    "strongroom_lockouts",
    "Client addresses locked out after too many failed authentications or unseal attempts.",
    registry=REGISTRY,
)
RATE_LIMIT_ERRORS: Final = Counter(
    "strongroom_rate_limit_errors",
    "Requests let through because the rate-limit store (Redis) could not be reached.",
    registry=REGISTRY,
)

# -- security monitor -----------------------------------------------------------

ALERTS: Final = Counter(
    "strongroom_alerts",
    "Alerts the security monitor raised, by kind.",
    ["kind"],
    registry=REGISTRY,
)
for _kind in ("brute_force", "enumeration", "exfiltration", "unusual_access", "anomaly"):
    ALERTS.labels(kind=_kind)
ALERT_DELIVERIES: Final = Counter(
    "strongroom_alert_webhook_deliveries",
    "Alert webhook deliveries, by outcome: delivered, retried (one failed attempt), failed.",
    ["outcome"],
    registry=REGISTRY,
)
for _outcome in ("delivered", "retried", "failed"):
    ALERT_DELIVERIES.labels(outcome=_outcome)
MONITOR_DROPPED: Final = Counter(
    "strongroom_monitor_dropped_entries",
    "Audit entries the monitor could not keep up with (its queue was full).",
    registry=REGISTRY,
)

# -- backups --------------------------------------------------------------------

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


def render(*extra: CollectorRegistry) -> tuple[bytes, str]:
    """The exposition text of the process's metrics and of ``extra`` registries."""
    body = generate_latest(REGISTRY) + b"".join(generate_latest(r) for r in extra)
    return body, CONTENT_TYPE_LATEST
