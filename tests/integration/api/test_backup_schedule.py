"""Scheduled backups on a real server: they run, are audited, and report their status."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from tests.support.server import start_server

from strongroom.backup import Repository, open_target

ROOT = "strongroom_test_root_token"


def test_scheduled_backups_run_and_are_audited(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", env={"STRONGROOM_BACKUP_INTERVAL_S": "0.5"})
    try:
        with httpx.Client(
            base_url=server.url, headers={"X-Strongroom-Token": ROOT}, timeout=30
        ) as c:
            c.put("/v1/secret/data/sched", json={"data": {"k": "v"}})
            deadline = time.monotonic() + 60
            status: dict[str, object] = {}
            while time.monotonic() < deadline:
                status = c.get("/v1/sys/backups/status").json()
                if status.get("last_success"):
                    break
                time.sleep(0.2)
            assert status.get("last_success"), status
            assert status["last_error"] is None
            found = c.get(
                "/v1/audit/search", params={"event": "sys:backup:create", "principal": "system"}
            ).json()["entries"]
            assert found and found[0]["entry"]["details"]["scheduled"] is True
            snapshot = found[0]["entry"]["details"]["snapshot"]
            listed = c.get("/v1/sys/backups").json()["snapshots"]
            assert snapshot in [s["snapshot_id"] for s in listed]
            # The last success is a Prometheus metric too.
            scrape = c.get("/v1/sys/metrics")
            assert scrape.status_code == 200
            assert scrape.headers["content-type"].startswith("text/plain")
            samples = {
                (s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(scrape.text)
                for s in family.samples
            }
            last = samples[("strongroom_backup_last_success_timestamp_seconds", ())]
            assert abs(last - float(status["last_success"])) < 5  # type: ignore[arg-type]
            assert samples[("strongroom_backups_total", (("outcome", "success"),))] >= 1
            assert samples[("strongroom_backup_last_duration_seconds", ())] > 0
            # Non-operators may not see backup status or metrics.
            assert c.get("/v1/sys/metrics", headers={"X-Strongroom-Token": "x"}).status_code == 401
            assert (
                c.get("/v1/sys/backups/status", headers={"X-Strongroom-Token": "x"}).status_code
                == 401
            )
    finally:
        server.stop()
    repo = Repository.open(open_target(str(tmp_path / "data" / "backups")))
    assert all(repo.verify(m).ok for m in repo.list_snapshots())
