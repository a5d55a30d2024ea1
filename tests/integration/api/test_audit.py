"""The audit ledger over HTTP: one entry per request, receipts, proofs, checkpoints, fail-closed."""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.server import LiveServer, start_server

from strongroom.api.app import create_app
from strongroom.api.audit import EVENTS, UNAUDITED_PATHS
from strongroom.config import Settings
from strongroom.ledger.checkpoint import parse_verifier_key, verify_checkpoint
from strongroom.ledger.merkle import leaf_hash, verify_consistency, verify_inclusion

ROOT = "strongroom_test_root_token"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("audit") / "data")
    yield server
    server.stop()


@pytest.fixture
def root(srv: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=srv.url, headers={"X-Strongroom-Token": ROOT}, timeout=30) as c:
        yield c


def _receipt(r: httpx.Response) -> tuple[int, bytes]:
    return int(r.headers["strongroom-audit-index"]), base64.b64decode(
        r.headers["strongroom-audit-leaf-hash"]
    )


def _entry(client: httpx.Client, index: int) -> tuple[bytes, dict[str, Any]]:
    rows = client.get("/v1/audit/entries", params={"start": index, "end": index + 1}).json()
    raw = base64.b64decode(rows["entries"][0]["leaf_input"])
    return raw, json.loads(raw)


def _checkpoint(client: httpx.Client, *, at_least: int) -> Any:
    key = client.get("/v1/audit/key").json()
    name, verifier = parse_verifier_key(key["verifier_key"])
    deadline = time.monotonic() + 20
    while True:
        r = client.get("/v1/audit/checkpoint")
        if r.status_code == 200:
            assert r.headers["content-type"].startswith("text/plain")
            cp = verify_checkpoint(r.text.encode(), verifier=verifier, name=name)
            if cp.size >= at_least:
                return cp
        assert time.monotonic() < deadline, "no checkpoint covered the entry"
        time.sleep(0.1)


def _limited_token(root: httpx.Client, name: str, rules: str) -> str:
    assert root.put(f"/v1/sys/policies/acl/{name}", json={"policy": rules}).status_code < 300
    r = root.post("/v1/auth/token/create", json={"policies": [name]})
    return str(r.json()["auth"]["client_token"])


class TestReceipts:
    def test_every_response_carries_the_receipt_of_its_own_entry(self, root: httpx.Client) -> None:
        w = root.put("/v1/secret/data/receipt/a", json={"data": {"password": "hunter2"}})
        r = root.get("/v1/secret/data/receipt/a")
        assert w.status_code == 200 and r.status_code == 200
        (wi, wh), (ri, rh) = _receipt(w), _receipt(r)
        assert ri == wi + 1
        raw, entry = _entry(root, wi)
        assert leaf_hash(raw) == wh
        assert entry["event"] == "kv:record:write" and entry["outcome"] == "allowed"
        assert entry["resource"] == "secret/receipt/a" and entry["details"] == {"version": 1}
        raw, entry = _entry(root, ri)
        assert leaf_hash(raw) == rh and entry["event"] == "kv:record:read"
        # No secret value and no raw token is ever in the log.
        assert b"hunter2" not in raw and ROOT.encode() not in raw
        assert entry["principal"].startswith("acc_") and entry["policy_version"] == "root"
        assert len(entry["client"]) == 32 and "127.0.0.1" not in raw.decode()

    def test_probes_are_not_audited(self, root: httpx.Client) -> None:
        for path in UNAUDITED_PATHS:
            assert "strongroom-audit-index" not in root.get(path).headers


