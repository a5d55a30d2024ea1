"""The audit log service in process: one entry per operation, same transaction, fail-closed."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from strongroom.errors import AuditUnavailable, Conflict, IntegrityViolation, NotFound
from strongroom.ledger.merkle import leaf_hash, root_at, verify_inclusion
from strongroom.storage.audit import AuditRepository
from strongroom.vault import Principal, Vault

ROOT = "strongroom_test_root_token"


def _entries(vault: Vault) -> list[dict[str, Any]]:
    with vault.db.read() as conn:
        repo = AuditRepository(conn)
        return [json.loads(r.entry) for r in repo.entries(0, repo.size())]


class TestInProcess:
    def test_each_record_operation_is_one_entry(self, vault: Vault, root: Principal) -> None:
        before = len(_entries(vault))
        vault.kv.put(root, "secret", "app/db", {"password": "hunter2"})
        vault.kv.get(root, "secret", "app/db")
        vault.kv.metadata(root, "secret", "app/db")
        vault.kv.list_keys(root, "secret", "app/")
        vault.kv.delete(root, "secret", "app/db")
        vault.kv.undelete(root, "secret", "app/db", versions=[1])
        vault.kv.destroy(root, "secret", "app/db", versions=[1])
        got = _entries(vault)[before:]
        assert [e["event"] for e in got] == [
            "kv:record:write",
            "kv:record:read",
            "kv:metadata:read",
            "kv:record:list",
            "kv:record:delete",
            "kv:record:undelete",
            "kv:record:destroy",
        ]
        assert all(e["outcome"] == "allowed" and e["principal"] == root.accessor for e in got)
        assert [e["seq"] for e in got] == list(range(before, before + len(got)))
        assert "hunter2" not in json.dumps(got)

    def test_failures_are_one_entry_each(self, vault: Vault, root: Principal) -> None:
        vault.kv.put(root, "secret", "cas", {"k": "v"})
        before = len(_entries(vault))
        with pytest.raises(Conflict):
            vault.kv.put(root, "secret", "cas", {"k": "v"}, cas=0)
        with pytest.raises(NotFound):
            vault.kv.get(root, "secret", "absent")
        got = _entries(vault)[before:]
        assert [(e["event"], e["outcome"], e["reason"]) for e in got] == [
            ("kv:record:write", "error", "conflict"),
            ("kv:record:read", "error", "not-found"),
        ]
        # The failed write noted nothing that did not happen.
        assert got[0]["details"] == {}

    def test_policy_denial_is_recorded_as_denied(self, vault: Vault, root: Principal) -> None:
        vault.admin.put_policy(
            root, "narrow", '{"rules": [{"path": "secret/open/*", "capabilities": ["read"]}]}'
        )
        created = vault.tokens.create(root, policies=["narrow"])
        limited = vault.tokens.authenticate(created.token)
        vault.kv.put(root, "secret", "closed/x", {"k": "v"})
        with pytest.raises(NotFound):
            vault.kv.get(limited, "secret", "closed/x")
        last = _entries(vault)[-1]
        assert last["outcome"] == "denied" and last["policy_version"] == "narrow@1"


class TestSameTransaction:
    def test_entry_and_record_commit_or_roll_back_together(
        self, vault: Vault, root: Principal
    ) -> None:
        vault.kv.put(root, "secret", "tx", {"v": 1})
        size = vault.audit.size()
        # Make every audit insert fail: the write must not happen either.
        vault.db.write(
            lambda tx: tx.conn.execute(
                text(
                    "CREATE TRIGGER block_audit BEFORE INSERT ON audit_entries "
                    "BEGIN SELECT RAISE(ABORT, 'blocked'); END"
                )
            )
        )
        with pytest.raises(AuditUnavailable):
            vault.kv.get(root, "secret", "tx")
        with pytest.raises(AuditUnavailable):
            vault.kv.put(root, "secret", "tx", {"v": 2})
        vault.db.write(lambda tx: tx.conn.execute(text("DROP TRIGGER block_audit")))
        assert vault.audit.size() == size
        assert vault.kv.get(root, "secret", "tx").data == {"v": 1}
        # The in-memory frontier was rolled back with the database.
        with vault.db.read() as conn:
            repo = AuditRepository(conn)
            assert repo.size() == vault.audit.size()
            assert root_at(repo, repo.size()) == vault.audit._committed.root()


class TestCheckpoints:
    def test_checkpoint_signs_the_committed_tree(self, vault: Vault, root: Principal) -> None:
        vault.kv.put(root, "secret", "cp", {"k": "v"})
        rec = vault.audit.checkpoint_now() or vault.audit.latest_checkpoint()
        assert rec.size == vault.audit.size()
        with vault.db.read() as conn:
            repo = AuditRepository(conn)
            assert root_at(repo, rec.size) == rec.root_hash
            raw = repo.entries(0, 1)[0].entry
        _, size, proof = vault.audit.inclusion(index=0, size=rec.size)
        verify_inclusion(
            leaf_hash=leaf_hash(raw), index=0, size=size, proof=proof, root=rec.root_hash
        )

    def test_concurrent_checkpoints_sign_each_size_once(
        self, vault: Vault, root: Principal
    ) -> None:
        # Regression: an explicit checkpoint_now() racing the checkpointer
        # thread signed the same size twice, and the second insert failed.
        errors: list[BaseException] = []

        def sign() -> None:
            try:
                vault.audit.checkpoint_now()
            except BaseException as exc:
                errors.append(exc)

        for round_ in range(20):
            vault.kv.put(root, "secret", f"race/{round_}", {"k": round_})
            threads = [threading.Thread(target=sign) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert errors == []
        assert vault.audit.latest_checkpoint().size == vault.audit.size()

    def test_signing_key_is_stored_sealed(self, vault: Vault) -> None:
        with vault.db.read() as conn:
            key = AuditRepository(conn).signing_key()
        assert key is not None and key.wrapped_private[:4] == b"SRsg"
        assert vault.audit.verifier_key().startswith(key.name + "+")


class TestStartupCheck:
    def test_truncated_log_refuses_to_start(
        self, make_vault: Callable[..., Vault], tmp_path: Any
    ) -> None:
        vault = make_vault()
        root = vault.tokens.authenticate(ROOT)
        for i in range(5):
            vault.kv.put(root, "secret", f"t{i}", {"k": i})
        assert vault.audit.checkpoint_now() is not None
        size = vault.audit.size()
        settings = vault.settings
        vault.db.write(
            lambda tx: tx.conn.execute(
                text("DELETE FROM audit_entries WHERE seq >= :n"), {"n": size - 2}
            )
        )
        vault.close()
        again = Vault(settings)
        with pytest.raises(IntegrityViolation):
            again.open()
        again.db.close()
