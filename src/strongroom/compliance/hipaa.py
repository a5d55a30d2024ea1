"""HIPAA Security Rule, 45 CFR 164.312: the technical safeguards.

One function per standard, each judging live facts (see docs/compliance.md
for what each checks and the evidence it gives).

Example::

    >>> access_control.__name__
    'access_control'
"""

from __future__ import annotations

import ipaddress

from strongroom.compliance import criteria
from strongroom.compliance.control import Findings, Verdict
from strongroom.compliance.facts import Facts

__all__ = [
    "access_control",
    "audit_controls",
    "authentication",
    "encryption",
    "integrity",
    "transmission_security",
]

CHECKPOINT_LAG_S = 60.0
"""Longest a new entry may wait for a checkpoint before the checkpointer counts as stalled
(it signs within a second of any new entry while unsealed, ARCHITECTURE.md §5)."""


def access_control(facts: Facts) -> Verdict:
    """164.312(a)(1): access only with a token; tokens expire (automatic logoff)."""
    f = Findings()
    evidence = criteria.routes_need_token(f, facts)
    evidence |= criteria.non_expiring_tokens(f, facts)
    return f.verdict(
        "every route outside the seal and probe routes needs a token, and every token "
        "but the initial root token expires",
        evidence,
    )


def encryption(facts: Facts) -> Verdict:
    """164.312(a)(2)(iv): records sealed under live keys; the root key never in clear."""
    f = Findings()
    evidence = criteria.root_key_release(f, facts, dual_control=False)
    evidence |= criteria.key_usage(f, facts)
    evidence |= criteria.records_sealed(f, facts)
    return f.verdict(
        f"all {facts.records.versions} record versions are sealed under live keys; "
        f"the root key is released by {facts.seal.kind}",
        evidence,
    )


def audit_controls(facts: Facts) -> Verdict:
    """164.312(b): every route is recorded under a named event in a log that verifies."""
    f = Findings()
    evidence = criteria.audit_coverage(f, facts)
    evidence |= criteria.ledger_verified(f, facts)
    s = facts.settings
    evidence |= {
        "audit_jsonl": s.audit_jsonl,
        "audit_syslog": s.audit_syslog,
        "monitor_enabled": s.monitor_enabled,
    }
    return f.verdict(
        f"every audited route ({evidence['routes_with_audit_event']}) names its audit event "
        f"and the log of {facts.ledger.size} entries verifies against its signed checkpoint",
        evidence,
    )


def integrity(facts: Facts) -> Verdict:
    """164.312(c)(1): the log re-hashes to its signed checkpoint, and checkpoints keep up."""
    f = Findings()
    evidence = criteria.ledger_verified(f, facts)
    cp = facts.ledger.checkpoint
    unsigned = facts.ledger.size - (cp.size if cp is not None else 0)
    age = None if cp is None else round(facts.now - cp.created_at, 3)
    if cp is not None and unsigned > 0 and age is not None:
        f.require(
            age <= CHECKPOINT_LAG_S,
            f"{unsigned} entries are unsigned and the newest checkpoint is {age:.0f} s old "
            f"(the checkpointer has stalled; limit {CHECKPOINT_LAG_S:.0f} s)",
        )
    evidence |= {
        "checkpoint_age_s": age,
        "unsigned_entries": unsigned,
        "checkpoint_lag_limit_s": CHECKPOINT_LAG_S,
        "checkpoint_note": None if cp is None else cp.note,
    }
    return f.verdict(
        f"the {facts.ledger.verified_size} entries under the newest checkpoint re-hash to its "
        "signed root",
        evidence,
    )


def authentication(facts: Facts) -> Verdict:
    """164.312(d): failed authentications lock out; unsealing needs people, not a file."""
    f = Findings()
    s = facts.settings
    f.require(
        s.lockout_threshold > 0, "failed authentications never lock out (lockout_threshold=0)"
    )
    evidence = criteria.root_key_release(f, facts, dual_control=False)
    evidence |= {
        "lockout_threshold": s.lockout_threshold,
        "lockout_window_s": s.lockout_window_s,
        "lockout_base_s": s.lockout_base_s,
        "lockout_max_s": s.lockout_max_s,
        "token_storage": "keyed HMAC of each token; the token itself is never stored",
    }
    return f.verdict(
        f"tokens are checked on every request, {s.lockout_threshold} failures lock a client "
        f"out, and unsealing takes {facts.seal.kind}",
        evidence,
    )


def transmission_security(facts: Facts) -> Verdict:
    """164.312(e)(1): TLS on the listener, or evidence that a proxy terminates it."""
    f = Findings()
    lis = facts.listener
    host = lis.listen.rpartition(":")[0].strip("[]")
    evidence = {
        "listen": lis.listen,
        "tls": lis.tls,
        "tls_cert_file": lis.cert_file,
        "tls_problem": lis.tls_problem,
        "report_request_scheme": lis.request_scheme,
        "loopback_only": _loopback(host),
        "metrics_listen": facts.settings.metrics_listen,
    }
    if lis.tls:
        f.require(lis.tls_problem is None, f"TLS is configured but cannot serve: {lis.tls_problem}")
    elif _loopback(host):
        f.ask(
            f"the listener is plain HTTP on loopback ({lis.listen}): show the TLS-terminating "
            "proxy on this host that is the only way in"
        )
    else:
        f.ask(
            f"the listener is plain HTTP on {lis.listen}: show the TLS-terminating proxy or load "
            "balancer configuration and the network rule that lets only it reach this port"
        )
    return f.verdict(f"the listener on {lis.listen} speaks HTTPS only", evidence)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
