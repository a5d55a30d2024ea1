"""Alerts: what a detector concluded, and the thresholds it concluded it with.

An alert names a kind, the principal and/or client (keyed hash) it is about,
when the activity began and when it was detected, a one-line summary with
no secret or personal value, and small numeric evidence (counts, baselines,
the first and last audit entries involved) so an analyst can pull the exact
entries with ``strongroom audit search``.

Example::

    >>> a = Alert(kind=AlertKind.BRUTE_FORCE, severity=Severity.HIGH, time=10.0,
    ...           first_time=1.0, principal="anonymous", client="c1",
    ...           summary="12 failed authentications in 60 s")
    >>> a.details()["kind"], a.details()["severity"]
    ('brute_force', 'high')
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from strongroom.config import Settings

__all__ = ["Alert", "AlertKind", "Severity", "Thresholds"]


class AlertKind(enum.StrEnum):
    """What a detector looks for."""

    BRUTE_FORCE = "brute_force"
    ENUMERATION = "enumeration"
    EXFILTRATION = "exfiltration"
    UNUSUAL_ACCESS = "unusual_access"
    ANOMALY = "anomaly"


class Severity(enum.StrEnum):
    """How urgently a person should look (Alertmanager's usual three levels, plus high)."""

    INFO = "info"
    WARNING = "warning"
    HIGH = "high"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Alert:
    """One detection."""

    kind: AlertKind
    severity: Severity
    time: float
    """When the detector concluded (the time of the entry that tipped it)."""
    first_time: float
    """When the activity it is about began (within the detector's window)."""
    principal: str
    summary: str
    client: str | None = None
    tenant: str = ""
    reasons: tuple[str, ...] = ()
    evidence: dict[str, Any] = field(default_factory=dict)
    first_seq: int = -1
    last_seq: int = -1
    key: str = ""
    """What repeats of this alert share (kind and subject): the cool-down applies per key."""

    def details(self) -> dict[str, Any]:
        """The alert as the ``details`` of its audit entry and the body of its webhook."""
        out: dict[str, Any] = {
            "kind": str(self.kind),
            "severity": str(self.severity),
            "subject": self.principal,
            "summary": self.summary,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            # Integral milliseconds: audit entries hold no floats (RFC 8785
            # number formatting is then exact, see ledger.entry).
            "first_time_ms": round(self.first_time * 1000),
            "time_ms": round(self.time * 1000),
            "evidence": {k: _integral(v) for k, v in self.evidence.items()},
        }
        if self.client is not None:
            out["client"] = self.client
        if self.reasons:
            out["reasons"] = list(self.reasons)
        return out


def _integral(value: Any) -> Any:
    if isinstance(value, float):
        return round(value * 1000) if abs(value) < 1000 else round(value)
    return value


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Every knob of the detectors; defaults are what the replay harness was tuned on."""

    brute_force_failures: int = 8
    """Failed authentications from one client (or against one principal) that raise an alert."""
    brute_force_window_s: float = 600.0
    """The window they are counted in."""
    enumeration_paths: int = 15
    """Distinct paths answered 404/403 to one principal or client that raise an alert."""
    enumeration_window_s: float = 300.0
    """The window they are counted in."""
    exfiltration_window_s: float = 600.0
    """The sliding window read volume is measured over (also the baseline's bin)."""
    exfiltration_long_window_s: float = 3600.0
    """A second, longer window, for dumps paced to stay under the short one."""
    exfiltration_factor: float = 4.0
    """How far above its own busiest usual window a principal must read."""
    exfiltration_min_reads: int = 60
    """Reads (or distinct records) below which no exfiltration alert is raised."""
    exfiltration_history_days: int = 3
    """Days since a principal's first read before its own baseline is trusted;
    until then only ``exfiltration_new_principal_reads`` raises an alert."""
    exfiltration_new_principal_reads: int = 300
    """Reads in one window that raise an alert for a principal without a baseline."""
    unusual_min_events: int = 300
    """Requests a principal must have made before new networks or hours are unusual."""
    unusual_min_days: int = 4
    """Distinct days a principal must have been seen on before the same."""
    unusual_shared_network_principals: int = 3
    """A network this many other principals of the same tenant use is not new."""
    off_hours_share: float = 0.002
    """An hour of day (smoothed with its neighbours) holding less than this share of
    the principal's history is off-hours for it."""
    anomaly_window_s: float = 600.0
    """The per-principal time window the behaviour model scores."""
    anomaly_min_windows: int = 2000
    """Windows of history (all principals) before the model is first trained."""
    anomaly_principal_windows: int = 12
    """Windows of its own history before a principal's windows are scored."""
    anomaly_retrain_windows: int = 5000
    """New windows after which the model is retrained."""
    anomaly_score: float = 0.62
    """Isolation Forest anomaly score (Liu et al.'s *s*, 0.5 is ordinary) above which
    a window is isolated."""
    anomaly_lift: float = 3.0
    """…and some feature must be this many of the principal's own standard
    deviations above its mean."""
    cooldown_s: float = 4 * 3600.0
    """After an alert, the same kind for the same subject is quiet until it has been
    this long without a repeat (longer than the longest lockout, so a brute force
    that keeps coming back after each lockout stays one incident)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        """The thresholds a server's settings configure (``monitor_*``)."""
        return cls(
            brute_force_failures=settings.monitor_brute_force_failures,
            brute_force_window_s=settings.monitor_brute_force_window_s,
            enumeration_paths=settings.monitor_enumeration_paths,
            enumeration_window_s=settings.monitor_enumeration_window_s,
            exfiltration_factor=settings.monitor_exfiltration_factor,
            exfiltration_min_reads=settings.monitor_exfiltration_min_reads,
            off_hours_share=settings.monitor_off_hours_share,
            unusual_min_events=settings.monitor_unusual_min_events,
            anomaly_min_windows=settings.monitor_anomaly_min_windows,
            anomaly_score=settings.monitor_anomaly_score,
            cooldown_s=settings.monitor_cooldown_s,
        )
