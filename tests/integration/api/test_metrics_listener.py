"""``metrics_listen``: /metrics without a token on a second address, and nothing else there."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from tests.support.server import free_port, start_server

ROOT = "strongroom_test_root_token"


def test_metrics_listener_serves_only_metrics(tmp_path: Path) -> None:
    port = free_port()
    srv = start_server(tmp_path / "data", env={"STRONGROOM_METRICS_LISTEN": f"127.0.0.1:{port}"})
    try:
        base = f"http://127.0.0.1:{port}"
        # Some traffic on the API, so the counters have something to say.
        assert httpx.get(
            srv.url + "/v1/sys/mounts", headers={"X-Strongroom-Token": ROOT}
        ).is_success
        r = httpx.get(base + "/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        names = {f.name for f in text_string_to_metric_families(r.text)}
        # The process's families and the vault's own (per-app) collector, as on /v1/sys/metrics.
        assert {"strongroom_http_requests", "strongroom_alerts", "strongroom_seal_state"} <= names
        assert httpx.get(base + "/v1/sys/mounts").status_code == 404
        assert httpx.post(base + "/metrics").status_code == 405
        # The API itself still asks for a token.
        assert httpx.get(srv.url + "/v1/sys/metrics").status_code == 401
        # Scrapes of the listener are not audited; the authenticated endpoint is.
        search = httpx.get(
            srv.url + "/v1/audit/search",
            params={"event": "sys:metrics:read"},
            headers={"X-Strongroom-Token": ROOT},
        ).json()["entries"]
        assert [e["entry"]["outcome"] for e in search] == ["denied"]
    finally:
        srv.stop()


def test_metrics_listen_is_validated(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "strongroom.cli.main",
            "server",
            "--dev",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env={"STRONGROOM_METRICS_LISTEN": "no-port-here", "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )
    assert out.returncode != 0
    assert "Traceback" not in out.stderr and "metrics_listen" in out.stderr
