"""``strongroom status`` and ``strongroom operator``: init, unseal, seal."""

from __future__ import annotations

import json
import re
from pathlib import Path


def _parse_init(stdout: str) -> tuple[list[str], str]:
    shares = re.findall(r"^Unseal share \d+: (.+)$", stdout, flags=re.MULTILINE)
    (token,) = re.findall(r"^Initial root token: (\S+)$", stdout, flags=re.MULTILINE)
    return shares, token


class TestStatus:
    def test_unsealed_exits_0(self, cli):
        result = cli("status")
        assert result.returncode == 0, result.stderr
        assert "sealed" in result.stdout
        status = cli.json("status")
        assert status["initialized"] is True
        assert status["sealed"] is False
        assert cli.ok("status", "--field", "sealed") == "false"

    def test_yaml(self, cli):
        assert "sealed: false" in cli.ok("status", "--format", "yaml")


class TestOperator:
    def test_seal_then_status_exits_5(self, cli, start_server, one_line_error):
        server = start_server(dev=True)
        result = cli("operator", "seal", addr=server.addr)
        assert result.returncode == 0, result.stderr
        assert "sealed" in result.stderr
        status = cli("status", addr=server.addr)
        assert one_line_error(status, 5).startswith("Error: Vault is sealed")
        assert "true" in status.stdout
        line = one_line_error(cli("kv", "get", "secret/app/db", addr=server.addr), 5)
        assert line.startswith("Error: Vault is sealed")

    def test_init_and_unseal_with_shares(self, cli, start_server, one_line_error):
        server = start_server(dev=False)
        fresh = cli.with_token(None)
        assert "not initialized" in one_line_error(fresh("status", addr=server.addr), 5)

        init = fresh("operator", "init", "--shares", "3", "--threshold", "2", addr=server.addr)
        assert init.returncode == 0, init.stderr
        shares, root = _parse_init(init.stdout)
        assert len(shares) == 3
        assert len(set(shares)) == 3
        assert root.startswith("strongroom_")
        assert "apart" in init.stderr
        assert "shown once" in init.stderr

        again = fresh("operator", "init", addr=server.addr)
        one_line_error(again, 6)

        sealed = fresh("status", addr=server.addr)
        assert one_line_error(sealed, 5).startswith("Error: Vault is sealed")

        first = fresh("operator", "unseal", shares[0], addr=server.addr)
        assert first.returncode == 0, first.stderr
        assert "1/2" in first.stdout
        assert "1/2" in first.stderr
        progress = json.loads(fresh("status", "-f", "json", addr=server.addr).stdout)
        assert (progress["sealed"], progress["progress"], progress["t"]) == (True, 1, 2)

        # No argument and stdin not a terminal: the share is one line of stdin.
        second = fresh("operator", "unseal", input=shares[2] + "\n", addr=server.addr)
        assert second.returncode == 0, second.stderr
        assert "unsealed" in second.stderr
        assert fresh("status", addr=server.addr).returncode == 0

        rooted = cli.with_token(root)
        rooted.ok("kv", "put", "secret/app/db", "password=-", input="s3cr3t", addr=server.addr)
        got = rooted.ok("kv", "get", "secret/app/db", "--field", "password", addr=server.addr)
        assert got == "s3cr3t"

    def test_unseal_reset_and_bad_share(self, cli, start_server, one_line_error):
        server = start_server(dev=False)
        fresh = cli.with_token(None)
        init = fresh.json("operator", "init", "--shares", "3", "--threshold", "2", addr=server.addr)
        assert len(init["keys"]) == 3
        progress = fresh.json("operator", "unseal", init["keys"][0], addr=server.addr)
        assert progress["progress"] == 1
        # The words of a share may also come as separate arguments.
        words = init["keys"][1].split()
        reset = fresh.json("operator", "unseal", "--reset", addr=server.addr)
        assert reset["progress"] == 0
        done = fresh.json("operator", "unseal", *words, addr=server.addr)
        assert done["progress"] == 1
        bad = fresh("operator", "unseal", "not a share at all", addr=server.addr)
        one_line_error(bad, 2)
        one_line_error(fresh("operator", "unseal", "--reset", "--passphrase", addr=server.addr), 2)

    def test_init_and_unseal_with_a_passphrase(self, cli, start_server, one_line_error):
        server = start_server(dev=False)
        fresh = cli.with_token(None)
        phrase = "correct horse battery staple"
        init = fresh(
            "operator", "init", "--passphrase-stdin", input=phrase + "\n", addr=server.addr
        )
        assert init.returncode == 0, init.stderr
        shares, root = _parse_init(init.stdout)
        assert shares == []
        wrong = fresh(
            "operator", "unseal", "--passphrase", input="wrong passphrase!\n", addr=server.addr
        )
        one_line_error(wrong, 4)
        ok = fresh("operator", "unseal", "--passphrase", input=phrase + "\n", addr=server.addr)
        assert ok.returncode == 0, ok.stderr
        assert cli.with_token(root).json("status", addr=server.addr)["sealed"] is False

    def test_passphrase_and_shares_are_exclusive(self, cli, one_line_error):
        result = cli("operator", "init", "--passphrase-stdin", "--shares", "3", input="x" * 20)
        one_line_error(result, 2)


class TestServerStartupErrors:
    def test_dev_flag_on_production_data_dir_is_one_line(self, tmp_path: Path) -> None:
        import subprocess
        import sys

        from strongroom.config import Settings
        from strongroom.vault import Vault

        v = Vault(Settings(data_dir=tmp_path))
        v.open()
        v.initialize(shares=1, threshold=1)
        v.close()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "strongroom.cli.main",
                "server",
                "--dev",
                "--data-dir",
                str(tmp_path),
                "--listen",
                "127.0.0.1:1",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 2
        assert "Traceback" not in proc.stderr
        assert (
            proc.stderr.strip().splitlines()[-1].startswith("Error: Invalid input: this data dir")
        )
