"""Checks that several controls share: routes, the ledger, records, keys, tokens, the seal.

Each function looks at one aspect of :class:`~strongroom.compliance.facts.Facts`,
records what fails (or what evidence is missing) in a
:class:`~strongroom.compliance.control.Findings`, and returns the evidence it
looked at, to be merged into the control's evidence. A control is then a few
of these calls and its own specific checks.

Example::

    >>> some(["a", "b", "c", "d"], limit=2)
    'a, b and 2 more'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from strongroom.compliance.control import Findings
from strongroom.compliance.facts import PRE_AUTH_PATHS, PROBE_PATHS, Facts

__all__ = [
    "audit_coverage",
    "key_usage",
    "ledger_verified",
    "monitor_running",
    "non_expiring_tokens",
    "records_sealed",
    "root_key_release",
    "routes_need_token",
    "some",
]

_LIST_MAX = 50


def some(items: Sequence[str], *, limit: int = 3) -> str:
    """The first ``limit`` items, and how many more."""
    shown = ", ".join(items[:limit])
    rest = len(items) - limit
    return f"{shown} and {rest} more" if rest > 0 else shown


def routes_need_token(f: Findings, facts: Facts) -> dict[str, Any]:
    """Every route outside :data:`PRE_AUTH_PATHS` must authenticate its caller."""
    open_routes = [
        r.label for r in facts.routes if not r.authenticated and r.path not in PRE_AUTH_PATHS
    ]
    f.require(not open_routes, f"routes answer without a token: {some(open_routes)}")
    return {
        "routes_served": len(facts.routes),
        "routes_without_token": open_routes[:_LIST_MAX],
        "routes_allowed_without_token": sorted(PRE_AUTH_PATHS),
    }


def audit_coverage(
    f: Findings, facts: Facts, *, prefixes: tuple[str, ...] = (), what: str = "routes"
) -> dict[str, Any]:
    """Every route (under ``prefixes``, if given) must name an audit event.

    A route the audit trail skips must be one of :data:`PROBE_PATHS`; a
    route it audits without an event is logged as ``http:request:reject``,
    which tells an auditor nothing about what was done.
    """
    routes = [r for r in facts.routes if not prefixes or r.path.startswith(prefixes)]
    missing = [r.label for r in routes if r.audited and r.event is None]
    skipped = [r.label for r in routes if not r.audited and r.path not in PROBE_PATHS]
    f.require(not missing, f"{what} without an audit event: {some(missing)}")
    f.require(not skipped, f"{what} the audit trail skips: {some(skipped)}")
    return {
        "routes_checked": len(routes),
        "routes_with_audit_event": sum(1 for r in routes if r.event is not None),
        "routes_without_audit_event": missing[:_LIST_MAX],
        "routes_not_audited": skipped[:_LIST_MAX],
        "routes_unaudited_by_design": sorted({r.label for r in routes if not r.audited}),
    }


def ledger_verified(f: Findings, facts: Facts) -> dict[str, Any]:
    """The ledger must have a signed checkpoint and verify against it right now."""
    led = facts.ledger
    f.require(led.checkpoint is not None, "no signed checkpoint vouches for the audit log yet")
    if led.checkpoint is not None:
        first = led.problems[0] if led.problems else "it does not verify"
        f.require(led.verified, f"the audit log does not verify: {first}")
    cp = led.checkpoint
    return {
        "ledger_size": led.size,
        "ledger_verified": led.verified,
        "ledger_verified_size": led.verified_size,
        "ledger_entries_rehashed": led.rehashed,
        "ledger_problems": list(led.problems),
        "checkpoint_size": None if cp is None else cp.size,
        "checkpoint_root_hash": None if cp is None else cp.root_hash,
        "log_origin": led.origin,
    }


def records_sealed(f: Findings, facts: Facts) -> dict[str, Any]:
    """Every stored record version must be sealed under a live key."""
    rec = facts.records
    f.require(
        rec.unwrapped == 0,
        f"{rec.unwrapped} record versions hold a ciphertext with no wrapped data key",
    )
    f.require(
        rec.on_dead_kek == 0,
        f"{rec.on_dead_kek} record versions name a retired or unknown KEK version",
    )
    return {
        "record_versions": rec.versions,
        "record_versions_without_key": rec.unwrapped,
        "record_versions_on_retired_kek": rec.on_dead_kek,
        "record_versions_under_erased_subjects": rec.under_erased_subject,
        "cipher": "AES-256-GCM envelope, per-record DEK wrapped by a KEK or a subject key",
    }


def key_usage(f: Findings, facts: Facts) -> dict[str, Any]:
    """A current KEK must exist and be used below ``kek_rotate_after`` (NIST SP 800-38D)."""
    cur = facts.keys.current
    limit = facts.settings.kek_rotate_after
    f.require(cur is not None, "there is no current KEK version")
    if cur is not None:
        f.require(
            cur.encryptions < limit,
            f"KEK v{cur.version} has done {cur.encryptions} encryptions (limit {limit})",
        )
    return {
        "kek_current_version": None if cur is None else cur.version,
        "kek_current_encryptions": None if cur is None else cur.encryptions,
        "kek_rotate_after": limit,
        "kek_versions": [
            {
                "version": v.version,
                "created_at": v.created_at,
                "retired_at": v.retired_at,
                "encryptions": v.encryptions,
                "records": v.records,
                "subjects": v.subjects,
            }
            for v in facts.keys.versions
        ],
    }


def root_key_release(f: Findings, facts: Facts, *, dual_control: bool) -> dict[str, Any]:
    """The root key must be released only by people: Shamir shares (k >= 2) or a passphrase.

    Dev mode keeps the root key in clear on disk and fails. With
    ``dual_control``, a passphrase needs evidence that it is held under
    split knowledge (PCI DSS 3.7.6), which the software cannot see.
    """
    seal = facts.seal
    f.require(seal.kind is not None, "the vault is not initialised")
    f.require(seal.kind != "dev", "dev mode: the root key is stored in clear in the data dir")
    if seal.kind == "shamir":
        f.require(
            seal.threshold >= 2,
            f"one Shamir share (of {seal.shares}) unseals the vault: no dual control",
        )
    if seal.kind == "passphrase" and dual_control:
        f.ask("that the unseal passphrase is held under split knowledge and dual control")
    return {
        "seal_type": seal.kind,
        "seal_shares": seal.shares,
        "seal_threshold": seal.threshold,
        "seal_state": seal.state,
        "dev_mode": facts.settings.dev,
    }


def non_expiring_tokens(f: Findings, facts: Facts) -> dict[str, Any]:
    """At most one live token may never expire: the initial root token, kept for emergencies."""
    tok = facts.tokens
    f.require(
        len(tok.non_expiring) <= 1,
        f"{len(tok.non_expiring)} live tokens never expire "
        f"({some(list(tok.non_expiring))}); only the initial root token may",
    )
    return {
        "tokens_live": tok.live,
        "tokens_never_expiring": list(tok.non_expiring[:_LIST_MAX]),
        "tokens_privileged": [
            {
                "accessor": t.accessor,
                "tenant": t.tenant,
                "created_at": t.created_at,
                "expires_at": t.expires_at,
            }
            for t in tok.privileged[:_LIST_MAX]
        ],
        "tokens_privileged_count": len(tok.privileged),
        "default_token_ttl": facts.settings.default_token_ttl,
        "max_token_ttl": facts.settings.max_token_ttl,
    }


def monitor_running(f: Findings, facts: Facts) -> dict[str, Any]:
    """The security monitor must be enabled (it reads every entry and raises alerts)."""
    s = facts.settings
    f.require(s.monitor_enabled, "the security monitor is disabled (monitor_enabled=false)")
    a = facts.alerts
    return {
        "monitor_enabled": s.monitor_enabled,
        "monitor_webhooks": len(s.monitor_webhooks),
        "alerts_raised": a.raised,
        "alerts_acknowledged": a.acknowledged,
        "alerts_open": list(a.open_ids[:_LIST_MAX]),
        "alerts_open_count": len(a.open_ids),
        "last_alert_index": a.last_raised,
        "last_alert_time": a.last_raised_time,
    }
