"""Report documents and their Markdown and HTML renderings."""

from __future__ import annotations

import json
from typing import Any

import pytest

from strongroom.compliance import CATALOGUE, Framework, render, select
from strongroom.errors import InvalidInput


def _doc(reason: str = "fine", evidence: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "format": "strongroom-compliance/v1",
        "generated_at": "2026-01-01T00:00:00Z",
        "framework": "hipaa",
        "frameworks": ["hipaa"],
        "checkpoint": {
            "size": 3,
            "root_hash": "AAAA",
            "created_at": "2026-01-01T00:00:00Z",
            "note": "origin\n3\nAAAA\n\n— origin sig\n",
            "verifier_key": "origin+01020304+AQ==",
        },
        "ledger": {"verified": True, "entries_rehashed": 3},
        "summary": {"pass": 1, "fail": 0, "needs-evidence": 0, "total": 1},
        "controls": [
            {
                "id": "hipaa-164.312(b)",
                "framework": "hipaa",
                "title": "Audit controls",
                "requirement": "Record activity.",
                "status": "pass",
                "reason": reason,
                "evidence": evidence or {"routes": 3},
            }
        ],
    }


class TestCatalogue:
    def test_frameworks_select_their_controls(self) -> None:
        counts = {str(f): len(select(str(f))) for f in Framework}
        assert counts == {"hipaa": 6, "gdpr": 8, "sox": 2, "pci": 3, "euaiact": 1}
        assert len(select("all")) == len(CATALOGUE) == 20

    def test_ids_are_unique(self) -> None:
        ids = [c.control_id for c in CATALOGUE]
        assert len(ids) == len(set(ids))

    def test_an_unknown_framework_is_invalid_input(self) -> None:
        with pytest.raises(InvalidInput, match="hipaa, gdpr, sox, pci, euaiact, all"):
            select("nist-ai-rmf")

    def test_gdpr_articles_in_order(self) -> None:
        ids = [c.control_id for c in select("gdpr")]
        assert ids == [
            "gdpr-5(1)(e)",
            "gdpr-5(1)(f)",
            "gdpr-15",
            "gdpr-17",
            "gdpr-20",
            "gdpr-25",
            "gdpr-30",
            "gdpr-32",
        ]


class TestRender:
    def test_json_round_trips(self) -> None:
        assert json.loads(render(_doc(), "json")) == _doc()

    def test_markdown_has_summary_table_and_evidence(self) -> None:
        md = render(_doc(), "md")
        assert md.startswith("# Strongroom compliance report\n")
        assert "| hipaa-164.312(b) | Audit controls | **pass** | fine |" in md.replace("\\", "")
        assert '"routes": 3' in md
        assert "— origin sig" in md

    def test_markdown_cells_cannot_break_the_table(self) -> None:
        md = render(_doc(reason="a | b\nc"), "md")
        assert "a \\| b c" in md

    def test_markdown_code_fences_outgrow_backticks_in_evidence(self) -> None:
        md = render(_doc(evidence={"x": "````"}), "md")
        assert "`````json" in md

    def test_html_escapes_everything(self) -> None:
        page = render(_doc(reason="<script>alert(1)</script>", evidence={"p": "<b>"}), "html")
        assert "<script>" not in page and "&lt;script&gt;" in page
        assert "&lt;b&gt;" in page
        assert page.startswith("<!DOCTYPE html>")
        assert 'class="pass"' in page

    def test_no_pdf(self) -> None:
        with pytest.raises(ValueError, match="json, md, html"):
            render(_doc(), "pdf")
