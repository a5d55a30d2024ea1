"""Canaries: a secret and personal data sent through routes, error paths and the CLI never
show up in the server's logs, in its metrics, or in any error body.

Record data is the secret: it may only come back to an authorised read. A
token is a secret everywhere. The personal values (an e-mail, a card, an
IBAN, a US SSN, a French NIR, a phone number) go in record data, in record
paths, in bad input and in query strings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.support.server import LiveServer, start_server

ROOT = "strongroom_test_root_token"
SECRET = "canary-Q7x2-do-not-leak-9f3c"
BAD_TOKEN = "strongroom_v1_" + "C4n4ry" * 8
_NIR_BODY = "1850578006084"
PII = {
    "email": "canary.person@example.org",
    "card": "4111 1111 1111 1111",
    "iban": "GB82WEST12345698765432",
    "ssn": "123-45-6789",
    "nir": f"{_NIR_BODY}{97 - int(_NIR_BODY) % 97:02d}",
    "phone": "+14155552671",
}
CANARIES = [SECRET, BAD_TOKEN, ROOT, *PII.values()]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv = start_server(
        tmp_path_factory.mktemp("canary") / "data",
        env={
            "STRONGROOM_LOG_LEVEL": "debug",
            "STRONGROOM_LOCKOUT_THRESHOLD": "0",
            # One failure is an alert: the alert, its log line and its
            # listing must be as clean as everything else.
            "STRONGROOM_MONITOR_BRUTE_FORCE_FAILURES": "1",
        },
    )
    yield srv
    srv.stop()


def _assert_clean(where: str, text: str) -> None:
    for canary in CANARIES:
        assert canary not in text, f"{canary!r} leaked into {where}"


def test_canaries_never_leak(server: LiveServer, tmp_path: Path) -> None:
    errors: list[str] = []
    with httpx.Client(base_url=server.url, headers={"X-Strongroom-Token": ROOT}, timeout=30) as c:
        data = {"s": SECRET, **PII}
        assert c.put("/v1/secret/data/canary/rec", json={"data": data}).status_code == 200
        assert c.get("/v1/secret/data/canary/rec").json()["data"]["data"] == data
        # Personal data in a record path is allowed (paths are the caller's choice).
        email_path = f"/v1/secret/data/people/{PII['email']}"
        assert c.put(email_path, json={"data": {"k": "v"}}).status_code == 200
        bad_requests = [
            ("PUT", "/v1/secret/data/canary/rec", {"content": b'{"data": "' + SECRET.encode()}),
            ("PUT", "/v1/secret/data/canary/rec", {"json": {"data": SECRET}}),
            ("PUT", "/v1/secret/data/canary/rec", {"json": {"data": {}, "extra": SECRET}}),
            ("PUT", "/v1/secret/data/canary/rec", {"json": {"data": {"a": 1}, "options": SECRET}}),
            ("PUT", "/v1/sys/policies/acl/canary", {"json": {"policy": f"rules: [{SECRET}"}}),
            ("PUT", "/v1/sys/policies/acl/canary", {"json": {"policy": json.dumps(PII)}}),
            ("GET", f"/v1/secret/data/canary/rec?version={SECRET}", {}),
            ("GET", f"/v1/audit/search?limit={PII['card']}", {}),
            ("GET", f"/v1/no-such-route/{SECRET}", {}),
            ("POST", "/v1/sys/unseal", {"json": {"key": SECRET}}),
            ("POST", "/v1/auth/token/create", {"json": {"policies": [SECRET], "ttl": "x"}}),
            ("GET", f"/v1/sys/monitor/alerts?kind={SECRET}", {}),
            ("GET", f"/v1/sys/monitor/alerts/{PII['ssn']}", {}),
            ("POST", "/v1/sys/monitor/alerts/1/ack", {"json": {"disposition": SECRET}}),
            ("POST", f"/v1/sys/monitor/alerts/{PII['card']}/ack", {"json": {}}),
            (
                "PUT",
                "/v1/secret/data/big",
                {"content": b'{"data":{"s":"' + SECRET.encode() * 60000},
            ),
        ]
        for method, path, kwargs in bad_requests:
            r = c.request(method, path, **kwargs)
            assert r.status_code < 500, (method, path, r.text)
            errors.append(r.text)
        r = c.get("/v1/secret/data/canary/rec", headers={"X-Strongroom-Token": BAD_TOKEN})
        assert r.status_code == 401
        errors.append(r.text + json.dumps(dict(r.headers)))
        metrics = c.get("/v1/sys/metrics").text
        deadline = time.monotonic() + 10
        while True:
            alerts = c.get("/v1/sys/monitor/alerts", params={"status": "all"})
            assert alerts.status_code == 200, alerts.text
            if alerts.json()["alerts"] or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert alerts.json()["alerts"], "the bad token raised no alert"

    # The CLI, as a user runs it: a write, a read, and its error paths.
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    env.update(STRONGROOM_ADDR=server.url, STRONGROOM_TOKEN=ROOT)
    cli = [sys.executable, "-m", "strongroom.cli.main"]

    def run(*args: str, token: str = ROOT) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*cli, *args],
            env={**env, "STRONGROOM_TOKEN": token},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    ok = run("kv", "put", "secret/canary/cli", f"s={SECRET}", f"email={PII['email']}")
    assert ok.returncode == 0, ok.stderr
    assert SECRET in run("kv", "get", "secret/canary/cli", "--field", "s").stdout
    cli_errors = [
        run("kv", "get", "secret/canary/cli", token=BAD_TOKEN),
        run("kv", "put", "secret/canary/cli", "--cas", "99", f"s={SECRET}"),
        run("policy", "write", "canary", str(tmp_path / "missing.json")),
        run("kv", "get", f"secret/{SECRET}"),
        run("monitor", "ack", "999999", token=BAD_TOKEN),
        run("monitor", "alerts", "--kind", SECRET),
    ]
    for p in cli_errors:
        assert p.returncode != 0 and "Traceback" not in p.stderr, p.stderr
        errors.append(p.stdout + p.stderr)

    _assert_clean("an error body", "\n".join(errors))
    _assert_clean("the metrics", metrics)
    _assert_clean("the alerts", alerts.text)
    log = server.log.read_text()
    assert log.strip(), "the server logged nothing at debug level"
    _assert_clean("the server log", log)
    assert "Traceback" not in log
