"""`strongroom backup` end to end: a sealed server, the real CLI, a restore elsewhere."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx
from tests.integration.cli.conftest import CLI, Server, _start


def _parse_init(stdout: str) -> tuple[list[str], str]:
    shares = re.findall(r"^Unseal share \d+: (.+)$", stdout, flags=re.MULTILINE)
    (token,) = re.findall(r"^Initial root token: (\S+)$", stdout, flags=re.MULTILINE)
    return shares, token


def test_create_list_verify_restore(
    start_server: Callable[..., Server], tmp_path: Path, one_line_error: Callable[..., str]
) -> None:
    server = start_server(dev=False)
    anon = CLI(server.addr, token=None)
    shares, token = _parse_init(anon.ok("operator", "init", "--shares", "3", "--threshold", "2"))
    for share in shares[:2]:
        anon.ok("operator", "unseal", share)
    cli = CLI(server.addr, token=token)
    with httpx.Client(base_url=server.addr, headers={"X-Strongroom-Token": token}) as http:
        for i in range(50):
            http.put(f"/v1/secret/data/app/{i}", json={"data": {"password": f"pw-{i}"}})

    # JSON lines: the job's progress, then the snapshot.
    events = cli.json_lines("backup", "create")
    assert events[0]["status"] == "running" and "estimate" in events[0]
    created = events[-1]
    assert created["status"] == "done"
    snapshot = created["snapshot_id"]
    assert created["stats"]["chunks_total"] >= 1
    target = str(server.data_dir / "backups")
    # The snapshot's manifest root is in the audit log.
    found = cli.json("audit", "search", "--event", "sys:backup:create")
    assert found[-1]["entry"]["details"]["manifest_root"] == created["root"]
    # Only allowed targets: a client cannot make the server write elsewhere.
    one_line_error(cli("backup", "create", "--target", str(tmp_path / "elsewhere")), 4)
    second = cli.json_lines("backup", "create")[-1]["snapshot_id"]
    # Wait for a checkpoint that covers the second backup's audit entry, then export the log.
    for _ in range(100):
        cli.ok("audit", "export", "--out", str(tmp_path / "log.bundle"))
        if second.encode() in (tmp_path / "log.bundle").read_bytes():
            break
    server.stop()
    logged = CLI(server.addr, token=None).json(
        "backup", "verify", "--target", target, "--audit-bundle", str(tmp_path / "log.bundle")
    )
    assert logged["ok"] is True and logged["snapshots"] == 2
    # Someone deletes the newer snapshot at the storage location: the log notices.
    (Path(target) / "snapshots" / second).rename(tmp_path / "stolen-manifest")
    gone = CLI(server.addr, token=None)(
        "backup", "verify", "--target", target, "--audit-bundle", str(tmp_path / "log.bundle")
    )
    assert gone.returncode == 7 and "deleted" in gone.stderr and second in gone.stderr, gone.stderr

    listed = CLI(server.addr, token=None).json("backup", "list", "--target", target)
    assert [s["snapshot_id"] for s in listed] == [snapshot]
    report = CLI(server.addr, token=None).json("backup", "verify", snapshot, "--target", target)
    assert report["ok"] is True and report["problems"] == []
    # --read-data decrypts every chunk: it needs the shares, and refuses wrong ones.
    deep = CLI(server.addr, token=None).json(
        "backup",
        "verify",
        snapshot,
        "--target",
        target,
        "--read-data",
        input="\n".join(shares[:2]) + "\n",
    )
    assert deep["ok"] is True and deep["read_data"] is True

    # A new machine: only the repository and two shares.
    fresh_dir = tmp_path / "new-machine" / "data"
    offline = CLI("http://127.0.0.1:9", token=None)
    bad = offline(
        "backup",
        "restore",
        snapshot,
        "--target",
        target,
        "--data-dir",
        str(fresh_dir),
        input="nonsense words\n",
    )
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    out = offline.ok(
        "backup",
        "restore",
        snapshot,
        "--target",
        target,
        "--data-dir",
        str(fresh_dir),
        input="\n".join(shares[1:]) + "\n",
    )
    assert snapshot in out
    # --format json: JSON lines, progress updates then a summary, for scripts.
    streamed = offline.ok(
        "backup",
        "restore",
        snapshot,
        "--target",
        target,
        "--data-dir",
        str(tmp_path / "second-machine"),
        "--format",
        "json",
        input="\n".join(shares[:2]) + "\n",
    )
    events = [json.loads(line) for line in streamed.splitlines()]
    assert events[0]["status"] == "restoring" and events[-1]["status"] == "done"
    assert events[-2]["bytes"] == events[-2]["total"] and events[-1]["snapshot_id"] == snapshot
    restored = _start(fresh_dir, dev=False, wanted=503)
    try:
        again = CLI(restored.addr, token=None)
        for share in shares[:2]:
            again.ok("operator", "unseal", share)
        r = CLI(restored.addr, token=token)
        assert r.ok("kv", "get", "secret/app/7", "--field", "password") == "pw-7"
        # The restored log is the same log: it still verifies, and goes on.
        r.ok("audit", "export", "--out", str(tmp_path / "restored.bundle"))
        v = r(
            "audit",
            "verify",
            str(tmp_path / "restored.bundle"),
            "--state",
            str(tmp_path / "s.json"),
            "--format",
            "json",
        )
        assert v.returncode == 0, v.stdout + v.stderr
        assert json.loads(v.stdout)["ok"] is True
    finally:
        restored.stop()

    # Flip one byte of one chunk: keyless verify names the object and exits 7.
    manifest = json.loads((Path(target) / "snapshots" / snapshot).read_bytes())
    first_id = manifest["streams"][0]["chunks"][0]["id"]
    chunk = Path(target) / "chunks" / first_id[:2] / first_id
    data = bytearray(chunk.read_bytes())
    data[-1] ^= 1
    chunk.write_bytes(bytes(data))
    bad = offline("backup", "verify", snapshot, "--target", target)
    assert bad.returncode == 7 and chunk.name in bad.stderr, bad.stderr
