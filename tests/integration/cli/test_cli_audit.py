"""``strongroom audit`` end to end: a real server, its real database, the real CLI.

Each tampering test edits the server's SQLite database the way an insider
with file access could, then checks that ``audit export`` + ``audit verify``
(offline) fails with exit 7 and names the entry and the kind of tampering.
A verifier that always passed would fail every one of these tests.
"""

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
from tests.integration.cli.conftest import CLI, ROOT_TOKEN, Server, _start

from strongroom.ledger.entry import canonical
from strongroom.ledger.merkle import Frontier, leaf_hash

pytestmark = pytest.mark.xdist_group("audit-cli")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = _start(tmp_path / "data", dev=True)
    yield srv
    srv.stop()


def _traffic(srv: Server, n: int = 12) -> None:
    with httpx.Client(
        base_url=srv.addr, headers={"X-Strongroom-Token": ROOT_TOKEN}, timeout=30
    ) as c:
        for i in range(n):
            c.put(f"/v1/secret/data/app/{i}", json={"data": {"password": f"pw-{i}"}})
            c.get(f"/v1/secret/data/app/{i}")
        size = int(c.get("/v1/audit/key").json()["tree_size"])
        # Wait until a checkpoint covers what was written (the signer runs every 0.2 s).
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            cps = c.get("/v1/audit/checkpoints", params={"min_size": size}).json()
            if cps["checkpoints"]:
                return
            time.sleep(0.1)
    raise AssertionError("no checkpoint was signed")


def _export(cli: CLI, out: Path) -> None:
    cli.ok("audit", "export", "--out", str(out))


