"""SOX IT general controls (PCAOB AS 2201 ¶.B4, COSO 2013 principle 11): access and change.

Example::

    >>> CHANGE_PREFIXES[0]
    '/v1/sys/policies'
"""

from __future__ import annotations

from strongroom.compliance import criteria
from strongroom.compliance.control import Findings, Verdict
from strongroom.compliance.facts import Facts

__all__ = [
    "ACCESS_PREFIXES",
    "CHANGE_EVENTS",
    "CHANGE_PREFIXES",
    "change_management",
    "logical_access",
]

ACCESS_PREFIXES = ("/v1/auth/", "/v1/sys/policies", "/v1/sys/tenants")
"""Routes that grant, change or take away access: tokens, policies, tenants."""

CHANGE_PREFIXES = (
    "/v1/sys/policies",
    "/v1/sys/mounts",
    "/v1/sys/keys",
    "/v1/sys/tenants",
    "/v1/sys/seal",
    "/v1/sys/init",
)
"""Routes that change the system's configuration: policies, mounts, keys, tenants, seal."""

CHANGE_EVENTS = (
    "sys:policy:write",
    "sys:policy:delete",
    "sys:mount:write",
    "sys:mount:delete",
    "sys:keys:rotate",
    "sys:keys:rewrap",
    "sys:keys:retire",
    "sys:tenant:write",
    "sys:seal:init",
    "sys:seal:seal",
)
"""The audit events of configuration changes, counted in the evidence."""


def logical_access(facts: Facts) -> Verdict:
    """Access is granted and removed only through audited routes; privileged tokens expire."""
    f = Findings()
    evidence = criteria.audit_coverage(
        f, facts, prefixes=ACCESS_PREFIXES, what="access-management routes"
    )
    evidence |= criteria.non_expiring_tokens(f, facts)
    evidence |= {"denied_requests_logged": facts.activity.denied}
    return f.verdict(
        "every token, policy and tenant change is an audited route, and privileged tokens "
        "other than the initial root token expire",
        evidence,
    )


def change_management(facts: Facts) -> Verdict:
    """Every configuration change is an audited, attributed entry of a log that verifies."""
    f = Findings()
    evidence = criteria.audit_coverage(
        f, facts, prefixes=CHANGE_PREFIXES, what="configuration routes"
    )
    unattributed = list(facts.activity.unattributed_changes)
    f.require(
        not unattributed,
        f"{len(unattributed)} logged changes name no principal: entries "
        f"{criteria.some([str(i) for i in unattributed])}",
    )
    evidence |= criteria.ledger_verified(f, facts)
    evidence |= {
        "changes_logged": dict(facts.activity.changes),
        "unattributed_change_entries": unattributed[:50],
    }
    return f.verdict(
        f"{sum(facts.activity.changes.values())} configuration changes are in the verified "
        "log, each naming who made it",
        evidence,
    )
