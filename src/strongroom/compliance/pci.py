"""PCI DSS v4.0 requirements 3, 8 and 10, as far as the vault itself can show them.

Example::

    >>> LOCKOUT_MAX_ATTEMPTS, LOCKOUT_MIN_S
    (10, 1800.0)
"""

from __future__ import annotations

from strongroom.compliance import criteria
from strongroom.compliance.control import Findings, Verdict
from strongroom.compliance.facts import Facts

__all__ = [
    "LOCKOUT_MAX_ATTEMPTS",
    "LOCKOUT_MIN_S",
    "authenticate_users",
    "log_and_monitor",
    "protect_stored_data",
]

LOCKOUT_MAX_ATTEMPTS = 10
"""PCI DSS 8.3.4: lock out after not more than 10 invalid attempts."""

LOCKOUT_MIN_S = 1800.0
"""PCI DSS 8.3.4: a lockout lasts at least 30 minutes."""


def protect_stored_data(facts: Facts) -> Verdict:
    """Req. 3: data sealed under live keys (3.5.1), KEK cryptoperiod (3.6.1, 3.7.4),
    root key under split knowledge and dual control (3.7.6)."""
    f = Findings()
    evidence = criteria.records_sealed(f, facts)
    evidence |= criteria.key_usage(f, facts)
    cur = facts.keys.current
    max_age = facts.settings.kek_max_age_s
    age = None if cur is None else round(facts.now - cur.created_at, 3)
    if max_age is None:
        f.ask("no cryptoperiod is configured (kek_max_age_s unset): show the key-rotation policy")
    elif age is not None and cur is not None:
        f.require(
            age <= max_age,
            f"KEK v{cur.version} is {age / 86400:.1f} days old, past its cryptoperiod of "
            f"{max_age / 86400:.1f} days: run `strongroom keys rotate` and `keys rewrap`",
        )
    evidence |= criteria.root_key_release(f, facts, dual_control=True)
    rotations = [v for v in facts.keys.versions if v.version > 1]
    evidence |= {
        "kek_current_age_s": age,
        "kek_max_age_s": max_age,
        "kek_rotations": len(rotations),
        "kek_retired": sum(1 for v in facts.keys.versions if v.retired_at is not None),
    }
    return f.verdict(
        f"records sealed under live keys; KEK v{cur.version if cur else '?'} is within its "
        "cryptoperiod; the root key needs several custodians",
        evidence,
    )


def authenticate_users(facts: Facts) -> Verdict:
    """Req. 8: every route identifies its caller (8.2.1); lockout after at most 10 failures,
    for at least 30 minutes (8.3.4)."""
    f = Findings()
    evidence = criteria.routes_need_token(f, facts)
    s = facts.settings
    f.require(
        0 < s.lockout_threshold <= LOCKOUT_MAX_ATTEMPTS,
        f"lockout_threshold is {s.lockout_threshold}; 8.3.4 asks for 1 to "
        f"{LOCKOUT_MAX_ATTEMPTS} attempts",
    )
    f.require(
        s.lockout_base_s >= LOCKOUT_MIN_S,
        f"a lockout lasts {s.lockout_base_s:.0f} s (lockout_base_s); 8.3.4 asks for at least "
        f"{LOCKOUT_MIN_S:.0f} s",
    )
    evidence |= {
        "lockout_threshold": s.lockout_threshold,
        "lockout_base_s": s.lockout_base_s,
        "lockout_max_s": s.lockout_max_s,
        "lockout_window_s": s.lockout_window_s,
        "tokens_live": facts.tokens.live,
    }
    return f.verdict(
        "every route identifies its caller by token, and failures lock out as 8.3.4 asks",
        evidence,
    )


def log_and_monitor(facts: Facts) -> Verdict:
    """Req. 10: every access logged (10.2.1), the log protected (10.3.2-10.3.4) and copied
    off the host (10.3.3), alerts reviewed and answered (10.4.1, 10.7.2)."""
    f = Findings()
    evidence = criteria.audit_coverage(f, facts)
    evidence |= criteria.ledger_verified(f, facts)
    evidence |= criteria.monitor_running(f, facts)
    s = facts.settings
    open_ids = [str(i) for i in facts.alerts.open_ids]
    f.require(
        not open_ids,
        f"{len(open_ids)} security alerts are not acknowledged: entries {criteria.some(open_ids)}",
    )
    if s.audit_syslog is None and s.audit_jsonl is None:
        f.require(False, "no copy of the log leaves the host (audit_syslog and audit_jsonl unset)")
    elif s.audit_syslog is None:
        f.ask(f"that a shipper sends {s.audit_jsonl} to the central log server")
    evidence |= {"audit_syslog": s.audit_syslog, "audit_jsonl": s.audit_jsonl}
    return f.verdict(
        "every route is logged under its event, the log verifies, a copy goes to syslog, "
        "and every alert is acknowledged",
        evidence,
    )
