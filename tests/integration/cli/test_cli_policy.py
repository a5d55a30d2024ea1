"""``strongroom policy`` and tokens that carry a limited policy."""

from __future__ import annotations

import json
from pathlib import Path

APP_READ = """\
description: read the app's secrets
rules:
  - path: "secret/app/*"
    capabilities: [read, list]
"""


class TestPolicy:
    def test_write_read_list_delete(self, cli, one_line_error, tmp_path: Path):
        (tmp_path / "app-read.yaml").write_text(APP_READ)
        written = cli.json("policy", "write", "app-read", str(tmp_path / "app-read.yaml"))
        assert written == {"name": "app-read", "revision": 1}

        doc = cli.json("policy", "read", "app-read")
        assert doc["name"] == "app-read"
        assert doc["policy"]["description"] == "read the app's secrets"
        assert doc["policy"]["rules"] == [
            {"path": "secret/app/*", "capabilities": ["read", "list"]}
        ]
        table = cli.ok("policy", "read", "app-read")
        assert "secret/app/*" in table
        assert "read, list" in table

        other = json.dumps({"rules": [{"path": "secret/other/*", "capabilities": ["read"]}]})
        assert cli.json("policy", "write", "other", "-", input=other)["revision"] == 1
        assert cli.json("policy", "write", "other", "-", input=other)["revision"] == 2

        names = cli.json("policy", "list")
        assert {"app-read", "other"} <= set(names)
        assert "app-read" in cli.ok("policy", "list")

        cli.ok("policy", "delete", "other")
        one_line_error(cli("policy", "read", "other"), 3)
        assert "other" not in cli.json("policy", "list")

    def test_bad_document_exits_2(self, cli, one_line_error):
        bad = "rules:\n  - path: secret/x\n    capabilities: [fly]\n"
        one_line_error(cli("policy", "write", "bad", "-", input=bad), 2)

    def test_missing_file_exits_2(self, cli, one_line_error, tmp_path: Path):
        one_line_error(cli("policy", "write", "x", str(tmp_path / "none.yaml")), 2)

    def test_limited_token_cannot_read_other_paths(self, cli, one_line_error):
        cli.ok("policy", "write", "app-only", "-", input=APP_READ)
        cli.ok("kv", "put", "secret/app/db", "password=-", input="s3cr3t")
        cli.ok("kv", "put", "secret/billing/db", "password=-", input="hidden")
        token = cli.ok(
            "token", "create", "--policy", "app-only", "--ttl", "600", "--field", "token"
        )
        assert token.startswith("strongroom_")
        limited = cli.with_token(token)

        assert limited.ok("kv", "get", "secret/app/db", "--field", "password") == "s3cr3t"
        # Not granted: the same answer as for an absent record.
        line = one_line_error(limited("kv", "get", "secret/billing/db"), 3)
        assert line == "Error: Not found: nothing at this path"
        # Readable but not writable: permission denied.
        one_line_error(limited("kv", "put", "secret/app/db", "password=x"), 4)
        # Not an administrator of policies.
        one_line_error(limited("policy", "list"), 4)
