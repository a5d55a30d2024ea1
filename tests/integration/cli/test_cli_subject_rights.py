"""The subject-rights commands as a user runs them: erase, export, consent, retention, holds."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.cli.conftest import CLI, assert_one_line_error
from tests.support.server import start_server

from strongroom.ledger.proofs import parse_document, verify_document


def test_subject_rights_through_the_cli(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data")
    cli = CLI(srv.url)
    try:
        sid = cli.ok("subject", "create", "--field", "id").strip()
        cli.ok("kv", "put", "secret/patients/1", "--subject", sid, "dx=flu")

        granted = cli.json("subject", "consent", "grant", sid, "--purpose", "care")
        assert granted["version"] == 1 and granted["scope"] == "*"
        cli.ok("subject", "consent", "withdraw", sid, "--purpose", "care")
        listed = cli.json("subject", "consent", "list", sid)
        assert [c["version"] for c in listed] == [1, 2]
        assert_one_line_error(cli("subject", "consent", "grant", sid, "--purpose", "Bad!"), 2)

        bundle = tmp_path / "export.json"
        cli.ok("subject", "export", sid, "--out", str(bundle))
        exported = json.loads(bundle.read_text())
        assert exported["export"]["records"][0]["data"] == {"dx": "flu"}
        assert cli("audit", "verify-proofs", str(bundle)).returncode == 0

        cli.ok(
            "retention",
            "rule",
            "put",
            "r1",
            "--mount",
            "secret",
            "--action",
            "destroy-versions",
            "--after",
            "3650d",
            "--purpose",
            "care",
        )
        rules = cli.json("retention", "rule", "list")
        assert rules[0]["after_s"] == 3650 * 86400
        assert_one_line_error(
            cli(
                "retention",
                "rule",
                "put",
                "r2",
                "--mount",
                "secret",
                "--action",
                "destroy-versions",
                "--after",
                "ten days",
            ),
            2,
        )
        records = cli.json("retention", "processing-records")
        assert any(
            a["mount"] == "secret" and a["purposes"] == ["care"] for a in records["activities"]
        )
        hold = cli.json("retention", "hold", "place", "--subject", sid, "--reason", "case 9")
        assert [h["id"] for h in cli.json("retention", "hold", "list", "--active")] == [hold["id"]]
        assert_one_line_error(cli("subject", "erase", sid, "--yes"), 6)
        cli.ok("retention", "hold", "release", hold["id"])
        applied = cli.json("retention", "apply")
        assert applied["versions_destroyed"] == 0
        cli.ok("retention", "rule", "delete", "r1")

        receipt = tmp_path / "receipt.json"
        erased = cli.json("subject", "erase", sid, "--yes", "--receipt", str(receipt))
        assert erased["record_versions"] == 1
        doc = parse_document(receipt.read_bytes())
        verify_document(doc)
        assert json.loads(doc.items[0].entry)["event"] == "sys:subject:erase"
        assert cli("audit", "verify", str(receipt)).returncode == 0
        assert_one_line_error(cli("kv", "get", "secret/patients/1"), 3)
        assert_one_line_error(cli("subject", "export", sid), 3)
        assert_one_line_error(cli("subject", "erase", "sub_000000000000000000000000", "--yes"), 3)
    finally:
        srv.stop()
