"""Crash tests for backups: kill -9 the server during `backup create`, and the CLI during prune.

Each kill lands at a chosen moment (chunks being uploaded, the backup lock
held while the manifest is written, chunks being deleted) or at a random
one. Afterwards the repository must verify without a key (no partial
snapshot is listed, no listed snapshot lost a chunk), the vault must come
back with every acknowledged write, and a clean run must finish the job.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from tests.support.server import LiveServer, free_port, start_server

from strongroom.backup import ChunkSizes, LocalTarget, Repository
from strongroom.crypto import KEK, BackupKey

pytestmark = pytest.mark.slow


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    return subprocess.run(
        [sys.executable, "-m", "strongroom.cli.main", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def _files(root: Path, prefix: str) -> int:
    base = root / prefix
    return sum(len(files) for _, _, files in os.walk(base)) if base.exists() else 0


def _kill_when(proc: subprocess.Popen[bytes], cond: Callable[[], bool], limit_s: float) -> str:
    """kill -9 ``proc`` as soon as ``cond()`` holds (or at ``limit_s``); say which happened."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return "finished"
        if cond():
            proc.kill()
            proc.wait()
            return "killed"
        time.sleep(0.002)
    proc.kill()
    proc.wait()
    return "killed-late"


def _unseal(server: LiveServer, shares: list[str]) -> None:
    for share in shares[:2]:
        httpx.post(f"{server.url}/v1/sys/unseal", json={"key": share}, timeout=10)


