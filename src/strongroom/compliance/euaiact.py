"""EU AI Act (Regulation (EU) 2024/1689), art. 12: automatic record-keeping.

Example::

    >>> record_keeping.__name__
    'record_keeping'
"""

from __future__ import annotations

from strongroom.compliance import criteria
from strongroom.compliance.control import Findings, Verdict
from strongroom.compliance.facts import Facts

__all__ = ["record_keeping"]


def record_keeping(facts: Facts) -> Verdict:
    """Art. 12: events recorded automatically over the system's lifetime (12(1)), in a
    log that stays traceable (12(2)), with risk situations flagged (12(2)(a))."""
    f = Findings()
    evidence = criteria.audit_coverage(f, facts)
    evidence |= criteria.ledger_verified(f, facts)
    evidence |= criteria.monitor_running(f, facts)
    return f.verdict(
        f"every route is recorded automatically, the {facts.ledger.size}-entry log verifies "
        "from entry 0, and the monitor flags risky behaviour in it",
        evidence,
    )
