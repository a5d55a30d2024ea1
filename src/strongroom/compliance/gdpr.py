"""GDPR (Regulation (EU) 2016/679): the articles the software itself can show.

Adding an article is a function here and a line in
:mod:`strongroom.compliance.catalogue`.

Example::

    >>> SUBJECT_ROUTES["gdpr-17"]
    ('sys:subject:erase',)
"""

from __future__ import annotations

from typing import Any

from strongroom.compliance import criteria
from strongroom.compliance.control import Findings, Verdict
from strongroom.compliance.facts import Facts

__all__ = [
    "ERASURE_WINDOW_DAYS",
    "SUBJECT_ROUTES",
    "by_design",
    "erasure",
    "integrity_confidentiality",
    "portability",
    "processing_records",
    "right_of_access",
    "security_of_processing",
    "storage_limitation",
]

SUBJECT_ROUTES: dict[str, tuple[str, ...]] = {
    "gdpr-15": ("sys:subject:read", "sys:subject:report"),
    "gdpr-17": ("sys:subject:erase",),
    "gdpr-20": ("sys:subject:export",),
}
"""The audit events of the routes that serve each data subject right: the right is
served when a route with that event is served, needs a token and is audited."""

ERASURE_WINDOW_DAYS = 30.0
"""The longest key-backup window that still erases "without undue delay": art. 12(3)
gives the controller one month to act on a request."""

PROCESSING_RECORDS_ROUTE = ("GET", "/v1/sys/processing-records")

BACKUP_SLACK = 2.0
"""A scheduled backup counts as late once it is this many intervals old."""


def _served(f: Findings, facts: Facts, events: tuple[str, ...]) -> dict[str, Any]:
    """Each of ``events`` must be served by an authenticated, audited route."""
    found: dict[str, list[str]] = {}
    for e in events:
        routes = [r for r in facts.routes if r.event == e and r.authenticated and r.audited]
        found[e] = [r.label for r in routes]
        f.require(bool(routes), f"no route serving {e} is served by this server")
    return {"routes_by_event": found}


def integrity_confidentiality(facts: Facts) -> Verdict:
    """Art. 5(1)(f): records encrypted under keys only people release; the log verifies."""
    f = Findings()
    evidence = criteria.records_sealed(f, facts)
    evidence |= criteria.root_key_release(f, facts, dual_control=False)
    evidence |= criteria.ledger_verified(f, facts)
    return f.verdict(
        "records are sealed under live keys, the root key is released by people, and the "
        "access log verifies",
        evidence,
    )


def right_of_access(facts: Facts) -> Verdict:
    """Art. 15: a subject can be found, and who accessed their data can be reported."""
    f = Findings()
    evidence = _served(f, facts, SUBJECT_ROUTES["gdpr-15"])
    evidence |= {"subjects": facts.subjects.total}
    return f.verdict(
        "subjects are found by reference and their access report is served and audited",
        evidence,
    )


def erasure(facts: Facts) -> Verdict:
    """Art. 17: erasure is served, and every erased subject's key is gone (crypto-shredded)."""
    f = Findings()
    evidence = _served(f, facts, SUBJECT_ROUTES["gdpr-17"])
    sub = facts.subjects
    kept = list(sub.erased_with_key)
    f.require(
        not kept,
        f"{len(kept)} erased subjects still have a wrapped key stored: {criteria.some(kept)}",
    )
    window = facts.settings.subject_key_backup_days
    f.require(
        window <= ERASURE_WINDOW_DAYS,
        f"an erased subject's key stays in key backups for up to {window:g} days "
        f"(subject_key_backup_days); art. 12(3) allows {ERASURE_WINDOW_DAYS:g}",
    )
    evidence |= {
        "subject_key_backup_days": window,
        "subjects": sub.total,
        "subjects_erased": sub.erased,
        "erased_subjects_with_key": kept[:50],
        "record_versions_under_erased_subjects": facts.records.under_erased_subject,
    }
    return f.verdict(
        f"{sub.erased} of {sub.total} subjects erased; no erased subject's key is stored",
        evidence,
    )


def portability(facts: Facts) -> Verdict:
    """Art. 20: a subject's records are exported in a structured, machine-readable form."""
    f = Findings()
    evidence = _served(f, facts, SUBJECT_ROUTES["gdpr-20"])
    evidence |= {"subjects": facts.subjects.total, "format": "JSON"}
    return f.verdict("the subject export is served (JSON) and audited", evidence)


def by_design(facts: Facts) -> Verdict:
    """Art. 25: the protective settings are in force (no dev mode, CORS closed, limits on)."""
    f = Findings()
    s = facts.settings
    f.require(not s.dev, "dev mode is on (root key in clear, fixed root token)")
    f.require("*" not in s.cors_origins, "CORS allows every origin ('*')")
    f.require(
        bool(s.rate_limit_per_token) and bool(s.rate_limit_per_ip),
        "a request rate limit is switched off",
    )
    f.require(s.monitor_enabled, "the security monitor is disabled")
    evidence = {
        "dev_mode": s.dev,
        "cors_origins": list(s.cors_origins),
        "rate_limit_per_token": s.rate_limit_per_token,
        "rate_limit_per_ip": s.rate_limit_per_ip,
        "monitor_enabled": s.monitor_enabled,
        "audit_pseudonymisation": "client addresses and subjects appear only as keyed hashes",
        "subject_references": "stored only as keyed blind indexes",
    }
    return f.verdict("the settings that protect by default are in force", evidence)


