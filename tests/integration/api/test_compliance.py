"""``GET /v1/sys/compliance/report`` on real servers: who may ask, bad input, its audit
entry, live facts of the dev server, and TLS on the listener."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.server import LiveServer, free_port
from tests.unit.compliance.conftest import write_tls_pair

ROOT = "strongroom_test_root_token"
REPORT = "/v1/sys/compliance/report"


def _signed(client: httpx.Client) -> None:
    """Make an entry and wait until a checkpoint covers it (an empty log is signed too)."""
    index = int(client.get("/v1/sys/keys").headers["strongroom-audit-index"])
    deadline = time.monotonic() + 10
    while True:
        r = client.get("/v1/audit/checkpoint")
        # The note's second line is the tree size (C2SP tlog-checkpoint).
        if r.status_code == 200 and int(r.text.split("\n")[1]) > index:
            return
        assert time.monotonic() < deadline, "no checkpoint was signed"
        time.sleep(0.1)


def _entry(client: httpx.Client, index: int) -> dict[str, Any]:
    got = client.get("/v1/audit/entries", params={"start": index, "end": index + 1}).json()
    entry: dict[str, Any] = json.loads(base64.b64decode(got["entries"][0]["leaf_input"]))
    return entry


def _token(client: httpx.Client, policy: str, rules: list[dict[str, Any]]) -> str:
    client.put(
        f"/v1/sys/policies/acl/{policy}", json={"policy": json.dumps({"rules": rules})}
    ).raise_for_status()
    made = client.post("/v1/auth/token/create", json={"policies": [policy], "ttl": 600})
    made.raise_for_status()
    token: str = made.json()["auth"]["client_token"]
    return token


class TestComplianceRoute:
    def test_root_gets_the_whole_report(self, client: httpx.Client) -> None:
        _signed(client)
        r = client.get(REPORT)
        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["framework"] == "all"
        assert doc["frameworks"] == ["hipaa", "gdpr", "sox", "pci", "euaiact"]
        assert doc["generated_at"].endswith("Z")
        assert doc["checkpoint"]["size"] >= 1 and doc["checkpoint"]["note"].count("\n") >= 4
        assert doc["ledger"]["verified"] is True
        summary = doc["summary"]
        assert summary["total"] == len(doc["controls"]) == 20
        assert summary["pass"] + summary["fail"] + summary["needs-evidence"] == 20
        for c in doc["controls"]:
            assert set(c) >= {"id", "title", "status", "reason", "evidence"}
            assert c["status"] in ("pass", "fail", "needs-evidence") and "\n" not in c["reason"]
        assert ROOT not in r.text

    def test_live_facts_of_a_dev_server(self, client: httpx.Client) -> None:
        _signed(client)
        doc = client.get(REPORT, params={"framework": "hipaa"}).json()
        by_id = {c["id"]: c for c in doc["controls"]}
        assert len(by_id) == 6 and all(i.startswith("hipaa-") for i in by_id)
        # Dev mode keeps the root key in clear: encryption fails, and says why.
        enc = by_id["hipaa-164.312(a)(2)(iv)"]
        assert enc["status"] == "fail" and "dev mode" in enc["reason"]
        # Plain HTTP on loopback: only a proxy could make it compliant.
        tx = by_id["hipaa-164.312(e)(1)"]
        assert tx["status"] == "needs-evidence"
        assert tx["evidence"]["report_request_scheme"] == "http"
        # Every route of the running app names its audit event, this one included.
        audit = by_id["hipaa-164.312(b)"]
        assert audit["evidence"]["routes_without_audit_event"] == []
        assert audit["evidence"]["ledger_verified"] is True

    def test_a_bad_framework_is_a_problem_400(self, client: httpx.Client) -> None:
        r = client.get(REPORT, params={"framework": "nist"})
        assert r.status_code == 400
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert body["type"] == "urn:strongroom:problem:invalid-input"
        assert "hipaa, gdpr, sox, pci, euaiact, all" in body["detail"]

    def test_no_token_is_401(self, anon: httpx.Client) -> None:
        assert anon.get(REPORT).status_code == 401

    def test_a_non_admin_is_refused_and_the_refusal_is_audited(
        self, client: httpx.Client, server: LiveServer
    ) -> None:
        token = _token(client, "kv-reader", [{"path": "secret/*", "capabilities": ["read"]}])
        with httpx.Client(base_url=server.url, headers={"X-Strongroom-Token": token}) as c:
            r = c.get(REPORT)
        assert r.status_code == 403
        assert r.json()["type"] == "urn:strongroom:problem:permission-denied"
        entry = _entry(client, int(r.headers["strongroom-audit-index"]))
        assert (entry["event"], entry["outcome"]) == ("sys:compliance:report", "denied")

    def test_an_auditor_policy_may_read_reports(
        self, client: httpx.Client, server: LiveServer
    ) -> None:
        token = _token(
            client, "auditor", [{"path": "sys/compliance/report", "capabilities": ["read"]}]
        )
        with httpx.Client(base_url=server.url, headers={"X-Strongroom-Token": token}) as c:
            r = c.get(REPORT, params={"framework": "pci"})
        assert r.status_code == 200, r.text
        assert [c["id"] for c in r.json()["controls"]] == ["pci-dss-3", "pci-dss-8", "pci-dss-10"]

    def test_the_report_is_audited_with_its_outcome(self, client: httpx.Client) -> None:
        _signed(client)
        r = client.get(REPORT, params={"framework": "gdpr"})
        entry = _entry(client, int(r.headers["strongroom-audit-index"]))
        assert entry["event"] == "sys:compliance:report"
        assert entry["outcome"] == "allowed"
        assert entry["details"]["framework"] == "gdpr"
        assert entry["details"]["summary"] == r.json()["summary"]
        assert entry["details"]["checkpoint_size"] == r.json()["checkpoint"]["size"]


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[str]:
    """A dev server whose listener speaks HTTPS (tls_cert_file/tls_key_file)."""
    cert, key = write_tls_pair(tmp_path)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    env |= {"STRONGROOM_TLS_CERT_FILE": str(cert), "STRONGROOM_TLS_KEY_FILE": str(key)}
    args = [sys.executable, "-m", "strongroom.cli.main", "server", "--dev"]
    args += ["--dev-root-token", ROOT, "--data-dir", str(tmp_path / "data")]
    args += ["--listen", f"127.0.0.1:{port}"]
    log = tmp_path / "server.log"
    with log.open("ab") as fh:
        proc = subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, env=env)
    url = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            try:
                if httpx.get(url + "/livez", verify=False, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=15)


class TestTLSListener:
    def test_https_only_and_transmission_passes(self, tls_server: str) -> None:
        with pytest.raises(httpx.HTTPError):
            httpx.get(tls_server.replace("https://", "http://") + "/livez", timeout=2)
        headers = {"X-Strongroom-Token": ROOT}
        with httpx.Client(base_url=tls_server, headers=headers, verify=False) as c:
            doc = c.get(REPORT, params={"framework": "hipaa"}).json()
        (tx,) = [c for c in doc["controls"] if c["id"] == "hipaa-164.312(e)(1)"]
        assert tx["status"] == "pass", tx
        assert tx["evidence"]["tls"] is True and tx["evidence"]["report_request_scheme"] == "https"
