"""Every control, judged on live facts: one fact turned off fails it (or asks for evidence),
turned on again passes it. No control returns the same status in both states."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi import APIRouter

from strongroom.api.deps import CurrentPrincipal
from strongroom.compliance import CATALOGUE, Status, build_report
from strongroom.compliance.catalogue import select
from strongroom.compliance.facts import Facts, Route
from strongroom.ledger.entry import AuditEvent, Event, Outcome

from .conftest import RIGHTS, Env, write_tls_pair

Make = Callable[..., Env]
ON, OFF = "on", "off"


def _status(facts: Facts, control_id: str) -> Status:
    (control,) = [c for c in CATALOGUE if c.control_id == control_id]
    return control.assess(facts).status


def _tamper(env: Env, seq: int = 1) -> None:
    """Rewrite one stored entry's bytes (not its leaf hash), as an intruder with SQL would."""
    with env.vault.db.engine.begin() as conn:
        from sqlalchemy import text

        (raw,) = conn.execute(
            text("SELECT entry FROM audit_entries WHERE seq = :s"), {"s": seq}
        ).one()
        forged = bytes(raw).replace(b'"outcome":"allowed"', b'"outcome":"denied"')
        assert forged != bytes(raw)
        conn.execute(
            text("UPDATE audit_entries SET entry = :e WHERE seq = :s"), {"e": forged, "s": seq}
        )


def _forever_token(env: Env) -> None:
    env.vault.db.write(
        lambda tx: env.vault.tokens.insert_token(
            tx,
            tenant="default",
            policies=("root",),
            ttl=0,
            expires_at=None,
            display_name="a second root token",
            renewable=False,
            meta={},
            parent=None,
        )
    )


def _add_route(env: Env, path: str, *, token: bool) -> None:
    router = APIRouter()
    if token:

        @router.get(path)
        def guarded(principal: CurrentPrincipal) -> dict[str, str]:
            return {}

    else:

        @router.get(path)
        def open_() -> dict[str, str]:
            return {}

    env.app.include_router(router)


def _log(env: Env, event: Event, *, principal: str = "system", **details: object) -> int:
    return env.vault.audit.commit(
        AuditEvent(
            event=event,
            principal=principal,
            tenant="default",
            resource="sys/test",
            outcome=Outcome.ALLOWED,
            request_id="test",
            details=details,
        )
    ).index


def _without(env: Env, event: str) -> list[Route]:
    return [r for r in env.routes() if r.event != event]


# -- the cases: each returns (facts with the fact off, facts with it on) ----------------------


def second_forever_token(make: Make) -> tuple[Facts, Facts]:
    env = make()
    on = env.facts()
    _forever_token(env)
    return env.facts(), on


def route_without_token(make: Make) -> tuple[Facts, Facts]:
    env = make()
    on = env.facts()
    _add_route(env, "/v1/sys/backdoor", token=False)
    return env.facts(), on


def dev_seal(make: Make) -> tuple[Facts, Facts]:
    return make(seal="dev").facts(), make().facts()


def record_without_key(make: Make) -> tuple[Facts, Facts]:
    env = make()
    on = env.facts()
    env.sql("UPDATE kv_versions SET wrapped_dek = NULL WHERE version = 1 AND subject_id IS NULL")
    return env.facts(), on


def route_without_event(make: Make) -> tuple[Facts, Facts]:
    env = make()
    on = env.facts()
    _add_route(env, "/v1/sys/unlogged", token=True)
    return env.facts(), on


def policy_route_without_event(make: Make) -> tuple[Facts, Facts]:
    env = make()
    on = env.facts()
    _add_route(env, "/v1/sys/policies/export", token=True)
    return env.facts(), on


def tampered_entry(make: Make) -> tuple[Facts, Facts]:
    env = make()
    on = env.facts()
    _tamper(env)
    return env.facts(), on