def security_of_processing(facts: Facts) -> Verdict:
    """Art. 32: encryption, a verifiable log, restorable backups, monitoring."""
    f = Findings()
    evidence = criteria.key_usage(f, facts)
    evidence |= criteria.ledger_verified(f, facts)
    evidence |= criteria.monitor_running(f, facts)
    b = facts.backups
    interval = facts.settings.backup_interval_s
    f.require(b.logged > 0, "no backup is recorded in the audit log (art. 32(1)(c))")
    age = None if b.last_time is None else round(facts.now - b.last_time, 3)
    if b.logged and interval is None:
        f.ask(
            "backups are not scheduled here (backup_interval_s unset): show the schedule "
            "that runs `strongroom backup create`"
        )
    elif age is not None and interval is not None:
        f.require(
            age <= BACKUP_SLACK * interval,
            f"the last backup is {age:.0f} s old; they are scheduled every {interval:.0f} s",
        )
    evidence |= {
        "backups_logged": b.logged,
        "last_backup_index": b.last_index,
        "last_backup_time": b.last_time,
        "last_backup_age_s": age,
        "last_backup_snapshot": b.last_snapshot,
        "backup_interval_s": interval,
        "restores_logged": b.restores,
    }
    return f.verdict(
        f"keys in use below their limits, the log verifies, the monitor runs, and the last "
        f"backup (entry {b.last_index}) is on schedule",
        evidence,
    )


def _subject_mounts(facts: Facts) -> list[str]:
    return sorted(k for k, n in facts.retention.subject_records.items() if n > 0)


def storage_limitation(facts: Facts) -> Verdict:
    """Art. 5(1)(e): personal data kept no longer than needed — a retention rule (or a
    version expiry) covers every mount holding subjects' records, and the rules are applied."""
    f = Findings()
    r = facts.retention
    ruled = {f"{x['tenant']}/{x['mount']}" for x in r.rules}
    bare = [m for m in _subject_mounts(facts) if m not in ruled and not r.version_expiry.get(m)]
    f.require(
        not bare,
        f"mounts holding data subjects' records without a retention rule or version expiry: "
        f"{criteria.some(bare)}",
    )
    interval = facts.settings.retention_interval_s
    age = None if r.last_run_time is None else round(facts.now - r.last_run_time, 3)
    if r.rules:
        if interval is None:
            f.ask(
                "retention rules are not applied on a schedule here (retention_interval_s "
                "unset): show the schedule that runs `strongroom retention apply`"
            )
        else:
            f.require(age is not None, "the retention rules have never been applied")
            f.require(
                age is None or age <= BACKUP_SLACK * interval,
                f"the retention rules last ran {age or 0:.0f} s ago; they are scheduled every "
                f"{interval:.0f} s",
            )
    evidence = {
        "mounts_with_subject_records": dict(r.subject_records),
        "retention_rules": [dict(x) for x in r.rules],
        "mounts_without_retention": bare,
        "retention_interval_s": interval,
        "retention_runs_logged": r.runs_logged,
        "last_retention_run_age_s": age,
        "active_legal_holds": r.active_holds,
    }
    return f.verdict(
        f"{len(r.rules)} retention rules cover every mount holding subjects' records and "
        "run on schedule",
        evidence,
    )


def processing_records(facts: Facts) -> Verdict:
    """Art. 30: the records of processing are generated from live state, and every mount
    holding subjects' records declares its purpose."""
    f = Findings()
    r = facts.retention
    method, path = PROCESSING_RECORDS_ROUTE
    served = [x for x in facts.routes if x.method == method and x.path == path and x.authenticated]
    f.require(bool(served), f"{method} {path} (the records of processing) is not served")
    declared: dict[str, set[str]] = {}
    for x in r.rules:
        if x.get("purpose"):
            declared.setdefault(f"{x['tenant']}/{x['mount']}", set()).add(str(x["purpose"]))
    for mount, purposes in r.consent_purposes.items():
        declared.setdefault(mount, set()).update(purposes)
    silent = [m for m in _subject_mounts(facts) if not declared.get(m)]
    f.require(
        not silent,
        f"mounts holding data subjects' records with no declared purpose (a retention rule's "
        f"purpose or a policy's require_consent): {criteria.some(silent)}",
    )
    evidence = {
        "route": f"{method} {path}",
        "activities": {
            m: {
                "purposes": sorted(declared.get(m, set())),
                "subject_record_versions": r.subject_records.get(m, 0),
            }
            for m in sorted(set(r.subject_records) | set(declared))
        },
        "undeclared": silent,
    }
    return f.verdict(
        "every mount holding subjects' records declares its purposes; the records of "
        "processing are served from live state",
        evidence,
    )
