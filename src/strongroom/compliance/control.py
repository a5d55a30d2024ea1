"""One compliance control: what it checks, and what it found.

A :class:`Control` names a requirement of a framework (``hipaa-164.312(b)``)
and holds the function that judges it from the live facts of one vault
(:class:`~strongroom.compliance.facts.Facts`). The function returns a
:class:`Verdict`: ``pass``, ``fail`` or ``needs-evidence`` (something the
software cannot know, with the evidence that would settle it), a one-line
reason, and the evidence it looked at. :class:`Findings` collects the
failures and open questions of one control and picks the status.

Example::

    >>> f = Findings()
    >>> f.require(True, "never shown")
    >>> f.ask("that TLS terminates at a proxy")
    >>> v = f.verdict("all good", {"listen": "0.0.0.0:8200"})
    >>> v.status, v.reason
    (<Status.NEEDS_EVIDENCE: 'needs-evidence'>, 'needs evidence: that TLS terminates at a proxy')
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from strongroom.compliance.facts import Facts

__all__ = ["Control", "Findings", "Result", "Status", "Verdict"]


class Status(enum.StrEnum):
    """How a control stands: met, not met, or not decidable by the software alone."""

    PASS = "pass"  # noqa: S105 - a status, not a password
    FAIL = "fail"
    NEEDS_EVIDENCE = "needs-evidence"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a control's check found: status, one line of reason, the evidence (JSON-able)."""

    status: Status
    reason: str
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if "\n" in self.reason:
            raise ValueError("a verdict's reason is one line")


@dataclass(slots=True)
class Findings:
    """The failures and open questions of one control, in the order they were checked."""

    failures: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)

    def require(self, ok: bool, failure: str) -> None:
        """Record ``failure`` unless ``ok``."""
        if not ok:
            self.failures.append(failure)

    def ask(self, evidence_needed: str) -> None:
        """Record evidence the software cannot produce itself."""
        self.questions.append(evidence_needed)

    def verdict(self, passed: str, evidence: Mapping[str, Any]) -> Verdict:
        """``fail`` if anything failed, else ``needs-evidence`` if a question is open, else
        ``pass``."""
        if self.failures:
            return Verdict(Status.FAIL, _one_line("; ".join(self.failures)), evidence)
        if self.questions:
            text = "needs evidence: " + "; ".join(self.questions)
            return Verdict(Status.NEEDS_EVIDENCE, _one_line(text), evidence)
        return Verdict(Status.PASS, _one_line(passed), evidence)


def _one_line(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True, slots=True)
class Result:
    """A control as judged for a report."""

    control_id: str
    framework: str
    title: str
    requirement: str
    status: Status
    reason: str
    evidence: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The report's JSON form of this control."""
        return {
            "id": self.control_id,
            "framework": self.framework,
            "title": self.title,
            "requirement": self.requirement,
            "status": str(self.status),
            "reason": self.reason,
            "evidence": dict(self.evidence),
        }


@dataclass(frozen=True, slots=True)
class Control:
    """A requirement of one framework and the check that judges it from live facts.

    ``requirement`` says, in a sentence, what the text of the framework asks
    and what Strongroom checks for it.
    """

    control_id: str
    framework: str
    title: str
    requirement: str
    check: Callable[[Facts], Verdict] = field(repr=False)

    def assess(self, facts: Facts) -> Result:
        """Run the check on ``facts``."""
        v = self.check(facts)
        return Result(
            control_id=self.control_id,
            framework=self.framework,
            title=self.title,
            requirement=self.requirement,
            status=v.status,
            reason=v.reason,
            evidence=v.evidence,
        )
