"""Real servers and a real CLI for the command-line tests.

``dev_server`` starts ``strongroom server --dev`` once per test module;
``start_server`` is a factory for fresh servers (dev or not) that are stopped
after the test; ``cli`` runs ``python -m strongroom.cli.main`` as a subprocess
against the module's dev server with ``STRONGROOM_ADDR``/``STRONGROOM_TOKEN``
in its environment.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT_TOKEN = "strongroom_test_root_token"
_CONSOLE_SCRIPT = Path(sys.executable).with_name("strongroom")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _clean_env(**extra: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    env.update({k: v for k, v in extra.items() if v is not None})
    return env


@dataclass
class Server:
    """A ``strongroom server`` subprocess."""

    addr: str
    data_dir: Path
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 15 s)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _start(data_dir: Path, *, dev: bool, wanted: int | None = None) -> Server:
    port = _free_port()
    program = (
        [str(_CONSOLE_SCRIPT)]
        if _CONSOLE_SCRIPT.exists()
        else [
            sys.executable,
            "-m",
            "strongroom.cli.main",
        ]
    )
    args = [*program, "server", "--data-dir", str(data_dir), "--listen", f"127.0.0.1:{port}"]
    if dev:
        args += ["--dev", "--dev-root-token", ROOT_TOKEN]
    log = data_dir.with_name(data_dir.name + ".log")
    with log.open("ab") as fh:
        proc = subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, env=_clean_env())
    server = Server(f"http://127.0.0.1:{port}", data_dir, proc, log)
    # A dev server answers 200 once unsealed; a fresh one answers 501 (not
    # initialized); a restored one 503 (sealed).
    wanted = wanted or (200 if dev else 501)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(server.addr + "/v1/sys/health", timeout=2).status_code == wanted:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"the server did not start:\n{log.read_text()[-3000:]}")


@dataclass(frozen=True)
class CLI:
    """Runs the real ``strongroom`` CLI in a subprocess."""

    addr: str
    token: str | None = ROOT_TOKEN
    env: dict[str, str] = field(default_factory=dict)

    def __call__(
        self,
        *args: str,
        input: str | None = None,
        addr: str | None = None,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``strongroom ARGS``; stdin is ``input`` (never a terminal)."""
        env = _clean_env(
            STRONGROOM_ADDR=addr or self.addr,
            STRONGROOM_TOKEN=self.token,
            **self.env,
        )
        return subprocess.run(
            [sys.executable, "-m", "strongroom.cli.main", *args],
            input=input,
            stdin=subprocess.DEVNULL if input is None else None,
            capture_output=True,
            text=True,
            env=env,
            cwd=cwd,
            timeout=120,
            check=False,
        )

    def ok(self, *args: str, **kwargs: Any) -> str:
        """Run and assert exit 0; return stdout."""
        result = self(*args, **kwargs)
        assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
        return result.stdout

    def json(self, *args: str, **kwargs: Any) -> Any:
        """Run with ``--format json``, assert exit 0 and decode stdout."""
        return json.loads(self.ok(*args, "--format", "json", **kwargs))

    def json_lines(self, *args: str, **kwargs: Any) -> list[Any]:
        """Run with ``--format json``, assert exit 0 and decode each stdout line."""
        out = self.ok(*args, "--format", "json", **kwargs)
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def with_token(self, token: str | None) -> CLI:
        """The same CLI with another token (``None``: no token at all)."""
        return CLI(self.addr, token, self.env)


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int) -> str:
    """Assert the exit code and a single ``Error: …`` line on stderr; return that line."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One dev server (unsealed, root token ``ROOT_TOKEN``) per test module."""
    server = _start(tmp_path_factory.mktemp("cli") / "data", dev=True)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cli(dev_server: Server) -> CLI:
    """The CLI pointed at the module's dev server with the root token."""
    return CLI(dev_server.addr)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Factory: start a fresh server (``dev=False``: uninitialised) stopped after the test."""
    started: list[Server] = []

    def start(*, dev: bool = False) -> Server:
        server = _start(tmp_path / f"data{len(started)}", dev=dev)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def http(dev_server: Server) -> Iterator[httpx.Client]:
    """A plain HTTP client with the root token, to set up data quickly."""
    headers = {"X-Strongroom-Token": ROOT_TOKEN}
    with httpx.Client(base_url=dev_server.addr, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture
def one_line_error() -> Callable[[subprocess.CompletedProcess[str], int], str]:
    """The :func:`assert_one_line_error` check, as a fixture."""
    return assert_one_line_error