def stalled_checkpoints(make: Make) -> tuple[Facts, Facts]:
    env = make()
    _log(env, Event.SYS_METRICS_READ)
    env.sign()
    env.clock.advance(120)
    # The newest checkpoint lost: the entries after the one before it are unsigned, and
    # that one is two minutes old (the checkpointer thread signs nothing more: no new entry).
    env.sql("DELETE FROM audit_checkpoints WHERE size = (SELECT max(size) FROM audit_checkpoints)")
    off = env.facts()
    _log(env, Event.SYS_METRICS_READ)
    env.sign()
    return off, env.facts()


def no_lockout(make: Make) -> tuple[Facts, Facts]:
    return make(lockout_threshold=0).facts(), make().facts()


def one_share_unseals(make: Make) -> tuple[Facts, Facts]:
    return make(threshold=1).facts(), make().facts()


def plain_http(make: Make) -> tuple[Facts, Facts]:
    return make(tls_cert_file=None, tls_key_file=None).facts(), make().facts()


def mismatched_tls_key(make: Make) -> tuple[Facts, Facts]:
    env = make()
    other = env.data_dir / "other"
    other.mkdir()
    _, wrong_key = write_tls_pair(other)
    off = make(tls_cert_file=env.vault.settings.tls_cert_file, tls_key_file=wrong_key).facts()
    return off, env.facts()


def no_access_report_route(make: Make) -> tuple[Facts, Facts]:
    env = make()
    return env.facts(routes=_without(env, "sys:subject:report")), env.facts()


def no_erasure_route(make: Make) -> tuple[Facts, Facts]:
    env = make()
    return env.facts(routes=_without(env, "sys:subject:erase")), env.facts()


def no_export_route(make: Make) -> tuple[Facts, Facts]:
    env = make()
    return env.facts(routes=_without(env, "sys:subject:export")), env.facts()


def erased_subject_keeps_key(make: Make) -> tuple[Facts, Facts]:
    env = make()
    # Erased, by writing the row directly, but its wrapped key left behind.
    env.sql("UPDATE subjects SET erased_at = :t", t=env.clock())
    off = env.facts()
    env.sql("UPDATE subjects SET wrapped_key = NULL")
    return off, env.facts()


def cors_wildcard(make: Make) -> tuple[Facts, Facts]:
    return make(cors_origins=["*"]).facts(), make().facts()


def never_backed_up(make: Make) -> tuple[Facts, Facts]:
    env = make(backup=False)
    off = env.facts()
    env.backup()
    return off, env.facts()


def backup_overdue(make: Make) -> tuple[Facts, Facts]:
    env = make()
    env.clock.advance(3 * 86400)
    off = env.facts()
    env.backup()
    return off, env.facts()


def unattributed_change(make: Make) -> tuple[Facts, Facts]:
    env = make()
    on = env.facts()
    _log(env, Event.SYS_POLICY_WRITE, principal="anonymous")
    env.sign()
    return env.facts(), on


def kek_past_cryptoperiod(make: Make) -> tuple[Facts, Facts]:
    env = make()
    env.clock.advance(366 * 86400)
    off = env.facts()
    env.vault.keys.rotate(env.root)
    return off, env.facts()


def no_cryptoperiod(make: Make) -> tuple[Facts, Facts]:
    return make(kek_max_age_s=None).facts(), make().facts()


def passphrase_custody(make: Make) -> tuple[Facts, Facts]:
    return make(seal="passphrase").facts(), make().facts()


def short_lockout(make: Make) -> tuple[Facts, Facts]:
    return make(lockout_base_s=30.0).facts(), make().facts()


def open_alert(make: Make) -> tuple[Facts, Facts]:
    env = make()
    alert = _log(env, Event.MONITOR_ALERT_RAISE, kind="brute_force", severity="high")
    off = env.facts()
    _log(
        env, Event.MONITOR_ALERT_ACK, principal="acc_operator", alert=alert, disposition="resolved"
    )
    return off, env.facts()


def log_only_to_a_file(make: Make) -> tuple[Facts, Facts]:
    env = make()
    off = make(audit_syslog=None, audit_jsonl=str(env.data_dir / "audit.jsonl")).facts()
    return off, env.facts()


def no_log_copy(make: Make) -> tuple[Facts, Facts]:
    return make(audit_syslog=None).facts(), make().facts()


