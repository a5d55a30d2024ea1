"""``strongroom report compliance`` as a subprocess against a real dev server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import httpx
from tests.integration.cli.conftest import CLI

OneLineError = Callable[[CompletedProcess[str], int], str]


class TestReportCompliance:
    def test_json(self, cli: CLI) -> None:
        doc: dict[str, Any] = json.loads(
            cli.ok("report", "compliance", "--framework", "hipaa", "--format", "json")
        )
        assert [c["id"] for c in doc["controls"]][:2] == [
            "hipaa-164.312(a)(1)",
            "hipaa-164.312(a)(2)(iv)",
        ]
        assert doc["summary"]["total"] == 6
        assert {"generated_at", "checkpoint", "ledger", "frameworks"} <= set(doc)

    def test_markdown(self, cli: CLI) -> None:
        md = cli.ok("report", "compliance", "--framework", "all", "--format", "md")
        assert md.startswith("# Strongroom compliance report\n")
        for heading in ("## HIPAA", "## GDPR", "## SOX", "## PCI DSS", "## EU AI Act"):
            assert heading in md
        assert "### euaiact-12: Record-keeping" in md

    def test_html_to_a_file(self, cli: CLI, tmp_path: Path) -> None:
        out = tmp_path / "report.html"
        result = cli(
            "report", "compliance", "--framework", "pci", "--format", "html", "--out", str(out)
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout == ""
        assert result.stderr.startswith(f"wrote {out}: ")
        page = out.read_text()
        assert page.startswith("<!DOCTYPE html>") and 'id="pci-dss-10"' in page

    def test_a_bad_framework_is_one_line_and_exit_2(
        self, cli: CLI, one_line_error: OneLineError
    ) -> None:
        line = one_line_error(cli("report", "compliance", "--framework", "nist"), 2)
        assert "hipaa, gdpr, sox, pci, euaiact, all" in line

    def test_a_bad_format_is_one_line_and_exit_2(
        self, cli: CLI, one_line_error: OneLineError
    ) -> None:
        line = one_line_error(cli("report", "compliance", "--format", "docx"), 2)
        assert "json, md, html, pdf" in line

    def test_pdf_to_a_file(self, cli: CLI, tmp_path: Path) -> None:
        out = tmp_path / "report.pdf"
        result = cli(
            "report", "compliance", "--framework", "gdpr", "--format", "pdf", "--out", str(out)
        )
        assert result.returncode == 0, result.stderr
        data = out.read_bytes()
        assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
        # Uncompressed streams: the controls are searchable in the file.
        assert b"gdpr-5(1)(e)" in data.replace(b"\\(", b"(").replace(b"\\)", b")")

    def test_a_token_without_the_grant_exits_4(
        self, cli: CLI, http: httpx.Client, one_line_error: OneLineError
    ) -> None:
        rules = {"rules": [{"path": "secret/*", "capabilities": ["read"]}]}
        http.put("/v1/sys/policies/acl/kv-only", json={"policy": json.dumps(rules)})
        made = http.post("/v1/auth/token/create", json={"policies": ["kv-only"], "ttl": 600})
        token = made.json()["auth"]["client_token"]
        line = one_line_error(cli.with_token(token)("report", "compliance"), 4)
        assert "sys/compliance/report" in line
