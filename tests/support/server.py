"""Start a real Strongroom server in a subprocess for HTTP-level tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    """A running server process and how to reach it."""

    proc: subprocess.Popen[bytes]
    url: str
    data_dir: Path
    log: Path

    def stop(self, *, kill: bool = False) -> None:
        if self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_server(
    data_dir: Path,
    *,
    dev: bool = True,
    root_token: str | None = "strongroom_test_root_token",
    env: dict[str, str] | None = None,
    port: int | None = None,
) -> LiveServer:
    """Run ``strongroom server`` and wait until it answers ``/livez``."""
    port = port or free_port()
    args = [
        sys.executable,
        "-m",
        "strongroom.cli.main",
        "server",
        "--data-dir",
        str(data_dir),
        "--listen",
        f"127.0.0.1:{port}",
    ]
    if dev:
        args.append("--dev")
        if root_token:
            args += ["--dev-root-token", root_token]
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir.parent / f"server-{port}.log"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    full_env.update(env or {})
    with log.open("ab") as fh:
        proc = subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, env=full_env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/livez", timeout=1).status_code == 200:
                return LiveServer(proc, url, data_dir, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server did not start:\n{log.read_text()[-3000:]}")