def monitor_off(make: Make) -> tuple[Facts, Facts]:
    return make(monitor_enabled=False).facts(), make().facts()


def subject_records_without_retention(make: Make) -> tuple[Facts, Facts]:
    env = make()
    on = env.facts()
    env.vault.retention.delete_rule(env.root, "patients")
    return env.facts(), on


def retention_not_applied(make: Make) -> tuple[Facts, Facts]:
    env = make()
    env.clock.advance(3 * 3600)
    off = env.facts()
    env.vault.retention.apply(None)
    return off, env.facts()


def retention_unscheduled(make: Make) -> tuple[Facts, Facts]:
    return make(retention_interval_s=None).facts(), make().facts()


def mount_without_purpose(make: Make) -> tuple[Facts, Facts]:
    env = make()
    on = env.facts()
    env.vault.retention.put_rule(
        env.root, "patients", mount="secret", action="erase-subjects", after_s=86400.0
    )
    return env.facts(), on


def no_processing_records_route(make: Make) -> tuple[Facts, Facts]:
    env = make()
    routes = [r for r in env.routes() if r.path != "/v1/sys/processing-records"]
    return env.facts(routes=routes), env.facts()


def long_key_backup_window(make: Make) -> tuple[Facts, Facts]:
    return make(subject_key_backup_days=90.0).facts(), make().facts()


@dataclass(frozen=True)
class Case:
    control: str
    build: Callable[[Make], tuple[Facts, Facts]]
    off: Status = Status.FAIL


F, N = Status.FAIL, Status.NEEDS_EVIDENCE
CASES = [
    Case("hipaa-164.312(a)(1)", second_forever_token),
    Case("hipaa-164.312(a)(1)", route_without_token),
    Case("hipaa-164.312(a)(2)(iv)", dev_seal),
    Case("hipaa-164.312(a)(2)(iv)", record_without_key),
    Case("hipaa-164.312(b)", route_without_event),
    Case("hipaa-164.312(b)", tampered_entry),
    Case("hipaa-164.312(c)(1)", tampered_entry),
    Case("hipaa-164.312(c)(1)", stalled_checkpoints),
    Case("hipaa-164.312(d)", no_lockout),
    Case("hipaa-164.312(d)", one_share_unseals),
    Case("hipaa-164.312(e)(1)", plain_http, N),
    Case("hipaa-164.312(e)(1)", mismatched_tls_key),
    Case("gdpr-5(1)(f)", tampered_entry),
    Case("gdpr-5(1)(f)", record_without_key),
    Case("gdpr-5(1)(e)", subject_records_without_retention),
    Case("gdpr-5(1)(e)", retention_not_applied),
    Case("gdpr-5(1)(e)", retention_unscheduled, N),
    Case("gdpr-15", no_access_report_route),
    Case("gdpr-17", erased_subject_keeps_key),
    Case("gdpr-17", no_erasure_route),
    Case("gdpr-17", long_key_backup_window),
    Case("gdpr-20", no_export_route),
    Case("gdpr-30", mount_without_purpose),
    Case("gdpr-30", no_processing_records_route),
    Case("gdpr-25", cors_wildcard),
    Case("gdpr-25", dev_seal),
    Case("gdpr-32", never_backed_up),
    Case("gdpr-32", backup_overdue),
    Case("gdpr-32", monitor_off),
    Case("sox-itgc-access", second_forever_token),
    Case("sox-itgc-access", policy_route_without_event),
    Case("sox-itgc-change", unattributed_change),
    Case("sox-itgc-change", tampered_entry),
    Case("pci-dss-3", kek_past_cryptoperiod),
    Case("pci-dss-3", no_cryptoperiod, N),
    Case("pci-dss-3", passphrase_custody, N),
    Case("pci-dss-3", record_without_key),
    Case("pci-dss-8", short_lockout),
    Case("pci-dss-8", route_without_token),
    Case("pci-dss-10", open_alert),
    Case("pci-dss-10", log_only_to_a_file, N),
    Case("pci-dss-10", no_log_copy),
    Case("pci-dss-10", tampered_entry),
    Case("euaiact-12", monitor_off),
    Case("euaiact-12", tampered_entry),
]


