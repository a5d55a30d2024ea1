"""Data subjects over HTTP and through the CLI: the reference goes in, never comes out."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
from tests.integration.cli.conftest import CLI
from tests.support.server import start_server

ROOT = "strongroom_test_root_token"
REF = "MRN-77-canary Jeanne Dupont"


def test_subjects_end_to_end(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data")
    cli = CLI(srv.url)
    try:
        made = cli("subject", "create", "--ref-stdin", "--format", "json", input=REF + "\n")
        assert made.returncode == 0, made.stderr
        subject = json.loads(made.stdout)
        assert subject["id"].startswith("sub_") and subject["has_reference"] is True

        found = cli("subject", "lookup", "--ref-stdin", "--field", "id", input=REF.upper())
        assert found.returncode == 0 and found.stdout.strip() == subject["id"]

        again = cli("subject", "create", "--ref-stdin", input=REF)
        assert again.returncode != 0 and again.stderr.startswith("Error:")
        assert len(again.stderr.strip().splitlines()) == 1 and "Traceback" not in again.stderr
        missing = cli("subject", "lookup", "--ref", "nobody")
        assert missing.returncode != 0 and "Traceback" not in missing.stderr

        with httpx.Client(base_url=srv.url, headers={"X-Strongroom-Token": ROOT}) as c:
            put = c.put(
                "/v1/secret/data/patients/77",
                json={"data": {"note": "x"}, "options": {"subject": subject["id"]}},
            )
            assert put.status_code == 200, put.text
            shown = c.get(f"/v1/sys/subjects/{subject['id']}").json()
            assert shown["record_versions"] == 1 and shown["erased_at"] is None
            listed = c.get("/v1/sys/subjects").json()
            assert [s["id"] for s in listed["subjects"]] == [subject["id"]]
            assert c.get("/v1/sys/subjects/sub_nope").status_code == 404
            bad = c.post("/v1/sys/subjects", json={"external_ref": "", "x": 1})
            assert bad.status_code == 400 and REF not in bad.text
            entries = c.get("/v1/audit/search", params={"event": "sys:subject:read"}).json()
            assert len(entries["entries"]) >= 2
            leaves = c.get("/v1/audit/entries", params={"start": 0, "end": 1000}).json()
            everything = b"".join(base64.b64decode(e["leaf_input"]) for e in leaves["entries"])
            assert b"sys:subject:write" in everything
            # The record's write names its subject by audit pseudonym, not by id.
            records = [
                json.loads(base64.b64decode(e["leaf_input"]))
                for e in leaves["entries"]
                if b"patients/77" in base64.b64decode(e["leaf_input"])
            ]
            assert records and all(r["subject"].startswith("sp1_") for r in records)

        wrote = cli("kv", "put", "secret/patients/78", "--subject", subject["id"], "n=1")
        assert wrote.returncode == 0, wrote.stderr
        shown_cli = cli("subject", "show", subject["id"], "--format", "json")
        assert json.loads(shown_cli.stdout)["record_versions"] == 2
        listed_cli = cli("subject", "list", "--format", "json")
        assert [s["id"] for s in json.loads(listed_cli.stdout)] == [subject["id"]]
    finally:
        srv.stop()
    # Neither the log, nor the audit log, nor the database holds the reference.
    assert "Jeanne" not in srv.log.read_text()
    assert b"Jeanne" not in everything and b"jeanne" not in everything
    raw = b"".join(p.read_bytes() for p in (tmp_path / "data").glob("strongroom.db*"))
    assert b"Jeanne" not in raw and b"jeanne" not in raw
