"""Alert webhooks: each alert POSTed as JSON, signed, retried with backoff.

Deliveries run on one background thread so a slow receiver never holds up
detection. A delivery is retried (1, 2, 4… seconds, up to ``attempts`` tries)
on a network error, a 429 or a 5xx; any other 4xx means the receiver refused
it and retrying would not help. Each alert's body is the same JSON as its
audit entry's ``details`` plus its ``id`` (the entry's leaf index), and the
``Strongroom-Signature`` header signs it (see
:mod:`strongroom.crypto.webhook_signature`). URLs are never logged (they may
carry a token); the log says which webhook by position.

Example::

    >>> sender = WebhookSender([], key=b"k" * 32)
    >>> sender.close()
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from strongroom.crypto import SIGNATURE_HEADER, sign_webhook
from strongroom.observability.metrics import ALERT_DELIVERIES

__all__ = ["WebhookSender"]

log = logging.getLogger("strongroom.monitor")

_QUEUE_MAX = 10_000


class WebhookSender:
    """Deliver alert payloads to every configured URL."""

    def __init__(
        self,
        urls: list[str],
        *,
        key: bytes,
        attempts: int = 6,
        first_delay_s: float = 1.0,
        timeout_s: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._urls = list(urls)
        self._key = key
        self._attempts = attempts
        self._first_delay = first_delay_s
        self._sleep = sleep
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=False)
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=_QUEUE_MAX)
        self._thread: threading.Thread | None = None
        if self._urls:
            self._thread = threading.Thread(
                target=self._run, name="strongroom-alert-webhooks", daemon=True
            )
            self._thread.start()

    def send(self, payload: dict[str, Any]) -> None:
        """Queue one alert for every URL (never blocks; a full queue counts a failure)."""
        if not self._urls:
            return
        try:
            self._queue.put_nowait(payload)
        except queue.Full:
            ALERT_DELIVERIES.labels(outcome="failed").inc(len(self._urls))

    def close(self) -> None:
        """Deliver what is queued (bounded by the retries), then stop."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=60)
        self._client.close()

    def _run(self) -> None:
        while True:
            payload = self._queue.get()
            if payload is None:
                return
            body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
            for n, url in enumerate(self._urls):
                self._deliver(n, url, body)

    def _deliver(self, n: int, url: str, body: bytes) -> None:
        delay = self._first_delay
        for attempt in range(1, self._attempts + 1):
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "strongroom-monitor",
                SIGNATURE_HEADER: sign_webhook(self._key, body, timestamp=int(time.time())),
            }
            try:
                status = self._client.post(url, content=body, headers=headers).status_code
            except httpx.HTTPError as exc:
                status, why = 0, type(exc).__name__
            else:
                why = f"HTTP {status}"
            if 200 <= status < 300:
                ALERT_DELIVERIES.labels(outcome="delivered").inc()
                return
            if status and status < 500 and status != 429:
                break
            if attempt < self._attempts:
                ALERT_DELIVERIES.labels(outcome="retried").inc()
                self._sleep(delay)
                delay *= 2
        ALERT_DELIVERIES.labels(outcome="failed").inc()
        log.warning("alert webhook #%d gave up after attempt %d (%s)", n + 1, attempt, why)
