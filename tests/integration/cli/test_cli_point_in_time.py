"""`strongroom backup restore --at-index / --at-time` end to end, with the real server and CLI."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
from tests.integration.cli.conftest import CLI, Server, _start
from tests.integration.cli.test_cli_backup import _parse_init


def test_restore_to_a_ledger_index_and_a_time(
    start_server: Callable[..., Server], tmp_path: Path
) -> None:
    server = start_server(dev=False)
    anon = CLI(server.addr, token=None)
    shares, token = _parse_init(anon.ok("operator", "init", "--shares", "3", "--threshold", "2"))
    for share in shares[:2]:
        anon.ok("operator", "unseal", share)
    cli = CLI(server.addr, token=token)
    indices: dict[str, int] = {}
    with httpx.Client(base_url=server.addr, headers={"X-Strongroom-Token": token}) as http:

        def put(path: str, value: str) -> None:
            r = http.put(f"/v1/secret/data/{path}", json={"data": {"v": value}})
            assert r.status_code == 200, r.text
            # Every write's receipt is its index in the log.
            indices[f"{path}={value}"] = int(r.headers["Strongroom-Audit-Index"])

        for i in range(20):
            put(f"app/{i}", "one")
        cli.json_lines("backup", "create")
        put("app/0", "two")
        put("app/new", "one")
        time.sleep(0.05)
        moment = datetime.now(UTC).isoformat()
        time.sleep(0.05)
        assert http.delete("/v1/secret/data/app/1").status_code == 204
        put("app/0", "three")
        cli.json_lines("backup", "create")
    server.stop()
    target = str(server.data_dir / "backups")
    offline = CLI("http://127.0.0.1:9", token=None)

    # Right after "app/0 = two": app/new does not exist yet.
    at_two = tmp_path / "at-two"
    done = offline.ok(
        "backup",
        "restore",
        "--target",
        target,
        "--data-dir",
        str(at_two),
        "--at-index",
        str(indices["app/0=two"]),
        "--format",
        "json",
        input="\n".join(shares[:2]) + "\n",
    )
    summary = json.loads(done.splitlines()[-1])
    assert summary["status"] == "done" and summary["at_index"] == indices["app/0=two"]
    assert summary["replayed_changes"] > 0

    # At a wall-clock time: after app/new, before the delete of app/1.
    at_time = tmp_path / "at-time"
    offline.ok(
        "backup",
        "restore",
        "--target",
        target,
        "--data-dir",
        str(at_time),
        "--at-time",
        moment,
        input="\n".join(shares[1:]) + "\n",
    )
    # Not both, and a clear one-line error for a time that is not a time.
    bad = offline(
        "backup", "restore", "--target", target, "--data-dir", str(tmp_path / "x"),
        "--at-time", "yesterday-ish", input="\n".join(shares[:2]) + "\n",
    )  # fmt: skip
    assert bad.returncode != 0 and "ISO 8601" in bad.stderr and "Traceback" not in bad.stderr

    for data_dir, expect in (
        (at_two, {"app/0": "two", "app/1": "one", "app/new": None}),
        (at_time, {"app/0": "two", "app/1": "one", "app/new": "one"}),
    ):
        restored = _start(data_dir, dev=False, wanted=503)
        try:
            for share in shares[:2]:
                CLI(restored.addr, token=None).ok("operator", "unseal", share)
            r = CLI(restored.addr, token=token)
            for path, value in expect.items():
                got = r("kv", "get", f"secret/{path}", "--field", "v")
                if value is None:
                    assert got.returncode != 0, got.stdout
                else:
                    assert got.stdout.strip() == value, (data_dir, path, got.stderr)
            # The log was not rolled back, and it says what the restore did.
            found = r.json("audit", "search", "--event", "sys:backup:restore")
            assert len(found) == 1 and found[0]["entry"]["details"]["replayed"] > 0
        finally:
            restored.stop()
