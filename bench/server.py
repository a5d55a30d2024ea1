"""A dev-mode Strongroom server for the HTTP benchmarks, and a handle to run one.

Run directly (the benchmarks start it as a subprocess)::

    python -m bench.server --data-dir /tmp/sr --port 8311 --max-batch 512 --cpu 0

It serves uvicorn with uvloop and httptools, no access log, the dev root token
:data:`ROOT_TOKEN`, on 127.0.0.1 only.

Example::

    >>> server_command(Path("/tmp/x"), port=1, max_batch=1, cpu=None)[-6:]
    ['--data-dir', '/tmp/x', '--port', '1', '--max-batch', '1']
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

__all__ = ["ROOT_TOKEN", "ServerProcess", "free_port", "main", "server_command"]

ROOT_TOKEN = "strongroom_bench_root"
"""Root token of every benchmark server (dev mode only)."""

HOST = "127.0.0.1"


def free_port() -> int:
    """Return a TCP port on the loopback interface that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def server_command(data_dir: Path, *, port: int, max_batch: int, cpu: int | None) -> list[str]:
    """Return the argv that starts a benchmark server (``python -m bench.server ...``)."""
    argv = [sys.executable, "-m", "bench.server"]
    if cpu is not None:
        argv += ["--cpu", str(cpu)]
    return [
        *argv,
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
        "--max-batch",
        str(max_batch),
    ]


class ServerProcess:
    """A benchmark server subprocess: started, waited for on ``/livez``, then stopped."""

    def __init__(self, data_dir: Path, *, max_batch: int, cpu: int | None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.argv = server_command(data_dir, port=self.port, max_batch=max_batch, cpu=cpu)
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self, *, timeout_s: float = 60.0) -> None:
        """Start the server and wait until ``GET /livez`` answers 200 (``RuntimeError`` if not)."""
        self._proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=sys.stderr,
            stderr=sys.stderr,
        )
        url = f"http://{HOST}:{self.port}/livez"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"the server exited early with status {self._proc.returncode}")
            try:
                with urllib.request.urlopen(url, timeout=1.0) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("the server did not answer /livez in time")

    def stop(self) -> None:
        """Stop the server (SIGINT for a clean uvicorn shutdown, then SIGKILL if it hangs)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    @property
    def pid(self) -> int:
        """Process id of the running server."""
        if self._proc is None:
            raise RuntimeError("the server is not running")
        return self._proc.pid


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, pin to ``--cpu`` if given, and serve until interrupted."""
    parser = argparse.ArgumentParser(description="Strongroom benchmark server (dev mode)")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--max-batch", type=int, default=512)
    parser.add_argument("--cpu", type=int, default=None, help="pin the server to this CPU")
    args = parser.parse_args(argv)
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        # Pin before any thread exists, so the event loop, the thread pool and
        # the group-commit writer all inherit the mask.
        os.sched_setaffinity(0, {args.cpu})

    import uvicorn

    from strongroom.api import create_app
    from strongroom.config import Settings

    settings = Settings(
        data_dir=args.data_dir,
        dev=True,
        dev_root_token=ROOT_TOKEN,
        group_commit_max_batch=args.max_batch,
    )
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.run(
            create_app(settings),
            host=HOST,
            port=args.port,
            access_log=False,
            log_level="warning",
            loop="uvloop",
            http="httptools",
        )


if __name__ == "__main__":
    main()
