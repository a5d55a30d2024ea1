"""Consent, retention and legal holds on a vault in process."""

from __future__ import annotations

import json
import time

import pytest

from strongroom.errors import ConsentRequired, Gone, InvalidInput, LegalHold, NotFound
from strongroom.vault import Vault
from strongroom.vault.audit_scope import AuditScope, open_scope
from strongroom.vault.consent import scope_covers
from strongroom.vault.policy import PolicyDocument
from strongroom.vault.principal import Principal
from strongroom.vault.retention import RetentionSchedule

POLICY = json.dumps(
    {"rules": [{"path": "secret/*", "capabilities": ["read"], "require_consent": ["care"]}]}
)


def _reader(vault: Vault, root: Principal) -> Principal:
    vault.admin.put_policy(root, "care", POLICY)
    token = vault.tokens.create(root, policies=["care"]).token
    return vault.tokens.authenticate(token)


def _read_as(vault: Vault, who: Principal, path: str, purpose: str | None) -> object:
    scope = AuditScope(request_id="t", purpose=purpose)
    with open_scope(scope):
        return vault.kv.get(who, "secret", path).data


class TestConsent:
    def test_policy_parses_and_validates_require_consent(self) -> None:
        doc = PolicyDocument.parse(POLICY)
        assert doc.rules[0].require_consent == frozenset({"care"})
        assert doc.to_dict()["rules"][0]["require_consent"] == ["care"]
        with pytest.raises(InvalidInput, match="purpose"):
            PolicyDocument.parse(
                '{"rules": [{"path": "a/*", "capabilities": ["read"], '
                '"require_consent": ["Bad Purpose"]}]}'
            )
        with pytest.raises(InvalidInput):
            PolicyDocument.parse(
                '{"rules": [{"path": "a/*", "capabilities": ["read"], "require_consent": "care"}]}'
            )

    def test_scopes(self) -> None:
        assert scope_covers("*", "m", "a/b")
        assert scope_covers("m/a/*", "m", "a/b")
        assert not scope_covers("m/c/*", "m", "a/b")

    def test_grant_expiry_withdraw_and_scope(self, vault: Vault, root: Principal) -> None:
        sid = vault.subjects.create(root).id
        vault.kv.put(root, "secret", "a/1", {"x": 1}, subject=sid)
        vault.kv.put(root, "secret", "plain", {"x": 2})
        who = _reader(vault, root)
        # Records without a subject need no consent.
        assert _read_as(vault, who, "plain", None) == {"x": 2}
        with pytest.raises(ConsentRequired, match="declared purpose"):
            _read_as(vault, who, "a/1", None)
        with pytest.raises(ConsentRequired, match="declared purpose"):
            _read_as(vault, who, "a/1", "marketing")
        with pytest.raises(ConsentRequired, match="no valid consent"):
            _read_as(vault, who, "a/1", "care")
        # A consent whose scope does not cover the record does not count.
        vault.consents.grant(root, sid, purpose="care", scope="secret/b/*")
        with pytest.raises(ConsentRequired):
            _read_as(vault, who, "a/1", "care")
        v2 = vault.consents.grant(root, sid, purpose="care", expires_at=time.time() + 0.4)
        assert v2.version == 2
        assert _read_as(vault, who, "a/1", "care") == {"x": 1}
        time.sleep(0.5)
        with pytest.raises(ConsentRequired):
            _read_as(vault, who, "a/1", "care")
        vault.consents.grant(root, sid, purpose="care")
        assert _read_as(vault, who, "a/1", "care") == {"x": 1}
        vault.consents.withdraw(root, sid, purpose="care")
        with pytest.raises(ConsentRequired):
            _read_as(vault, who, "a/1", "care")
        history = vault.consents.history(root, sid)
        assert [c.version for c in history] == [1, 2, 3, 4]
        assert history[-1].withdrawn_at is not None
        # The root token's reads are not bound by the policy's consent rule.
        assert vault.kv.get(root, "secret", "a/1").data == {"x": 1}

    def test_bad_grants(self, vault: Vault, root: Principal) -> None:
        sid = vault.subjects.create(root).id
        with pytest.raises(InvalidInput):
            vault.consents.grant(root, sid, purpose="Care!")
        with pytest.raises(InvalidInput):
            vault.consents.grant(root, sid, purpose="care", expires_at=1.0)
        with pytest.raises(InvalidInput):
            vault.consents.grant(root, sid, purpose="care", scope="bad//pattern")
        with pytest.raises(NotFound):
            vault.consents.grant(root, "sub_000000000000000000000000", purpose="care")
        with pytest.raises(NotFound):
            vault.consents.withdraw(root, sid, purpose="care")


