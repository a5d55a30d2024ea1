"""Consent, retention and legal holds on a vault in process."""

from __future__ import annotations

import json
import time

import pytest

from strongroom.errors import (
    ConsentRequired,
    Gone,
    InvalidInput,
    LegalHold,
    NotFound,
    PermissionDenied,
)
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


def _entries(vault: Vault) -> list[dict[str, object]]:
    return [json.loads(r.entry) for r in vault.audit.entries(0, vault.audit.size())]


def _token(vault: Vault, root: Principal, name: str, rules: list[dict[str, object]]) -> Principal:
    vault.admin.put_policy(root, name, json.dumps({"rules": rules}))
    return vault.tokens.authenticate(vault.tokens.create(root, policies=[name]).token)


class TestReviewFindings:
    """Regression tests of the review of the subject-rights work (each failed before its fix)."""

    def test_export_needs_read_on_every_record(self, vault: Vault, root: Principal) -> None:
        sid = vault.subjects.create(root).id
        vault.kv.put(root, "secret", "a/1", {"x": 1}, subject=sid)
        clerk = _token(vault, root, "clerk", [{"path": "sys/subjects", "capabilities": ["read"]}])
        with pytest.raises(PermissionDenied, match="read on each of its records"):
            vault.subjects.export(clerk, sid)
        reader = _token(
            vault,
            root,
            "reader",
            [
                {"path": "sys/subjects", "capabilities": ["read"]},
                {"path": "secret/a/*", "capabilities": ["read"]},
            ],
        )
        assert vault.subjects.export(reader, sid)["export"]["records"][0]["data"] == {"x": 1}

    def test_a_rule_needs_the_right_it_will_exercise(self, vault: Vault, root: Principal) -> None:
        admin = _token(
            vault, root, "ret", [{"path": "sys/retention", "capabilities": ["update", "read"]}]
        )
        with pytest.raises(PermissionDenied):
            vault.retention.put_rule(
                admin, "r", mount="secret", action="destroy-versions", after_s=60
            )
        with pytest.raises(PermissionDenied):
            vault.retention.put_rule(
                admin, "r", mount="secret", action="erase-subjects", after_s=60
            )
        for bad in (float("nan"), float("inf")):
            with pytest.raises(InvalidInput):
                vault.retention.put_rule(
                    root, "r", mount="secret", action="destroy-versions", after_s=bad
                )
        with pytest.raises(InvalidInput):
            vault.retention.put_rule(
                root, "r", mount="secret", action="destroy-versions", after_s=9, path_prefix="../x"
            )

    def test_erase_subjects_spares_a_subject_with_newer_records_elsewhere(
        self, vault: Vault, root: Principal
    ) -> None:
        vault.admin.create_mount(root, "clinic")
        sid = vault.subjects.create(root).id
        vault.kv.put(root, "secret", "old", {"v": 1}, subject=sid)
        vault.retention.put_rule(root, "r", mount="secret", action="erase-subjects", after_s=0.2)
        time.sleep(0.3)
        vault.kv.put(root, "clinic", "new", {"v": 2}, subject=sid)
        result = vault.retention.apply(None)
        assert result.subjects_erased == 0
        assert vault.kv.get(root, "clinic", "new").data == {"v": 2}

    def test_holds_stop_max_versions_and_unmount(self, vault: Vault, root: Principal) -> None:
        vault.admin.create_mount(root, "clinic")
        vault.kv.put(root, "clinic", "p", {"v": 1})
        vault.kv.update_metadata(root, "clinic", "p", max_versions=1)
        hold = vault.retention.place_hold(root, reason="case", mount="clinic")
        vault.kv.put(root, "clinic", "p", {"v": 2})
        assert vault.kv.get(root, "clinic", "p", version=1).data == {"v": 1}
        with pytest.raises(LegalHold):
            vault.admin.delete_mount(root, "clinic")
        vault.retention.release_hold(root, hold.id)
        vault.kv.put(root, "clinic", "p", {"v": 3})
        with pytest.raises(NotFound):
            vault.kv.get(root, "clinic", "p", version=1)
        vault.admin.delete_mount(root, "clinic")

    def test_non_finite_expiry_is_refused(self, vault: Vault, root: Principal) -> None:
        sid = vault.subjects.create(root).id
        for bad in (float("nan"), float("inf")):
            with pytest.raises(InvalidInput):
                vault.consents.grant(root, sid, purpose="care", expires_at=bad)

    def test_every_access_to_a_subject_record_names_the_subject(
        self, vault: Vault, root: Principal
    ) -> None:
        sid = vault.subjects.create(root).id
        vault.kv.put(root, "secret", "s/1", {"x": 1}, subject=sid)
        vault.kv.put(root, "secret", "s/1", {"x": 2}, subject=sid)
        reader = _token(vault, root, "ro", [{"path": "secret/s/*", "capabilities": ["read"]}])
        nobody = _token(vault, root, "none", [{"path": "other/*", "capabilities": ["read"]}])
        start = vault.audit.size()
        vault.kv.metadata(root, "secret", "s/1")
        with pytest.raises(PermissionDenied):
            vault.kv.put(reader, "secret", "s/1", {"x": 3}, subject=sid)
        with pytest.raises(Exception):
            vault.kv.put(root, "secret", "s/1", {"x": 3}, cas=99)
        with pytest.raises(NotFound):
            vault.kv.metadata(nobody, "secret", "s/1")
        vault.kv.delete(root, "secret", "s/1", versions=[1])
        with pytest.raises(NotFound):
            vault.kv.get(root, "secret", "s/1", version=1)
        vault.kv.destroy(root, "secret", "s/1", versions=[1])
        touched = _entries(vault)[start:]
        assert len(touched) == 7
        assert all(str(e.get("subject", "")).startswith("sp1_") for e in touched), touched