class TestOneEntryPerOperation:
    """Every route in the table, allowed or refused, adds exactly one entry with its event."""

    @staticmethod
    def _fill(template: str) -> str:
        return (
            template.replace("{mount}", "secret")
            .replace("{path:path}", "table/x")
            .replace("{name}", "tbl")
            .replace("{job_id}", "0123456789abcdef")
        )

    def test_table_of_routes(self, srv: LiveServer, root: httpx.Client) -> None:
        root.put("/v1/secret/data/table/x", json={"data": {"k": "v"}})
        with httpx.Client(base_url=srv.url, timeout=30) as anon:
            self._walk(root, anon)

    def _walk(self, root: httpx.Client, anon: httpx.Client) -> None:
        last = _receipt(root.get("/v1/sys/mounts"))[0]
        # Routes that would end this test's session are called last, unauthenticated.
        for (method, template), event in sorted(EVENTS.items(), key=lambda kv: kv[0][1]):
            path = self._fill(template)
            unsafe = path in ("/v1/sys/seal", "/v1/auth/token/revoke-self")
            client = anon if unsafe else root
            # An empty JSON body: some succeed, most are refused as invalid; all are audited.
            r = client.request(method, path, json={} if method in ("POST", "PUT") else None)
            assert r.status_code < 500, (method, path, r.text)
            index = _receipt(r)[0]
            assert index == last + 1, (method, path, index, last)
            last = index
            if path == "/v1/sys/backups/jobs" and r.status_code == 202:
                # A backup job adds its own entry naming the snapshot when it
                # ends; following the job is audited too.
                job = f"{path}/{r.json()['job_id']}"
                while (polled := root.get(job)).json()["state"] == "running":
                    time.sleep(0.05)
                last = _receipt(polled)[0]
            _, entry = _entry(root, index)
            last += 1  # Reading the entry is itself an audited request.
            expected = str(event)
            if (method, template) == ("GET", "/v1/{mount}/metadata/{path:path}"):
                expected = "kv:metadata:read"
            assert entry["event"] == expected, (method, path, entry)
            if r.status_code < 400:
                assert entry["outcome"] == "allowed", entry
            else:
                assert entry["outcome"] in ("denied", "error") and entry["reason"], entry

    def test_unrouted_and_malformed_requests_are_audited(self, root: httpx.Client) -> None:
        r = root.get("/v1/no/such/route")
        assert r.status_code == 404
        _, entry = _entry(root, _receipt(r)[0])
        assert entry["event"] == "http:request:reject" and entry["outcome"] == "error"
        r = root.put(
            "/v1/secret/data/bad",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 400
        _, entry = _entry(root, _receipt(r)[0])
        assert entry["event"] == "kv:record:write" and entry["reason"] == "invalid-input"

    def test_denials_are_audited_as_denied(self, srv: LiveServer, root: httpx.Client) -> None:
        token = _limited_token(
            root, "only-app", '{"rules": [{"path": "secret/app/*", "capabilities": ["read"]}]}'
        )
        root.put("/v1/secret/data/hr/salaries", json={"data": {"ceo": "1"}})
        with httpx.Client(base_url=srv.url, headers={"X-Strongroom-Token": token}) as limited:
            r = limited.get("/v1/secret/data/hr/salaries")
            assert r.status_code == 404  # the caller learns nothing...
            _, entry = _entry(root, _receipt(r)[0])
            # ...but the log records the truth.
            assert entry["outcome"] == "denied" and entry["reason"] == "not-found"
            assert entry["resource"] == "secret/hr/salaries"
            assert entry["policy_version"] == "only-app@1"
            r = limited.get("/v1/audit/entries", params={"start": 0, "end": 1})
            assert r.status_code == 403
            assert _entry(root, _receipt(r)[0])[1]["outcome"] == "denied"
        r = httpx.get(
            srv.url + "/v1/secret/data/hr/salaries",
            headers={"X-Strongroom-Token": "strongroom_nope"},
        )
        assert r.status_code == 401
        _, entry = _entry(root, _receipt(r)[0])
        assert entry["outcome"] == "denied" and entry["principal"] == "anonymous"


class TestProofsAndCheckpoints:
    def test_inclusion_and_consistency_verify_against_signed_checkpoints(
        self, root: httpx.Client
    ) -> None:
        first = _receipt(root.put("/v1/secret/data/proof/a", json={"data": {"k": "1"}}))[0]
        cp1 = _checkpoint(root, at_least=first + 1)
        second = _receipt(root.put("/v1/secret/data/proof/b", json={"data": {"k": "2"}}))[0]
        cp2 = _checkpoint(root, at_least=second + 1)
        raw, _ = _entry(root, first)
        for params in ({"index": first}, {"hash": base64.b64encode(leaf_hash(raw)).decode()}):
            p = root.get("/v1/audit/proof/inclusion", params={**params, "size": cp2.size}).json()
            assert p["leaf_index"] == first
            verify_inclusion(
                leaf_hash=leaf_hash(raw),
                index=first,
                size=cp2.size,
                proof=[base64.b64decode(h) for h in p["audit_path"]],
                root=cp2.root_hash,
            )
        c = root.get("/v1/audit/proof/consistency", params={"first": cp1.size, "second": cp2.size})
        verify_consistency(
            first=cp1.size,
            second=cp2.size,
            first_root=cp1.root_hash,
            second_root=cp2.root_hash,
            proof=[base64.b64decode(h) for h in c.json()["consistency"]],
        )

    def test_bad_proof_requests_are_400_not_500(self, root: httpx.Client) -> None:
        for params in ({"index": 10**12}, {"hash": "zz"}, {}, {"index": 0, "hash": "AA=="}):
            r = root.get("/v1/audit/proof/inclusion", params=params)
            assert r.status_code in (400, 404), (params, r.text)
        r = root.get("/v1/audit/proof/consistency", params={"first": 10**12})
        assert r.status_code == 400

    def test_search_by_resource_and_outcome(self, root: httpx.Client) -> None:
        root.put("/v1/secret/data/search/me", json={"data": {"k": "v"}})
        root.get("/v1/secret/data/search/me")
        found = root.get(
            "/v1/audit/search", params={"resource": "secret/search/", "prefix": "true"}
        ).json()["entries"]
        assert [f["entry"]["event"] for f in found] == ["kv:record:write", "kv:record:read"]
        denied = root.get("/v1/audit/search", params={"outcome": "denied", "limit": 1000})
        assert all(f["entry"]["outcome"] == "denied" for f in denied.json()["entries"])


class TestFailClosed:
    """If the entry cannot be written, no plaintext leaves and no write is acknowledged."""

    def test_unwritable_audit_table(self, tmp_path: Path) -> None:
        server = start_server(tmp_path / "data")
        try:
            with httpx.Client(
                base_url=server.url, headers={"X-Strongroom-Token": ROOT}, timeout=30
            ) as c:
                self._check(server, c)
        finally:
            server.stop()

    @staticmethod
    def _check(server: LiveServer, c: httpx.Client) -> None:
        assert c.put("/v1/secret/data/fc", json={"data": {"pw": "first-value"}}).status_code == 200
        db = sqlite3.connect(server.data_dir / "strongroom.db", timeout=30)
        db.execute(
            "CREATE TRIGGER block_audit BEFORE INSERT ON audit_entries "
            "BEGIN SELECT RAISE(ABORT, 'audit blocked by test'); END"
        )
        db.commit()
        r = c.get("/v1/secret/data/fc")
        assert r.status_code == 503 and b"first-value" not in r.content
        assert r.json()["type"].endswith("audit-unavailable")
        w = c.put("/v1/secret/data/fc", json={"data": {"pw": "second-value"}})
        assert w.status_code == 503
        db.execute("DROP TRIGGER block_audit")
        db.commit()
        db.close()
        # The refused write was not applied, and the log carries on intact.
        r = c.get("/v1/secret/data/fc")
        assert r.status_code == 200 and r.json()["data"]["data"] == {"pw": "first-value"}
        assert r.json()["data"]["metadata"]["version"] == 1
        index = _receipt(r)[0]
        cp = _checkpoint(c, at_least=index + 1)
        raw, _ = _entry(c, index)
        p = c.get("/v1/audit/proof/inclusion", params={"index": index, "size": cp.size}).json()
        verify_inclusion(
            leaf_hash=leaf_hash(raw),
            index=index,
            size=cp.size,
            proof=[base64.b64decode(h) for h in p["audit_path"]],
            root=cp.root_hash,
        )


class TestOpenAPI:
    def test_every_operation_names_its_audit_event(self, tmp_path: Path) -> None:
        app = create_app(Settings(data_dir=tmp_path, dev=True))
        schema = app.openapi()
        for path, ops in schema["paths"].items():
            for method, op in ops.items():
                if path in UNAUDITED_PATHS:
                    continue
                assert "x-audit-event" in op, (method, path)
