"""Compliance reports computed from live evidence: HIPAA, GDPR, SOX, PCI DSS, EU AI Act.

Each control of the :data:`CATALOGUE` judges the live facts of one vault
(settings, keys, tokens, records, subjects, the audit log verified on the
spot, the API's routes) as ``pass``, ``fail`` or ``needs-evidence``, and says
what it saw. Never writes. Gathering the facts needs a vault
(:func:`strongroom.compliance.evidence.gather`, imported from its module, so
that the CLI can load this package and render reports without the vault).

Example::

    >>> len(select("hipaa"))
    6
    >>> str(Status.NEEDS_EVIDENCE)
    'needs-evidence'
"""

from strongroom.compliance.catalogue import CATALOGUE, Framework, select
from strongroom.compliance.control import Control, Findings, Result, Status, Verdict
from strongroom.compliance.report import build_report, render, render_html, render_markdown

__all__ = [
    "CATALOGUE",
    "Control",
    "Findings",
    "Framework",
    "Result",
    "Status",
    "Verdict",
    "build_report",
    "render",
    "render_html",
    "render_markdown",
    "select",
]
