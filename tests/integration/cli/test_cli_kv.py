"""``strongroom kv`` against a real dev server."""

from __future__ import annotations

from pathlib import Path

import httpx
import yaml


class TestKV:
    def test_readme_round_trip(self, cli):
        put = cli("kv", "put", "secret/app/db", "password=-", input="s3cr3t")
        assert put.returncode == 0, put.stderr
        got = cli("kv", "get", "secret/app/db", "--field", "password")
        assert got.returncode == 0, got.stderr
        assert got.stdout == "s3cr3t"

    def test_stdin_drops_one_trailing_newline(self, cli):
        cli.ok("kv", "put", "secret/app/echo", "v=-", input="line\n")
        assert cli.ok("kv", "get", "secret/app/echo", "--field", "v") == "line"

    def test_value_from_file_is_exact(self, cli, tmp_path: Path):
        pem = "-----BEGIN CERT-----\nabc\n-----END CERT-----\n"
        (tmp_path / "cert.pem").write_text(pem)
        cli.ok("kv", "put", "secret/app/tls", "cert=@cert.pem", "user=app", cwd=tmp_path)
        assert cli.ok("kv", "get", "secret/app/tls", "--field", "cert") == pem
        assert cli.ok("kv", "get", "secret/app/tls", "--field", "user") == "app"

    def test_missing_file_is_a_usage_error(self, cli, one_line_error, tmp_path: Path):
        result = cli("kv", "put", "secret/app/x", f"cert=@{tmp_path / 'nope.pem'}")
        assert "does not exist" in one_line_error(result, 2)

    def test_bare_key_reads_a_line_when_stdin_is_not_a_terminal(self, cli):
        cli.ok("kv", "put", "secret/app/prompted", "user=app", "password", input="hunter22\n")
        data = cli.json("kv", "get", "secret/app/prompted")["data"]
        assert data == {"user": "app", "password": "hunter22"}

    def test_only_one_key_may_read_stdin(self, cli, one_line_error):
        result = cli("kv", "put", "secret/app/x", "a=-", "b=-", input="x")
        assert "only one key" in one_line_error(result, 2)

    def test_duplicate_key_is_refused(self, cli, one_line_error):
        one_line_error(cli("kv", "put", "secret/app/x", "a=1", "a=2"), 2)

    def test_formats(self, cli):
        cli.ok("kv", "put", "secret/fmt/db", "password=-", "user=app", input="pw-[bold]x")
        as_json = cli.json("kv", "get", "secret/fmt/db")
        assert as_json["data"] == {"password": "pw-[bold]x", "user": "app"}
        assert as_json["metadata"]["version"] == 1
        as_yaml = yaml.safe_load(cli.ok("kv", "get", "secret/fmt/db", "--format", "yaml"))
        assert as_yaml == as_json
        table = cli.ok("kv", "get", "secret/fmt/db")
        assert "Data" in table
        assert "Metadata" in table
        # Values are plain text, never Rich markup.
        assert "pw-[bold]x" in table

    def test_put_prints_the_version(self, cli):
        first = cli.json("kv", "put", "secret/ver/db", "a=1")
        assert first["version"] == 1
        assert cli.ok("kv", "put", "secret/ver/db", "a=2", "--field", "version") == "2"

    def test_cas(self, cli, one_line_error):
        cli.ok("kv", "put", "secret/cas/db", "a=1", "--cas", "0")
        line = one_line_error(cli("kv", "put", "secret/cas/db", "a=2", "--cas", "0"), 6)
        assert line.startswith("Error: Conflict")
        assert cli.json("kv", "put", "secret/cas/db", "a=2", "--cas", "1")["version"] == 2

    def test_unknown_path_exits_3_with_one_line(self, cli, one_line_error):
        result = cli("kv", "get", "secret/does/not/exist")
        assert one_line_error(result, 3) == "Error: Not found: nothing at this path"
        assert result.stdout == ""

    def test_missing_field_exits_3(self, cli, one_line_error):
        cli.ok("kv", "put", "secret/field/db", "a=1")
        one_line_error(cli("kv", "get", "secret/field/db", "--field", "nope"), 3)

    def test_target_needs_a_path(self, cli, one_line_error):
        one_line_error(cli("kv", "get", "secret"), 2)

    def test_list(self, cli):
        cli.ok("kv", "put", "secret/tree/a", "k=v")
        cli.ok("kv", "put", "secret/tree/b/c", "k=v")
        assert cli.json("kv", "list", "secret/tree") == ["a", "b/"]
        assert cli.json("kv", "list", "secret/tree/") == ["a", "b/"]
        assert "tree/" in cli.json("kv", "list", "secret")
        page = cli.json("kv", "list", "secret/tree", "--limit", "1")
        assert page == {"keys": ["a"], "next_after": "a"}
        rest = cli.json("kv", "list", "secret/tree", "--limit", "1", "--after", "a")
        assert rest == {"keys": ["b/"], "next_after": None}
        assert "b/" in cli.ok("kv", "list", "secret/tree")

    def test_list_follows_every_page(self, cli, http: httpx.Client):
        # The server's default page is 100 keys; write more so the CLI must follow next_after.
        for i in range(105):
            http.put(f"/v1/secret/data/many/k{i:03d}", json={"data": {"v": "x"}}).raise_for_status()
        keys = cli.json("kv", "list", "secret/many")
        assert keys == [f"k{i:03d}" for i in range(105)]

    def test_delete_undelete_destroy_history(self, cli, one_line_error):
        cli.ok("kv", "put", "secret/life/db", "v=1")
        cli.ok("kv", "put", "secret/life/db", "v=2")
        cli.ok("kv", "delete", "secret/life/db", "--versions", "1")
        one_line_error(cli("kv", "get", "secret/life/db", "--version", "1"), 3)
        cli.ok("kv", "undelete", "secret/life/db", "--versions", "1")
        assert cli.ok("kv", "get", "secret/life/db", "--version", "1", "--field", "v") == "1"
        cli.ok("kv", "destroy", "secret/life/db", "--versions", "1")
        one_line_error(cli("kv", "get", "secret/life/db", "--version", "1"), 3)
        history = cli.json("kv", "history", "secret/life/db")
        assert [(h["version"], h["current"], h["destroyed"]) for h in history] == [
            (1, False, True),
            (2, True, False),
        ]
        assert "current" in cli.ok("kv", "history", "secret/life/db")
        cli.ok("kv", "delete", "secret/life/db")
        one_line_error(cli("kv", "get", "secret/life/db"), 3)

    def test_bad_versions_list_is_a_usage_error(self, cli, one_line_error):
        one_line_error(cli("kv", "destroy", "secret/life/db", "--versions", "1,x"), 2)

    def test_undelete_needs_versions(self, cli):
        assert cli("kv", "undelete", "secret/life/db").returncode == 2

    def test_metadata(self, cli, one_line_error):
        cli.ok("kv", "put", "secret/meta/db", "v=1")
        cli.ok(
            "kv", "metadata", "put", "secret/meta/db",
            "--max-versions", "3", "--cas-required",
            "--delete-version-after", "3600",
            "--custom", "owner=payments", "--custom", "tier=gold",
        )  # fmt: skip
        meta = cli.json("kv", "metadata", "get", "secret/meta/db")
        assert meta["max_versions"] == 3
        assert meta["cas_required"] is True
        assert meta["delete_version_after"] == 3600
        assert meta["custom_metadata"] == {"owner": "payments", "tier": "gold"}
        assert set(meta["versions"]) == {"1"}
        assert "custom_metadata" in cli.ok("kv", "metadata", "get", "secret/meta/db")
        # cas is now required on this record.
        one_line_error(cli("kv", "put", "secret/meta/db", "v=2"), 2)
        cli.ok("kv", "put", "secret/meta/db", "v=2", "--cas", "1")
        cli.ok("kv", "metadata", "put", "secret/meta/db", "--no-cas-required")
        assert cli.json("kv", "metadata", "get", "secret/meta/db")["cas_required"] is False
        cli.ok("kv", "metadata", "delete", "secret/meta/db")
        one_line_error(cli("kv", "metadata", "get", "secret/meta/db"), 3)

    def test_metadata_put_needs_an_option(self, cli, one_line_error):
        one_line_error(cli("kv", "metadata", "put", "secret/meta/db"), 2)
