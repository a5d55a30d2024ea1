"""The monitor at work in a server: a thread fed by the audit log, raising alerts.

The audit log calls :meth:`MonitorService.feed` with each entry once it is
durable (never blocking: a full queue drops the entry and counts it in
``strongroom_monitor_dropped_entries``). The thread parses entries, runs the
:class:`~strongroom.monitor.monitor.Monitor`, and for each alert:

1. records it through ``record`` (the API appends a ``monitor:alert:raise``
   entry to the audit log, whose leaf index becomes the alert's id); an alert
   that cannot be recorded yet (the log is unavailable) is kept and retried;
2. counts it in ``strongroom_alerts_total{kind}``;
3. hands it to the webhooks.

Entries are taken in batches (everything queued, then a ``batch_s`` pause),
so detection lags the log by at most that much. Every ``tick_s`` without
traffic the monitor is told the time, so behaviour
windows close on a quiet server too. :meth:`learn` replays recent history
(on the thread, before the queue), without alerting, so baselines and
cool-downs survive a restart.

Example::

    >>> svc = MonitorService(Thresholds(), record=lambda alert: 0)
    >>> svc.learn([]) == 0
    True
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable

from strongroom.monitor.activity import Activity
from strongroom.monitor.alert import Alert, Thresholds
from strongroom.monitor.monitor import Monitor
from strongroom.monitor.webhook import WebhookSender
from strongroom.observability.metrics import ALERTS, MONITOR_DROPPED

__all__ = ["MonitorService"]

log = logging.getLogger("strongroom.monitor")

_QUEUE_MAX = 200_000
_PENDING_MAX = 1000


class MonitorService:
    """One monitor, its input queue and its thread."""

    def __init__(
        self,
        th: Thresholds,
        *,
        record: Callable[[Alert], int],
        webhooks: WebhookSender | None = None,
        clock: Callable[[], float] = time.time,
        tick_s: float = 15.0,
        batch_s: float = 0.2,
    ) -> None:
        self.monitor = Monitor(th)
        self._record = record
        self._webhooks = webhooks
        self._clock = clock
        self._tick_s = tick_s
        self._batch_s = batch_s
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=_QUEUE_MAX)
        self._pending: list[Alert] = []
        self._learnt_upto = -1
        self._thread: threading.Thread | None = None

    def learn(self, entries: Iterable[bytes]) -> int:
        """Replay history (oldest first) into the detectors without raising alerts.

        Entries the queue also holds (appended while history was being read)
        are looked at once: the queue skips what history already covered.
        """
        n = 0
        for raw in entries:
            a = _parse(raw)
            if a is not None:
                self.monitor.observe(a)
                self._learnt_upto = max(self._learnt_upto, a.seq + 1)
                n += 1
        return n

    def start(self, history: Callable[[], Iterable[bytes]] | None = None) -> None:
        """Start the thread; it first learns from ``history()`` (so start-up does not wait)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, args=(history,), name="strongroom-monitor", daemon=True
            )
            self._thread.start()

    def feed(self, raw: bytes) -> None:
        """Queue one durable entry (the audit log's listener; never blocks)."""
        try:
            self._queue.put_nowait(raw)
        except queue.Full:
            MONITOR_DROPPED.inc()

    def drain(self) -> None:
        """Wait until every queued entry has been looked at."""
        self._queue.join()

    def close(self) -> None:
        """Look at what is queued, stop, and let the webhooks finish."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=30)
        if self._webhooks is not None:
            self._webhooks.close()

    def _run(self, history: Callable[[], Iterable[bytes]] | None) -> None:
        if history is not None:
            try:
                n = self.learn(history())
                log.info("security monitor learnt from %d recent audit entries", n)
            except Exception:  # the monitor still runs, with empty baselines
                log.exception("the monitor could not read recent history")
        while True:
            try:
                raw: bytes | None = self._queue.get(timeout=self._tick_s)
            except queue.Empty:
                self._handle(self.monitor.tick(self._clock()))
                continue
            # Then everything else already queued, and a pause before waiting
            # again: woken once per batch rather than once per entry, the
            # thread takes the interpreter from request handlers far less
            # often (measured: waking per entry cost about 8% of a read's CPU).
            while True:
                if raw is None:
                    self._queue.task_done()
                    return
                self._one(raw)
                try:
                    raw = self._queue.get_nowait()
                except queue.Empty:
                    break
            time.sleep(self._batch_s)

    def _one(self, raw: bytes) -> None:
        try:
            a = _parse(raw)
            if a is not None and a.seq >= self._learnt_upto:
                self._handle(self.monitor.observe(a))
        except Exception:  # a bad entry must not stop the monitor
            log.exception("the monitor could not process an entry")
        finally:
            self._queue.task_done()

    def _handle(self, alerts: list[Alert]) -> None:
        todo, self._pending = self._pending + alerts, []
        for al in todo:
            try:
                seq = self._record(al)
            except Exception as exc:  # noqa: BLE001 - kept and retried, never lost silently
                if len(self._pending) < _PENDING_MAX:
                    self._pending.append(al)
                log.warning("an alert could not be recorded yet (%s)", type(exc).__name__)
                continue
            ALERTS.labels(kind=str(al.kind)).inc()
            log.warning("security alert %s (%s): %s", seq, al.kind, al.summary)
            if self._webhooks is not None:
                self._webhooks.send({"id": seq, **al.details()})


def _parse(raw: bytes) -> Activity | None:
    try:
        return Activity.from_entry(json.loads(raw))
    except (ValueError, KeyError, TypeError):
        return None