def test_kill_9_during_backup_create(tmp_path: Path) -> None:
    data_dir, repo_dir = tmp_path / "data", tmp_path / "data" / "backups"
    port = free_port()
    server = start_server(data_dir, dev=False, root_token=None, port=port)
    init = httpx.post(
        f"{server.url}/v1/sys/init", json={"secret_shares": 3, "secret_threshold": 2}, timeout=30
    ).json()
    shares, token = init["keys"], init["root_token"]
    _unseal(server, shares)
    rng = random.Random(7)
    written: dict[str, str] = {}

    def write(c: httpx.Client, n: int, tag: str) -> None:
        for i in range(n):
            path = f"{tag}/{i}"
            value = base64.b64encode(rng.randbytes(6000)).decode()
            r = c.put(f"/v1/secret/data/{path}", json={"data": {"v": value}})
            assert r.status_code == 200, r.text
            written[path] = value

    headers = {"X-Strongroom-Token": token}
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as c:
        write(c, 1200, "base")
        assert c.post("/v1/sys/backups", json={}).status_code == 200
    moments: list[Callable[[], bool]] = [
        # Chunks are being uploaded.
        lambda: _files(repo_dir, "chunks") > chunks_before,
        # The backup holds its lock: the manifest is being written.
        lambda: _files(repo_dir, "locks") > 0,
    ]
    outcomes = []
    for rnd in range(6):
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as c:
            write(c, 150, f"round{rnd}")
        chunks_before = _files(repo_dir, "chunks")
        snapshots_before = _files(repo_dir, "snapshots")

        def request() -> None:
            with contextlib.suppress(httpx.HTTPError):
                httpx.post(f"{server.url}/v1/sys/backups", headers=headers, json={}, timeout=60)

        t = threading.Thread(target=request)
        t.start()
        if rnd < 4:
            outcome = _kill_when(server.proc, moments[rnd % 2], 30)
        else:
            time.sleep(rng.uniform(0.0, 1.5))
            server.stop(kill=True)
            outcome = "killed-random"
        t.join()
        outcomes.append(outcome)
        # No partial snapshot: whatever is listed verifies, keyless.
        check = _cli("backup", "verify", "--target", str(repo_dir), "--format", "json")
        assert check.returncode == 0, (rnd, outcome, check.stdout, check.stderr)
        assert _files(repo_dir, "snapshots") in (snapshots_before, snapshots_before + 1)
        server = start_server(data_dir, dev=False, root_token=None, port=port)
        _unseal(server, shares)
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as c:
            for path in rng.sample(sorted(written), 40):
                r = c.get(f"/v1/secret/data/{path}")
                assert r.status_code == 200 and r.json()["data"]["data"]["v"] == written[path]
    # The aimed kills landed at their moment (mid-upload, under the lock).
    assert outcomes[:4] == ["killed"] * 4, outcomes
    # A clean backup after all that, then a restore elsewhere with two shares.
    with httpx.Client(base_url=server.url, headers=headers, timeout=120) as c:
        final = c.post("/v1/sys/backups", json={})
        assert final.status_code == 200, final.text
    server.stop()
    deep = _cli(
        "backup", "verify", "--target", str(repo_dir), "--read-data", "--format", "json",
        stdin="\n".join(shares[:2]) + "\n",
    )  # fmt: skip
    assert deep.returncode == 0, deep.stdout + deep.stderr
    fresh = tmp_path / "fresh"
    # A restore killed half-way (rows going in) leaves nothing: it is one
    # transaction, and the same command run again completes.
    args = [sys.executable, "-m", "strongroom.cli.main", "backup", "restore"]
    args += ["--target", str(repo_dir), "--data-dir", str(fresh)]
    proc = subprocess.Popen(
        args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    assert proc.stdin is not None
    proc.stdin.write("\n".join(shares[:2]).encode() + b"\n")
    proc.stdin.close()
    wal = fresh / "strongroom.db-wal"
    assert (
        _kill_when(proc, lambda: wal.exists() and wal.stat().st_size > 2_000_000, 120) == "killed"
    )
    out = _cli(
        "backup", "restore", "--target", str(repo_dir), "--data-dir", str(fresh),
        stdin="\n".join(shares[1:]) + "\n",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    restored = start_server(fresh, dev=False, root_token=None)
    try:
        _unseal(restored, shares)
        with httpx.Client(base_url=restored.url, headers=headers, timeout=60) as c:
            for path, value in written.items():
                r = c.get(f"/v1/secret/data/{path}")
                assert r.status_code == 200 and r.json()["data"]["data"]["v"] == value, path
    finally:
        restored.stop()


def test_kill_9_during_prune(tmp_path: Path) -> None:
    target = LocalTarget(tmp_path / "repo")
    key = BackupKey.generate()
    repo = Repository.init(
        target,
        key=key,
        wrapped_key=key.wrap_with(KEK.generate(version=1)),
        key_material={},
        chunk_sizes=ChunkSizes.around(4096),
    )
    common = random.Random(0).randbytes(500_000)
    datas = {}
    for n in range(6):
        datas[n] = random.Random(n + 1).randbytes(1_500_000)
        repo.write_snapshot(
            {"db": io.BytesIO(datas[n]), "common": io.BytesIO(common)},
            key=key,
            meta={"n": n},
            time_ns=1_700_000_000_000_000_000 + n * 86_400_000_000_000,
        )
    repo_dir = str(tmp_path / "repo")
    outcomes = []
    for keep in (5, 4, 3, 2):
        listed = {m.snapshot_id for m in repo.list_snapshots()}
        before = _files(tmp_path / "repo", "chunks")
        args = [sys.executable, "-m", "strongroom.cli.main", "backup", "prune"]
        args += ["--target", repo_dir, "--keep-last", str(keep), "--force-unlock"]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Mid-delete: some unreferenced chunks are gone, others not yet.
        outcomes.append(
            _kill_when(proc, lambda b=before: 0 < _files(tmp_path / "repo", "chunks") < b, 60)
        )
        # Every snapshot still listed is whole; nothing kept lost a byte.
        remaining = repo.list_snapshots()
        assert {m.snapshot_id for m in remaining} <= listed
        assert len(remaining) >= keep
        for m in remaining:
            assert repo.verify(m).ok, (keep, m.snapshot_id)
    assert outcomes == ["killed"] * 4, outcomes
    # Finishing the job: a prune after the crash (stale lock removed) completes.
    done = _cli("backup", "prune", "--target", repo_dir, "--keep-last", "2", "--force-unlock")
    assert done.returncode == 0, done.stderr
    kept = repo.list_snapshots()
    assert [m.meta["n"] for m in kept] == [4, 5]
    for m in kept:
        assert repo.verify(m, key=key).ok
        assert b"".join(repo.read_stream(m, "db", key=key)) == datas[m.meta["n"]]
    # And nothing unreferenced is left behind.
    assert _cli("backup", "prune", "--target", repo_dir, "--keep-last", "2").returncode == 0
    referenced = {c.object_name for m in kept for c in m.chunks()}
    stored = {f"chunks/{p.parent.name}/{p.name}" for p in (tmp_path / "repo" / "chunks").rglob("*")
              if p.is_file()}  # fmt: skip
    assert stored == referenced