class TestControls:
    def test_every_control_has_an_off_and_on_case(self) -> None:
        assert {c.control for c in CASES} == {c.control_id for c in CATALOGUE}

    def test_the_compliant_vault_passes_everything(self, compliant: Make) -> None:
        doc = build_report(compliant().facts(), CATALOGUE, framework="all")
        failing = {c["id"]: c["reason"] for c in doc["controls"] if c["status"] != "pass"}
        assert failing == {}
        assert doc["summary"] == {"pass": 20, "fail": 0, "needs-evidence": 0, "total": 20}

    @pytest.mark.parametrize("case", CASES, ids=[f"{c.control}-{c.build.__name__}" for c in CASES])
    def test_off_then_on(self, case: Case, compliant: Make) -> None:
        off, on = case.build(compliant)
        got_off, got_on = _status(off, case.control), _status(on, case.control)
        assert (got_off, got_on) == (case.off, Status.PASS)
        assert got_off != got_on


class TestEvidence:
    def test_tampering_names_the_entry(self, compliant: Make) -> None:
        off, _ = tampered_entry(compliant)
        (result,) = [c.assess(off) for c in select("hipaa") if c.control_id.endswith("(c)(1)")]
        assert "entry 1" in result.reason and "modified" in result.reason
        assert result.evidence["ledger_verified"] is False
        assert off.ledger.problems[0].startswith("entry 1:")

    def test_unlogged_route_is_named(self, compliant: Make) -> None:
        off, _ = route_without_event(compliant)
        result = next(c for c in CATALOGUE if c.control_id == "hipaa-164.312(b)").assess(off)
        assert "GET /v1/sys/unlogged" in result.reason
        assert result.evidence["routes_without_audit_event"] == ["GET /v1/sys/unlogged"]

    def test_erased_subject_is_named(self, compliant: Make) -> None:
        off, _ = erased_subject_keeps_key(compliant)
        result = next(c for c in CATALOGUE if c.control_id == "gdpr-17").assess(off)
        (kept,) = result.evidence["erased_subjects_with_key"]
        assert kept.startswith("sub_") and kept in result.reason

    def test_key_age_and_rotation_history(self, compliant: Make) -> None:
        off, on = kek_past_cryptoperiod(compliant)
        (pci3,) = [c for c in CATALOGUE if c.control_id == "pci-dss-3"]
        before, after = pci3.assess(off).evidence, pci3.assess(on).evidence
        assert before["kek_current_age_s"] > 365 * 86400
        assert after["kek_current_version"] == 2 and after["kek_current_age_s"] == 0
        assert [v["version"] for v in after["kek_versions"]] == [1, 2]
        assert after["kek_rotations"] == 1

    def test_report_holds_the_checkpoint_and_no_secret(self, compliant: Make) -> None:
        env = compliant()
        doc = build_report(env.facts(), select("all"), framework="all")
        cp = doc["checkpoint"]
        assert cp["size"] == env.vault.audit.latest_checkpoint().size
        assert cp["note"].startswith(env.vault.audit.origin + "\n")
        text = json.dumps(doc)
        assert env.token not in text
        assert "wrapped" not in json.dumps([c["evidence"] for c in doc["controls"]]).replace(
            "wrapped data key", ""
        ).replace("wrapped by a KEK", "").replace("erased_subjects_with_key", "")

    def test_transmission_says_what_evidence_is_needed(self, compliant: Make) -> None:
        off, _ = plain_http(compliant)
        result = next(c for c in CATALOGUE if c.control_id == "hipaa-164.312(e)(1)").assess(off)
        assert result.status is Status.NEEDS_EVIDENCE
        assert "TLS-terminating proxy" in result.reason and "127.0.0.1:8200" in result.reason

    def test_rights_routes_are_found_by_event(self) -> None:
        assert set(RIGHTS) == {"sys:subject:erase", "sys:subject:export", "sys:subject:report"}
