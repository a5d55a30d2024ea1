"""`strongroom backup create` follows a server-side job: progress, the snapshot, or the error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
from tests.integration.cli.conftest import CLI, ROOT_TOKEN, Server, _start


def test_create_shows_the_snapshot_and_jobs_are_audited(
    start_server: Callable[..., Server],
) -> None:
    server = start_server(dev=True)
    cli = CLI(server.addr, token=ROOT_TOKEN)
    for i in range(20):
        cli.ok("kv", "put", f"secret/app/{i}", f"v={i}")
    table = cli.ok("backup", "create")
    listed = cli.json("backup", "list", "--target", str(server.data_dir / "backups"))
    assert listed[-1]["snapshot_id"] in table
    with httpx.Client(base_url=server.addr, headers={"X-Strongroom-Token": ROOT_TOKEN}) as http:
        found = http.get("/v1/audit/search", params={"event": "sys:backup:create"}).json()[
            "entries"
        ]
        # The request that started the job, and the entry naming its snapshot.
        job_id = found[0]["entry"]["details"]["job"]
        logged = [e for e in found if e["entry"]["details"].get("snapshot")]
        assert logged and logged[-1]["entry"]["details"]["job"] == job_id
        job = http.get(f"/v1/sys/backups/jobs/{job_id}").json()
        assert job["state"] == "done" and job["bytes_done"] > 0 and job["bytes_estimate"] > 0
        assert job["snapshot"]["snapshot_id"] == listed[-1]["snapshot_id"]
        missing = http.get("/v1/sys/backups/jobs/0123456789abcdef")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
        # Operators only.
        other = http.get(f"/v1/sys/backups/jobs/{job_id}", headers={"X-Strongroom-Token": "x"})
        assert other.status_code == 401


def test_a_failed_job_is_a_one_line_error(
    tmp_path: Path, one_line_error: Callable[..., str]
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    # The default target cannot hold a repository: it is a plain file.
    (data_dir / "backups").write_bytes(b"not a directory")
    server = _start(data_dir, dev=True)
    try:
        cli = CLI(server.addr, token=ROOT_TOKEN)
        failed = cli("backup", "create")
        message = one_line_error(failed, failed.returncode)
        assert (failed.returncode != 0 and "backup" not in message.lower()) or message
        lines = cli("backup", "create", "--format", "json")
        assert lines.returncode == failed.returncode
        assert '"status": "failed"' in lines.stdout
    finally:
        server.stop()
