"""The security monitor wired to a vault: alerts recorded in, and read back from, the audit log.

The audit log is the alerts' only store. An alert is a ``monitor:alert:raise``
entry whose leaf index is its id, so it is as tamper-evident as anything
else in the log, survives every restore (the log is never rolled back) and
needs no table of its own; an acknowledgement is a ``monitor:alert:ack``
entry naming that id. Listing alerts is a search of the log by event.

Example::

    >>> DISPOSITIONS[0]
    'resolved'
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

from strongroom.config import Settings
from strongroom.errors import Conflict, InvalidInput, NotFound
from strongroom.ledger.entry import AuditEvent, Event, Outcome
from strongroom.monitor import Alert, AlertKind, Thresholds
from strongroom.monitor.service import MonitorService
from strongroom.monitor.webhook import WebhookSender
from strongroom.storage.audit import AuditRow, SearchQuery
from strongroom.vault import SYSTEM_TENANT, Vault
from strongroom.vault.audit import current_scope, note

__all__ = [
    "DISPOSITIONS",
    "AlertBook",
    "start_monitor",
    "stop_monitor",
]

log = logging.getLogger("strongroom.monitor")

DISPOSITIONS = ("resolved", "false_positive", "accepted_risk", "investigating")
"""What an acknowledgement may say about an alert."""

_PAGE = 1000
_request_ids = itertools.count(1)


def start_monitor(settings: Settings, vault: Vault) -> MonitorService | None:
    """Build, warm up and start the monitor for ``vault`` (None when disabled)."""
    if not settings.monitor_enabled:
        return None
    webhooks = None
    if settings.monitor_webhooks and settings.monitor_webhook_secret is not None:
        key = settings.monitor_webhook_secret.get_secret_value().encode()
        webhooks = WebhookSender(settings.monitor_webhooks, key=key)

    def record(alert: Alert) -> int:
        return vault.audit.commit(
            AuditEvent(
                event=Event.MONITOR_ALERT_RAISE,
                principal="system",
                tenant=alert.tenant or SYSTEM_TENANT,
                resource=f"sys/monitor/alerts/{alert.kind}",
                outcome=Outcome.ALLOWED,
                request_id=f"monitor-{next(_request_ids)}",
                details=alert.details(),
            )
        ).index

    svc = MonitorService(Thresholds.from_settings(settings), record=record, webhooks=webhooks)
    # Subscribed first, then history read: nothing falls between the two
    # (what both hold is looked at once, see MonitorService.learn).
    vault.audit.subscribe(svc.feed)
    svc.start(history=lambda: _recent(vault, settings.monitor_warmup_entries))
    return svc


def stop_monitor(vault: Vault, svc: MonitorService | None) -> None:
    """Unsubscribe and stop."""
    if svc is not None:
        vault.audit.unsubscribe(svc.feed)
        svc.close()


def _recent(vault: Vault, n: int) -> Iterator[bytes]:
    size = vault.audit.size()
    start = max(0, size - n)
    while start < size:
        rows = vault.audit.entries(start, min(size, start + _PAGE))
        if not rows:
            return
        for row in rows:
            yield row.entry
        start = rows[-1].seq + 1


def _view(row: AuditRow) -> dict[str, Any]:
    obj = json.loads(row.entry)
    d: dict[str, Any] = obj.get("details", {})
    return {
        "id": row.seq,
        "kind": d.get("kind"),
        "severity": d.get("severity"),
        "subject": d.get("subject"),
        "client": d.get("client"),
        "tenant": obj.get("tenant"),
        "summary": d.get("summary"),
        "reasons": d.get("reasons", []),
        "time": obj.get("time"),
        "first_time_ms": d.get("first_time_ms"),
        "first_seq": d.get("first_seq"),
        "last_seq": d.get("last_seq"),
        "evidence": d.get("evidence", {}),
        "acknowledged": None,
    }


class AlertBook:
    """Alerts as the log tells them: list, look up, acknowledge."""

    def __init__(self, vault: Vault) -> None:
        self._v = vault
        self._ack_lock = threading.Lock()

    def _search(self, event: Event, *, after: int | None, limit: int) -> list[AuditRow]:
        # Only what happened: a refused or failed request is logged under the
        # same event (with whatever its caller put in the path).
        return self._v.audit.search(
            SearchQuery(event=str(event), outcome="allowed", after_seq=after, limit=limit)
        )

    def _acks(self, after: int | None) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        cursor = after
        while True:
            rows = self._search(Event.MONITOR_ALERT_ACK, after=cursor, limit=_PAGE)
            for row in rows:
                obj = json.loads(row.entry)
                alert = obj.get("details", {}).get("alert")
                if not isinstance(alert, int):
                    continue
                out.setdefault(
                    alert,
                    {
                        "by": obj.get("principal"),
                        "time": obj.get("time"),
                        "disposition": obj.get("details", {}).get("disposition"),
                        "entry": row.seq,
                    },
                )
            if len(rows) < _PAGE:
                return out
            cursor = rows[-1].seq

    def list(
        self,
        *,
        status: str = "open",
        kind: str | None = None,
        after: int | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Alerts after id ``after`` (oldest first), filtered by status and kind."""
        if status not in ("open", "acknowledged", "all"):
            raise InvalidInput("status must be open, acknowledged or all")
        if kind is not None and kind not in {str(k) for k in AlertKind}:
            raise InvalidInput(f"kind must be one of {', '.join(str(k) for k in AlertKind)}")
        if not 1 <= limit <= _PAGE:
            raise InvalidInput(f"limit must be between 1 and {_PAGE}")
        acks = self._acks(after)
        out: list[dict[str, Any]] = []
        cursor = after
        while len(out) < limit:
            rows = self._search(Event.MONITOR_ALERT_RAISE, after=cursor, limit=_PAGE)
            for row in rows:
                view = _view(row)
                view["acknowledged"] = acks.get(row.seq)
                if kind is not None and view["kind"] != kind:
                    continue
                if status == "open" and view["acknowledged"] is not None:
                    continue
                if status == "acknowledged" and view["acknowledged"] is None:
                    continue
                out.append(view)
                if len(out) == limit:
                    break
            if len(rows) < _PAGE:
                break
            cursor = rows[-1].seq
        return out

    def get(self, alert_id: int) -> dict[str, Any]:
        """One alert; NotFound unless entry ``alert_id`` is an alert."""
        if alert_id < 0 or alert_id >= self._v.audit.size():
            raise NotFound("no such alert")
        rows = self._v.audit.entries(alert_id, alert_id + 1)
        if not rows or rows[0].event != str(Event.MONITOR_ALERT_RAISE):
            raise NotFound("no such alert")
        view = _view(rows[0])
        view["acknowledged"] = self._acks(alert_id - 1 if alert_id else None).get(alert_id)
        return view

    def acknowledge(self, alert_id: int, *, disposition: str) -> dict[str, Any]:
        """Record an acknowledgement (the request's own entry); Conflict if already done."""
        if disposition not in DISPOSITIONS:
            raise InvalidInput(f"disposition must be one of {', '.join(DISPOSITIONS)}")
        scope = current_scope()
        if scope is None:  # pragma: no cover - only called from a request
            raise RuntimeError("acknowledge() needs an audit scope")
        # One at a time, so two operators cannot both acknowledge one alert.
        with self._ack_lock:
            view = self.get(alert_id)
            if view["acknowledged"] is not None:
                raise Conflict("the alert is already acknowledged")
            note(alert=alert_id, disposition=disposition)
            receipt = self._v.audit.commit_scope(scope)
        view["acknowledged"] = {
            "by": scope.principal,
            "disposition": disposition,
            "entry": receipt.index,
        }
        return view
