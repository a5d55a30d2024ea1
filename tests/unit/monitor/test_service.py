"""The monitor's runtime: the webhook sender (real HTTP) and the service thread."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from tests.support.webhook import WebhookReceiver

from strongroom.crypto import SIGNATURE_HEADER, verify_webhook
from strongroom.ledger.entry import AuditEvent, Event, Outcome
from strongroom.monitor import Alert, Thresholds
from strongroom.monitor.service import MonitorService
from strongroom.monitor.webhook import WebhookSender

KEY = b"k" * 32


@pytest.fixture
def hook() -> Iterator[Any]:
    made: list[WebhookReceiver] = []

    def make(statuses: list[int]) -> WebhookReceiver:
        h = WebhookReceiver(statuses)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


class TestWebhookSender:
    def test_retries_with_doubling_delays_then_delivers(self, hook: Any) -> None:
        h = hook([503, 429, 200])
        delays: list[float] = []
        sender = WebhookSender([h.url], key=KEY, sleep=delays.append)
        sender.send({"id": 7, "kind": "brute_force"})
        sender.close()
        assert delays == [1.0, 2.0]
        assert len(h.calls) == 3
        _, headers, body = h.calls[-1]
        assert json.loads(body) == {"id": 7, "kind": "brute_force"}
        verify_webhook(KEY, body, headers[SIGNATURE_HEADER], now=int(time.time()))

    def test_a_4xx_is_final(self, hook: Any) -> None:
        h = hook([400])
        delays: list[float] = []
        sender = WebhookSender([h.url], key=KEY, sleep=delays.append)
        sender.send({"id": 1})
        sender.close()
        assert len(h.calls) == 1 and delays == []

    def test_gives_up_after_its_attempts(self, hook: Any) -> None:
        h = hook([500] * 10)
        sender = WebhookSender([h.url], key=KEY, attempts=3, sleep=lambda s: None)
        sender.send({"id": 1})
        sender.close()
        assert len(h.calls) == 3

    def test_unreachable_receiver_is_retried_not_raised(self) -> None:
        delays: list[float] = []
        sender = WebhookSender(
            ["http://127.0.0.1:9/nowhere"], key=KEY, attempts=2, sleep=delays.append
        )
        sender.send({"id": 1})
        sender.close()
        assert delays == [1.0]

    def test_every_url_gets_every_alert(self, hook: Any) -> None:
        a, b = hook([]), hook([])
        sender = WebhookSender([a.url, b.url], key=KEY)
        for i in range(3):
            sender.send({"id": i})
        sender.close()
        assert [json.loads(x)["id"] for _, _, x in a.calls] == [0, 1, 2]
        assert [json.loads(x)["id"] for _, _, x in b.calls] == [0, 1, 2]


def _failure(seq: int) -> bytes:
    return AuditEvent(
        event=Event.KV_RECORD_READ,
        principal="anonymous",
        tenant="",
        resource="secret/x",
        outcome=Outcome.DENIED,
        request_id=f"r{seq}",
        reason="unauthenticated",
        client="c1",
    ).canonical(seq=seq, time_ns=1_800_000_000_000_000_000 + seq * 10**9)


class TestMonitorService:
    def test_alerts_are_recorded_and_retried_until_they_are(self) -> None:
        recorded: list[Alert] = []
        attempts = {"n": 0}

        def record(al: Alert) -> int:
            attempts["n"] += 1
            if attempts["n"] == 1:
                raise RuntimeError("the log is unavailable")
            recorded.append(al)
            return 1000 + len(recorded)

        svc = MonitorService(Thresholds(brute_force_failures=3), record=record, tick_s=0.05)
        svc.start()
        for seq in range(3):
            svc.feed(_failure(seq))
        svc.drain()
        # The first try failed; the next tick retried it.
        deadline = time.monotonic() + 5
        while not recorded and time.monotonic() < deadline:
            time.sleep(0.02)
        svc.close()
        assert [str(a.kind) for a in recorded] == ["brute_force"]
        assert attempts["n"] == 2

    def test_learning_raises_nothing_and_sets_the_cooldown(self) -> None:
        recorded: list[Alert] = []
        svc = MonitorService(
            Thresholds(brute_force_failures=3), record=lambda a: recorded.append(a) or 0
        )
        assert svc.learn([_failure(s) for s in range(3)]) == 3
        svc.start()
        svc.feed(_failure(3))  # the same incident, after a restart
        svc.drain()
        svc.close()
        assert recorded == []

    def test_garbage_entries_are_skipped(self) -> None:
        svc = MonitorService(Thresholds(), record=lambda a: 0)
        svc.start()
        svc.feed(b"not json")
        svc.feed(b'{"no": "fields"}')
        svc.drain()
        svc.close()
        assert svc.monitor.observed == 0

    def test_history_on_the_thread_and_overlap_looked_at_once(self) -> None:
        recorded: list[Alert] = []
        svc = MonitorService(
            Thresholds(brute_force_failures=4), record=lambda a: recorded.append(a) or 0
        )
        # Entries 1 and 2 were appended while history was read: both the
        # history and the queue hold them.
        for seq in (1, 2, 3):
            svc.feed(_failure(seq))
        svc.start(history=lambda: [_failure(s) for s in range(3)])
        svc.drain()
        svc.close()
        (alert,) = recorded
        assert alert.last_seq == 3 and alert.evidence["failures"] == 4