def _verify(cli: CLI, bundle: Path, state: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    r = cli("audit", "verify", str(bundle), "--state", str(state), "--format", "json", *extra)
    assert "Traceback" not in r.stderr, r.stderr
    return r.returncode, json.loads(r.stdout) if r.stdout.strip() else {}


def _kinds(report: dict[str, Any]) -> list[tuple[str, int | None]]:
    return [(f["kind"], f["index"]) for f in report.get("findings", [])]


def _db(srv: Server) -> sqlite3.Connection:
    return sqlite3.connect(srv.data_dir / "strongroom.db", timeout=30)


def _rebuild_tree(db: sqlite3.Connection) -> None:
    """What a capable insider does: recompute every leaf hash and node, drop the checkpoints."""
    rows = db.execute("SELECT seq, entry FROM audit_entries ORDER BY seq").fetchall()
    for seq, entry in rows:
        db.execute("UPDATE audit_entries SET leaf_hash = ? WHERE seq = ?", (leaf_hash(entry), seq))
    _, nodes = Frontier().extend(leaf_hash(e) for _, e in rows)
    db.execute("DELETE FROM audit_nodes")
    db.executemany(
        "INSERT INTO audit_nodes (level, idx, hash) VALUES (?, ?, ?)",
        [(lv, ix, h) for (lv, ix), h in nodes if lv > 0],
    )
    db.execute("DELETE FROM audit_checkpoints")


class TestCleanLog:
    def test_export_and_verify_then_extend(self, server: Server, tmp_path: Path) -> None:
        cli = CLI(server.addr)
        _traffic(server)
        state = tmp_path / "state.json"
        _export(cli, tmp_path / "a.bundle")
        code, report = _verify(cli, tmp_path / "a.bundle", state)
        assert code == 0 and report["ok"] is True, report
        assert state.exists() and oct(state.stat().st_mode & 0o777) == "0o600"
        first = json.loads(state.read_text())
        _traffic(server, 3)
        _export(cli, tmp_path / "b.bundle")
        code, report = _verify(cli, tmp_path / "b.bundle", state)
        assert code == 0, report
        assert json.loads(state.read_text())["size"] > first["size"]

    def test_tail_prints_canonical_lines_and_prove_checks(self, server: Server) -> None:
        cli = CLI(server.addr)
        _traffic(server, 2)
        lines = cli.ok("audit", "tail", "--last", "3").splitlines()
        assert len(lines) == 3 and all(json.loads(x)["v"] == 1 for x in lines)
        proven = cli.json("audit", "prove", "--index", "1")
        assert proven["verified"] is True and proven["leaf_index"] == 1
        found = cli.json(
            "audit", "search", "--resource", "secret/app/1", "--event", "kv:record:read"
        )
        assert [f["entry"]["resource"] for f in found] == ["secret/app/1"]

    def test_verify_needs_no_server(self, server: Server, tmp_path: Path) -> None:
        cli = CLI(server.addr)
        _traffic(server, 2)
        _export(cli, tmp_path / "a.bundle")
        server.stop()
        offline = CLI("http://127.0.0.1:9", token=None)
        code, report = _verify(offline, tmp_path / "a.bundle", tmp_path / "s.json")
        assert code == 0 and report["ok"], report


class TestTampering:
    def test_one_byte_of_one_entry_changed(self, server: Server, tmp_path: Path) -> None:
        _traffic(server)
        with _db(server) as db:
            (entry,) = db.execute("SELECT entry FROM audit_entries WHERE seq = 5").fetchone()
            forged = entry.replace(b'"allowed"', b'"allowex"', 1)
            assert forged != entry and len(forged) == len(entry)
            db.execute("UPDATE audit_entries SET entry = ? WHERE seq = 5", (forged,))
        cli = CLI(server.addr)
        _export(cli, tmp_path / "x.bundle")
        code, report = _verify(cli, tmp_path / "x.bundle", tmp_path / "s.json")
        assert code == 7 and ("modified", 5) in _kinds(report), report

    def test_entry_deleted(self, server: Server, tmp_path: Path) -> None:
        _traffic(server)
        with _db(server) as db:
            db.execute("DELETE FROM audit_entries WHERE seq = 4")
        cli = CLI(server.addr)
        _export(cli, tmp_path / "x.bundle")
        code, report = _verify(cli, tmp_path / "x.bundle", tmp_path / "s.json")
        assert code == 7 and ("deleted", 4) in _kinds(report), report

    def test_two_entries_swapped(self, server: Server, tmp_path: Path) -> None:
        _traffic(server)
        with _db(server) as db:
            a = db.execute("SELECT entry, leaf_hash FROM audit_entries WHERE seq = 2").fetchone()
            b = db.execute("SELECT entry, leaf_hash FROM audit_entries WHERE seq = 7").fetchone()
            db.execute("UPDATE audit_entries SET entry = ?, leaf_hash = ? WHERE seq = 2", b)
            db.execute("UPDATE audit_entries SET entry = ?, leaf_hash = ? WHERE seq = 7", a)
        cli = CLI(server.addr)
        _export(cli, tmp_path / "x.bundle")
        code, report = _verify(cli, tmp_path / "x.bundle", tmp_path / "s.json")
        kinds = _kinds(report)
        assert code == 7 and ("reordered", 2) in kinds and ("reordered", 7) in kinds, report

    def test_entry_inserted_by_an_insider_who_rehashes(
        self, server: Server, tmp_path: Path
    ) -> None:
        cli = CLI(server.addr)
        _traffic(server)
        state = tmp_path / "s.json"
        _export(cli, tmp_path / "before.bundle")
        assert _verify(cli, tmp_path / "before.bundle", state)[0] == 0
        server.stop()
        with sqlite3.connect(server.data_dir / "strongroom.db") as db:
            (entry,) = db.execute("SELECT entry FROM audit_entries WHERE seq = 6").fetchone()
            forged = json.loads(entry)
            forged["request_id"] = "forged"
            raw = canonical(forged)
            db.execute("UPDATE audit_entries SET seq = seq + 1000000 WHERE seq >= 6")
            db.execute("UPDATE audit_entries SET seq = seq - 1000000 + 1 WHERE seq >= 1000000")
            db.execute(
                "INSERT INTO audit_entries (seq, leaf_hash, entry, time, event, tenant_id, "
                "principal, resource, outcome) VALUES (6, ?, ?, 0, 'x', 'x', 'x', 'x', 'x')",
                (leaf_hash(raw), raw),
            )
            _rebuild_tree(db)
        server = _start(server.data_dir, dev=True)
        try:
            _traffic(server, 1)
            cli = CLI(server.addr)
            _export(cli, tmp_path / "after.bundle")
            code, report = _verify(cli, tmp_path / "after.bundle", state)
        finally:
            server.stop()
        assert code == 7 and ("inserted", 6) in _kinds(report), report

    def test_tail_truncated(self, server: Server, tmp_path: Path) -> None:
        cli = CLI(server.addr)
        _traffic(server, 15)
        state = tmp_path / "s.json"
        _export(cli, tmp_path / "before.bundle")
        assert _verify(cli, tmp_path / "before.bundle", state)[0] == 0
        trusted = json.loads(state.read_text())["size"]
        server.stop()
        keep = trusted - 20
        with sqlite3.connect(server.data_dir / "strongroom.db") as db:
            db.execute("DELETE FROM audit_entries WHERE seq >= ?", (keep,))
            db.execute("DELETE FROM audit_checkpoints WHERE size > ?", (keep,))
            # Subtrees that reached past the cut go too, or the server refuses to append.
            db.execute("DELETE FROM audit_nodes WHERE (idx + 1) * (1 << level) > ?", (keep,))
        server = _start(server.data_dir, dev=True)
        try:
            cli = CLI(server.addr)
            _export(cli, tmp_path / "after.bundle")
            code, report = _verify(cli, tmp_path / "after.bundle", state)
        finally:
            server.stop()
        assert code == 7 and "truncated" in [k for k, _ in _kinds(report)], report

    def test_two_verifiers_shown_different_trees_of_the_same_size(
        self, server: Server, tmp_path: Path
    ) -> None:
        cli = CLI(server.addr)
        _traffic(server)
        alice, bob = tmp_path / "alice.json", tmp_path / "bob.json"
        _export(cli, tmp_path / "alice.bundle")
        assert _verify(cli, tmp_path / "alice.bundle", alice)[0] == 0
        alice_note = tmp_path / "alice.note"
        alice_note.write_text(json.loads(alice.read_text())["note"])
        server.stop()
        # The operator rewrites history and re-signs it with the log's own key.
        with sqlite3.connect(server.data_dir / "strongroom.db") as db:
            (entry,) = db.execute("SELECT entry FROM audit_entries WHERE seq = 3").fetchone()
            forged = json.loads(entry)
            forged["principal"] = "acc_someone_else"
            db.execute("UPDATE audit_entries SET entry = ? WHERE seq = 3", (canonical(forged),))
            _rebuild_tree(db)
        server = _start(server.data_dir, dev=True)
        try:
            _traffic(server, 1)
            cli = CLI(server.addr)
            _export(cli, tmp_path / "bob.bundle")
        finally:
            server.stop()
        # Bob, who never saw the original, cannot tell on his own...
        assert _verify(cli, tmp_path / "bob.bundle", bob)[0] == 0
        # ...but Alice's remembered checkpoint, or her note shown to Bob, exposes the fork.
        code, report = _verify(cli, tmp_path / "bob.bundle", alice)
        assert code == 7 and "forked" in [k for k, _ in _kinds(report)], report
        code, report = _verify(cli, tmp_path / "bob.bundle", bob, "--trust", str(alice_note))
        assert code == 7 and "forked" in [k for k, _ in _kinds(report)], report


def test_proof_documents_verify_offline_and_catch_tampering(server: Server, tmp_path: Path) -> None:
    cli = CLI(server.addr)
    _traffic(server, 4)
    doc_path = tmp_path / "proofs.json"
    cli.ok("audit", "proofs", "--index", "2", "--index", "5", "--out", str(doc_path))
    key = httpx.get(
        server.addr + "/v1/audit/key", headers={"X-Strongroom-Token": ROOT_TOKEN}
    ).json()["verifier_key"]
    server.stop()  # offline from here on
    ok = cli("audit", "verify-proofs", str(doc_path), "--key", key, "--format", "json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["entries"] == 2

    doc = json.loads(doc_path.read_text())
    raw = bytearray(base64.b64decode(doc["items"][1]["leaf_input"]))
    raw[raw.index(b"secret")] = ord("S")
    doc["items"][1]["leaf_input"] = base64.b64encode(bytes(raw)).decode()
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(doc))
    r = cli("audit", "verify-proofs", str(bad), "--key", key)
    assert r.returncode == 7 and "item 1" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{")
    r = cli("audit", "verify-proofs", str(garbage))
    assert r.returncode == 7 and "Traceback" not in r.stderr
    r = cli("audit", "verify-proofs", str(tmp_path / "missing.json"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
