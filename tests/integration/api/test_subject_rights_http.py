"""Subject rights over HTTP: consent, the access report of a scripted scenario, export, erasure."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from tests.integration.cli.conftest import CLI
from tests.support.server import start_server

from strongroom.ledger.proofs import parse_document, verify_document

ROOT = "strongroom_test_root_token"
POLICY = {
    "rules": [
        {"path": "clinic/*", "capabilities": ["read"], "require_consent": ["treatment"]},
    ]
}


def _token(c: httpx.Client, policy: str) -> dict[str, str]:
    tok = c.post("/v1/auth/token/create", json={"policies": [policy]}).json()
    return {"X-Strongroom-Token": tok["auth"]["client_token"]}


def test_consent_access_report_export_and_erasure(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data")
    try:
        with httpx.Client(base_url=srv.url, headers={"X-Strongroom-Token": ROOT}, timeout=30) as c:
            assert c.post("/v1/sys/mounts/clinic", json={"type": "kv"}).status_code in (200, 204)
            assert c.put(
                "/v1/sys/policies/acl/doctor", json={"policy": json.dumps(POLICY)}
            ).is_success
            assert c.put(
                "/v1/sys/policies/acl/nobody",
                json={
                    "policy": json.dumps({"rules": [{"path": "other/*", "capabilities": ["read"]}]})
                },
            ).is_success
            doctor, nobody = _token(c, "doctor"), _token(c, "nobody")
            sid = c.post("/v1/sys/subjects", json={}).json()["id"]
            other = c.post("/v1/sys/subjects", json={}).json()["id"]
            # (event, outcome, purpose); the creation names the new subject.
            expected: list[tuple[str, str, str | None]] = [("sys:subject:write", "allowed", None)]

            def put(path: str, subject: str) -> None:
                r = c.put(
                    f"/v1/clinic/data/{path}",
                    json={"data": {"dx": path}, "options": {"subject": subject}},
                )
                assert r.status_code == 200, r.text

            put("p/1", sid)
            expected.append(("kv:record:write", "allowed", None))
            put("q/1", other)  # another subject: not in the report

            read = "/v1/clinic/data/p/1"
            # 1. No purpose declared: refused, and audited under the subject.
            r = c.get(read, headers=doctor)
            assert r.status_code == 403 and r.json()["type"].endswith("consent-required"), r.text
            expected.append(("kv:record:read", "denied", None))
            # 2. A purpose but no consent yet: refused.
            treat = {**doctor, "Strongroom-Purpose": "treatment"}
            assert c.get(read, headers=treat).status_code == 403
            expected.append(("kv:record:read", "denied", "treatment"))
            # 3. Consent granted (itself an entry about the subject): allowed.
            g = c.post(
                f"/v1/sys/subjects/{sid}/consents",
                json={"purpose": "treatment", "scope": "clinic/*", "evidence_ref": "form-17"},
            )
            assert g.status_code == 200 and g.json()["version"] == 1, g.text
            expected.append(("sys:consent:write", "allowed", None))
            ok = c.get(read, headers=treat)
            assert ok.status_code == 200 and ok.json()["data"]["data"] == {"dx": "p/1"}
            expected.append(("kv:record:read", "allowed", "treatment"))
            # 4. A token whose policy does not reach the path: a refusal, still the subject's.
            assert c.get(read, headers=nobody).status_code in (403, 404)
            expected.append(("kv:record:read", "denied", None))
            # 5. Withdrawal applies to the very next request.
            w = c.post(f"/v1/sys/subjects/{sid}/consents/treatment/withdraw")
            assert w.status_code == 200 and w.json()["withdrawn_at"] is not None
            expected.append(("sys:consent:write", "allowed", None))
            assert c.get(read, headers=treat).status_code == 403
            expected.append(("kv:record:read", "denied", "treatment"))
            # A malformed purpose is refused outright.
            bad = c.get(read, headers={**doctor, "Strongroom-Purpose": "Not A Purpose!"})
            assert bad.status_code == 400
            expected.append(("kv:record:read", "error", None))
            # 6. The export (art. 20): decrypted, its digest in the log.
            ex = c.post(f"/v1/sys/subjects/{sid}/export")
            assert ex.status_code == 200, ex.text
            body = ex.json()
            assert [r["data"] for r in body["export"]["records"]] == [{"dx": "p/1"}]
            assert [x["version"] for x in body["export"]["consents"]] == [1, 2]
            key = c.get("/v1/audit/key").json()["verifier_key"]
            receipt = parse_document(json.dumps(body["receipt"]).encode())
            verify_document(receipt, trusted_key=key)
            logged = json.loads(receipt.items[0].entry)
            assert logged["details"]["sha256"] == body["manifest"]["sha256"]
            expected.append(("sys:subject:export", "allowed", None))

            # The access report lists exactly these, each with a proof that verifies.
            rep = c.get(f"/v1/sys/subjects/{sid}/access-report")
            assert rep.status_code == 200, rep.text
            report = rep.json()
            got = [(ln["event"], ln["outcome"], ln["purpose"]) for ln in report["lines"]]
            # The bad-purpose request failed before the record was looked up:
            # it names no subject, so it is not the subject's.
            expected.remove(("kv:record:read", "error", None))
            assert got == expected
            doc = parse_document(json.dumps(report["proofs"]).encode())
            verify_document(doc, trusted_key=key)
            # Every line proven, then the report's own entry, which attests the lines.
            assert [i.leaf_index for i in doc.items[:-1]] == [ln["index"] for ln in report["lines"]]
            own = json.loads(doc.items[-1].entry)
            assert own["event"] == "sys:subject:report" and own["details"]["lines"] == len(got)

            # The CLI writes the report as JSON and HTML, and verifies it offline.
            cli = CLI(srv.url)
            out_json, out_html = tmp_path / "r.json", tmp_path / "r.html"
            cli.ok("subject", "access-report", sid, "--out", str(out_json))
            cli.ok("subject", "access-report", sid, "--format", "html", "--out", str(out_html))
            assert "<table" in out_html.read_text() and sid in out_html.read_text()
            out_pdf = tmp_path / "r.pdf"
            cli.ok("subject", "access-report", sid, "--format", "pdf", "--out", str(out_pdf))
            pdf = out_pdf.read_bytes()
            assert pdf.startswith(b"%PDF-") and sid.encode() in pdf
            verified = cli("audit", "verify-proofs", str(out_json), "--key", key)
            assert verified.returncode == 0, verified.stderr
            assert cli("audit", "verify", str(out_json), "--key", key).returncode == 0
            original = out_json.read_text()
            # Relabelled to another subject, or a line dropped with its proof: refused.
            relabelled = json.loads(original)
            relabelled["subject"] = other
            out_json.write_text(json.dumps(relabelled))
            assert cli("audit", "verify-proofs", str(out_json), "--key", key).returncode == 7
            dropped = json.loads(original)
            del dropped["lines"][1]
            del dropped["proofs"]["items"][1]
            out_json.write_text(json.dumps(dropped))
            assert cli("audit", "verify-proofs", str(out_json), "--key", key).returncode == 7
            # The export file verifies, and not once its data is changed.
            export_file = tmp_path / "export.json"
            export_file.write_text(json.dumps(body))
            assert cli("audit", "verify", str(export_file), "--key", key).returncode == 0
            body["export"]["records"][0]["data"] = {"dx": "TAMPERED"}
            export_file.write_text(json.dumps(body))
            assert cli("audit", "verify", str(export_file), "--key", key).returncode == 7
            # A line altered in the report no longer matches its proven entry.
            altered = json.loads(original)
            altered["lines"][0]["principal"] = "someone-else"
            out_json.write_text(json.dumps(altered))
            refused = cli("audit", "verify-proofs", str(out_json), "--key", key)
            assert refused.returncode == 7 and "line" in refused.stderr
            assert cli("audit", "verify", str(out_json), "--key", key).returncode == 7

            # Erasure: the receipt comes back, reads are gone, the other subject is not.
            er = c.post(f"/v1/sys/subjects/{sid}/erase")
            assert er.status_code == 200, er.text
            verify_document(
                parse_document(json.dumps(er.json()["receipt"]).encode()), trusted_key=key
            )
            assert c.get(read).status_code == 410
            assert c.post(f"/v1/sys/subjects/{sid}/export").status_code == 410
            assert c.get(f"/v1/sys/subjects/{sid}/access-report").status_code == 410
            assert c.get("/v1/clinic/data/q/1").status_code == 200
            assert c.post(f"/v1/sys/subjects/{sid}/erase").status_code == 410
            assert c.post("/v1/sys/subjects/sub_000000000000000000000000/erase").status_code == 404
    finally:
        srv.stop()


def test_retention_rules_holds_and_processing_records_over_http(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data")
    try:
        with httpx.Client(base_url=srv.url, headers={"X-Strongroom-Token": ROOT}, timeout=30) as c:
            sid = c.post("/v1/sys/subjects", json={}).json()["id"]
            c.put("/v1/secret/data/old/a", json={"data": {"v": 1}})
            c.put("/v1/secret/data/old/b", json={"data": {"v": 2}, "options": {"subject": sid}})
            bad = c.put(
                "/v1/sys/retention/rules/r1",
                json={"mount": "secret", "action": "shred", "after_s": 1},
            )
            assert bad.status_code == 400 and bad.headers["content-type"].startswith(
                "application/problem+json"
            )
            rule = c.put(
                "/v1/sys/retention/rules/r1",
                json={
                    "mount": "secret",
                    "path_prefix": "old/",
                    "action": "destroy-versions",
                    "after_s": 0.001,
                    "purpose": "billing",
                },
            )
            assert rule.status_code == 200, rule.text
            hold = c.post(
                "/v1/sys/holds",
                json={"reason": "audit 2026", "mount": "secret", "path_prefix": "old/b"},
            )
            assert hold.status_code == 200, hold.text
            applied = c.post("/v1/sys/retention/apply").json()
            assert applied["versions_destroyed"] == 1 and applied["held"] == 1
            assert c.get("/v1/secret/data/old/a").status_code == 404
            assert c.get("/v1/secret/data/old/b").status_code == 200
            assert c.post(f"/v1/sys/subjects/{sid}/erase").status_code == 409
            c.post(f"/v1/sys/holds/{hold.json()['id']}/release").raise_for_status()
            assert c.post("/v1/sys/retention/apply").json()["versions_destroyed"] == 1
            records = c.get("/v1/sys/processing-records").json()
            (secret,) = [a for a in records["activities"] if a["mount"] == "secret"]
            assert secret["purposes"] == ["billing"] and secret["retention"][0]["name"] == "r1"
            events = {
                e["entry"]["event"]
                for e in c.get("/v1/audit/search", params={"resource": "secret/old/a"}).json()[
                    "entries"
                ]
            }
            assert "kv:record:destroy" in events
    finally:
        srv.stop()
