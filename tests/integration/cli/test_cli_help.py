"""Every command documents itself (``--help``, docs/cli.md), and ``server`` checks its flags."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from strongroom.cli.main import app
from strongroom.cli.server import parse_listen
from strongroom.errors import InvalidInput

DOCS = Path(__file__).resolve().parents[3] / "docs" / "cli.md"


def _walk(command, path=()):
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _walk(sub, (*path, name))


COMMANDS = list(_walk(typer.main.get_command(app)))
IDS = [" ".join(("strongroom", *path)) for path, _ in COMMANDS]


class TestHelp:
    @pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
    def test_every_command_has_help(self, path, command):
        assert (command.help or "").strip(), path
        result = CliRunner().invoke(app, [*path, "--help"])
        assert result.exit_code == 0, result.output
        assert "Usage" in result.output
        for param in command.params:
            assert (getattr(param, "help", None) or "").strip(), (path, param.name)

    @pytest.mark.parametrize(("path", "command"), COMMANDS[1:], ids=IDS[1:])
    def test_every_command_is_documented(self, path, command):
        assert f"strongroom {' '.join(path)}" in DOCS.read_text(encoding="utf-8")

    def test_exit_codes_are_documented(self):
        text = DOCS.read_text(encoding="utf-8")
        for code in range(8):
            assert f"| {code} |" in text

    def test_completion_is_offered(self):
        result = CliRunner().invoke(app, ["--help"])
        assert "--install-completion" in result.output

    def test_no_arguments_shows_help(self):
        result = CliRunner().invoke(app, [])
        assert "Usage" in result.output


class TestServer:
    def test_parse_listen(self):
        assert parse_listen("0.0.0.0:8200") == ("0.0.0.0", 8200)
        assert parse_listen("[::1]:9000") == ("::1", 9000)
        for bad in ("8200", "host:", ":8200", "host:99999", "host:http"):
            with pytest.raises(InvalidInput):
                parse_listen(bad)

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "strongroom.cli.main", "server", *args],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    def test_bad_listen_exits_2(self, tmp_path):
        result = self._run("--data-dir", str(tmp_path), "--listen", "nowhere")
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [
            "Error: Invalid input: --listen takes HOST:PORT, e.g. 127.0.0.1:8200"
        ]

    def test_dev_root_token_needs_dev_and_is_never_echoed(self, tmp_path):
        result = self._run("--data-dir", str(tmp_path), "--dev-root-token", "strongroom_leak_me")
        assert result.returncode == 2
        assert "dev_root_token is only allowed in dev mode" in result.stderr
        assert "strongroom_leak_me" not in result.stderr + result.stdout
        assert len(result.stderr.strip().splitlines()) == 1
