"""The security monitor on a real server: a brute force becomes an alert in the log,
in the metrics, at a signed webhook (after a retry), in the CLI, and can be acknowledged."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.integration.cli.conftest import CLI
from tests.support.server import LiveServer, start_server
from tests.support.webhook import WebhookReceiver

from strongroom.crypto import SIGNATURE_HEADER, verify_webhook
from strongroom.errors import IntegrityViolation

ROOT = "strongroom_test_root_token"
SECRET = "whsec-test-0123456789abcdef"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    # Fails the first delivery, to prove the retry.
    r = WebhookReceiver([500], then=204)
    yield r
    r.close()


def _env(receiver: WebhookReceiver) -> dict[str, str]:
    return {
        "STRONGROOM_MONITOR_WEBHOOKS": json.dumps([receiver.url]),
        "STRONGROOM_MONITOR_WEBHOOK_SECRET": SECRET,
        "STRONGROOM_MONITOR_BRUTE_FORCE_FAILURES": "5",
        # The API's own lockout would answer 429 first; this test is about detection.
        "STRONGROOM_LOCKOUT_THRESHOLD": "0",
    }


def _api(srv: LiveServer, token: str = ROOT) -> httpx.Client:
    return httpx.Client(base_url=srv.url, headers={"X-Strongroom-Token": token}, timeout=30)


def _wait_for_alerts(c: httpx.Client, n: int, status: str = "open") -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    while True:
        found: list[dict[str, Any]] = c.get(
            "/v1/sys/monitor/alerts", params={"status": status}
        ).json()["alerts"]
        if len(found) >= n or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def _alerts_metric(c: httpx.Client, kind: str) -> float:
    for family in text_string_to_metric_families(c.get("/v1/sys/metrics").text):
        for s in family.samples:
            if s.name == "strongroom_alerts_total" and s.labels.get("kind") == kind:
                return float(s.value)
    raise AssertionError("strongroom_alerts_total is missing")


def test_brute_force_alert_end_to_end(tmp_path: Path, receiver: WebhookReceiver) -> None:
    srv = start_server(tmp_path / "data", env=_env(receiver))
    cli = CLI(srv.url)
    try:
        with _api(srv) as c:
            assert _wait_for_alerts(c, 0) == []
            for k in range(5):
                r = httpx.get(
                    srv.url + "/v1/secret/data/app/db",
                    headers={"X-Strongroom-Token": f"strongroom_wrong_{k}"},
                )
                assert r.status_code == 401
            (alert,) = _wait_for_alerts(c, 1)
            assert alert["kind"] == "brute_force" and alert["severity"] == "high"
            assert alert["subject"] == "anonymous" and alert["client"]
            assert alert["evidence"]["failures"] == 5
            assert alert["first_seq"] < alert["last_seq"] < alert["id"]
            assert alert["acknowledged"] is None

            # The alert is an entry of the log (its id is the leaf index), and
            # the failures it is about are there too, each with a network hash.
            def entry(i: int) -> dict[str, Any]:
                got = c.get("/v1/audit/entries", params={"start": i, "end": i + 1}).json()
                return dict(json.loads(base64.b64decode(got["entries"][0]["leaf_input"])))

            assert entry(alert["id"])["event"] == "monitor:alert:raise"
            first = entry(alert["first_seq"])
            assert first["reason"] == "unauthenticated" and first["network"]

            assert _alerts_metric(c, "brute_force") == 1.0

            # The webhook: refused once (500), delivered on the retry, signed.
            deadline = time.monotonic() + 20
            while len(receiver.calls) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert [s for s, _, _ in receiver.calls] == [500, 204]
            _, headers, body = receiver.calls[1]
            verify_webhook(SECRET.encode(), body, headers[SIGNATURE_HEADER], now=int(time.time()))
            with pytest.raises(IntegrityViolation):
                verify_webhook(
                    b"another-key-0123456", body, headers[SIGNATURE_HEADER], now=int(time.time())
                )
            payload = json.loads(body)
            assert payload["id"] == alert["id"] and payload["kind"] == "brute_force"

            # The CLI lists it, acknowledges it once, and refuses a second time.
            listed = json.loads(cli("monitor", "alerts", "--format", "json").stdout)
            assert [a["id"] for a in listed] == [alert["id"]]
            ok = cli("monitor", "ack", str(alert["id"]), "--disposition", "false_positive")
            assert ok.returncode == 0, ok.stderr
            again = cli("monitor", "ack", str(alert["id"]))
            assert again.returncode != 0
            assert again.stderr.startswith("Error:") and len(again.stderr.strip().splitlines()) == 1
            assert "Traceback" not in again.stderr
            assert json.loads(cli("monitor", "alerts", "--format", "json").stdout) == []
            done = json.loads(cli("monitor", "alerts", "--all", "--format", "json").stdout)
            assert done[0]["acknowledged"]["disposition"] == "false_positive"
            assert done[0]["acknowledged"]["by"]
            acks = c.get("/v1/audit/search", params={"event": "monitor:alert:ack"}).json()[
                "entries"
            ]
            assert acks[0]["entry"]["details"] == {
                "alert": alert["id"],
                "disposition": "false_positive",
            }

            # An entry that is not an alert is not one.
            assert c.get("/v1/sys/monitor/alerts/0").status_code == 404
            assert c.post("/v1/sys/monitor/alerts/999999/ack", json={}).status_code == 404
            bad = c.post(f"/v1/sys/monitor/alerts/{alert['id']}/ack", json={"disposition": "x"})
            assert bad.status_code in (400, 422)
            assert bad.headers["content-type"] == "application/problem+json"
            nope = c.get("/v1/sys/monitor/alerts", params={"kind": "nope"})
            assert nope.status_code in (400, 422)
            # Refused acknowledgements are logged under the ack event too; the
            # listing must not take them for acknowledgements (it once 500ed).
            assert c.post("/v1/sys/monitor/alerts/abc/ack", json={}).status_code == 400
            listed_all = c.get("/v1/sys/monitor/alerts", params={"status": "all"})
            assert listed_all.status_code == 200, listed_all.text
            (only,) = listed_all.json()["alerts"]
            assert only["acknowledged"]["disposition"] == "false_positive"
    finally:
        srv.stop()

    # The log is the alerts' store: they survive a restart, and the monitor
    # relearns recent history, so the same incident is not raised again.
    srv = start_server(tmp_path / "data", env=_env(receiver))
    try:
        with _api(srv) as c:
            httpx.get(
                srv.url + "/v1/secret/data/app/db",
                headers={"X-Strongroom-Token": "strongroom_wrong"},
            )
            time.sleep(1.0)
            everything = _wait_for_alerts(c, 1, status="all")
            assert [a["kind"] for a in everything] == ["brute_force"]
    finally:
        srv.stop()


def test_alerts_need_the_capability(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data", env={"STRONGROOM_MONITOR_BRUTE_FORCE_FAILURES": "3"})
    try:
        with _api(srv) as c:
            doc = json.dumps({"rules": [{"path": "sys/monitor/alerts", "capabilities": ["read"]}]})
            assert c.put("/v1/sys/policies/acl/soc", json={"policy": doc}).is_success
            reader = c.post("/v1/auth/token/create", json={"policies": ["soc"]}).json()["auth"][
                "client_token"
            ]
            nobody = c.post("/v1/auth/token/create", json={"policies": []}).json()["auth"][
                "client_token"
            ]
        with _api(srv, nobody) as c:
            assert c.get("/v1/sys/monitor/alerts").status_code == 403
        with _api(srv, reader) as c:
            assert c.get("/v1/sys/monitor/alerts").status_code == 200
            # Reading is not acknowledging.
            assert c.post("/v1/sys/monitor/alerts/1/ack", json={}).status_code == 403
    finally:
        srv.stop()


def test_monitor_can_be_disabled(tmp_path: Path) -> None:
    srv = start_server(
        tmp_path / "data",
        env={"STRONGROOM_MONITOR_ENABLED": "false", "STRONGROOM_MONITOR_BRUTE_FORCE_FAILURES": "1"},
    )
    try:
        httpx.get(srv.url + "/v1/sys/mounts", headers={"X-Strongroom-Token": "strongroom_wrong"})
        time.sleep(0.5)
        with _api(srv) as c:
            assert c.get("/v1/sys/monitor/alerts", params={"status": "all"}).json()["alerts"] == []
    finally:
        srv.stop()