class TestRetention:
    def test_rules_validate(self, vault: Vault, root: Principal) -> None:
        with pytest.raises(InvalidInput):
            vault.retention.put_rule(root, "r", mount="secret", action="shred", after_s=1)
        with pytest.raises(InvalidInput):
            vault.retention.put_rule(root, "r", mount="secret", action="erase-subjects", after_s=0)
        with pytest.raises(NotFound):
            vault.retention.put_rule(root, "r", mount="nope", action="erase-subjects", after_s=1)
        with pytest.raises(InvalidInput):
            vault.retention.put_rule(
                root, "Bad Name", mount="secret", action="erase-subjects", after_s=1
            )
        vault.retention.put_rule(root, "r", mount="secret", action="erase-subjects", after_s=5)
        vault.retention.put_rule(root, "r", mount="secret", action="destroy-versions", after_s=9)
        (rule,) = vault.retention.rules(root)
        assert rule.action == "destroy-versions" and rule.after_s == 9
        vault.retention.delete_rule(root, "r")
        assert vault.retention.rules(root) == []
        with pytest.raises(NotFound):
            vault.retention.delete_rule(root, "r")

    def test_schedule_erases_due_subjects_except_held_ones(
        self, vault: Vault, root: Principal
    ) -> None:
        old, held, fresh = (vault.subjects.create(root).id for _ in range(3))
        vault.kv.put(root, "secret", "o", {"v": 1}, subject=old)
        vault.kv.put(root, "secret", "h", {"v": 1}, subject=held)
        vault.retention.put_rule(root, "gone", mount="secret", action="erase-subjects", after_s=0.2)
        vault.retention.place_hold(root, reason="case 1", subject_id=held)
        time.sleep(0.3)
        vault.kv.put(root, "secret", "f", {"v": 1}, subject=fresh)
        schedule = RetentionSchedule(vault, interval_s=3600)
        result = schedule.run_once()
        assert result is not None and result.subjects_erased == 1 and result.held == 1
        with pytest.raises(Gone):
            vault.kv.get(root, "secret", "o")
        assert vault.kv.get(root, "secret", "h").data == {"v": 1}
        assert vault.kv.get(root, "secret", "f").data == {"v": 1}
        entries = [json.loads(r.entry) for r in vault.audit.entries(0, vault.audit.size())]
        erased = [e for e in entries if e["event"] == "sys:subject:erase"]
        assert [e["resource"] for e in erased] == [f"sys/subjects/{old}/erase"]
        assert erased[0]["principal"] == "system:retention"
        assert erased[0]["details"]["rule"] == "gone"
        applied = [e for e in entries if e["event"] == "sys:retention:apply"]
        assert applied[-1]["details"]["subjects_erased"] == 1

    def test_sealed_vault_is_not_touched(self, vault: Vault, root: Principal) -> None:
        vault.seal_now(root)
        assert RetentionSchedule(vault, interval_s=1).run_once() is None

    def test_holds_validate_and_release_once(self, vault: Vault, root: Principal) -> None:
        with pytest.raises(InvalidInput):
            vault.retention.place_hold(root, reason="x")
        with pytest.raises(InvalidInput):
            vault.retention.place_hold(root, reason=" ", mount="secret")
        with pytest.raises(NotFound):
            vault.retention.place_hold(root, reason="x", subject_id="sub_000000000000000000000000")
        hold = vault.retention.place_hold(root, reason="x", mount="secret", path_prefix="a/")
        vault.kv.put(root, "secret", "a/1", {"v": 1})
        with pytest.raises(LegalHold):
            vault.kv.delete_metadata(root, "secret", "a/1")
        assert [h.id for h in vault.retention.holds(root, active_only=True)] == [hold.id]
        vault.retention.release_hold(root, hold.id)
        with pytest.raises(NotFound):
            vault.retention.release_hold(root, hold.id)
        vault.kv.delete_metadata(root, "secret", "a/1")
