"""The security monitor: every detector over one stream of audit activity.

:class:`Monitor` is pure logic (no threads, no I/O): feed it activities in
log order with :meth:`Monitor.observe` (and :meth:`Monitor.tick` when time
passes without traffic) and it returns the alerts to raise, each kind and
subject at most once per ``cooldown_s``. The server runs it on a background
thread fed by the audit log (:mod:`strongroom.monitor.service`); the replay
harness runs it over simulated weeks (:mod:`strongroom.monitor.replay`).

Example::

    >>> from strongroom.monitor.activity import Activity
    >>> m = Monitor(Thresholds(enumeration_paths=3))
    >>> alerts = [al for i in range(5) for al in m.observe(Activity(
    ...     time=float(i), event="kv:record:read", principal="acc1", outcome="error",
    ...     reason="not-found", resource=f"secret/x{i}"))]
    >>> [str(a.kind) for a in alerts]
    ['enumeration']
"""

from __future__ import annotations

from collections import Counter

from strongroom.monitor.activity import Activity
from strongroom.monitor.alert import Alert, AlertKind, Thresholds
from strongroom.monitor.anomaly import BehaviourModel
from strongroom.monitor.detectors import (
    BruteForce,
    Detector,
    Enumeration,
    Exfiltration,
    UnusualAccess,
)

__all__ = ["Monitor"]

_SWEEP_EVERY_S = 60.0


class Monitor:
    """Detectors, their cool-downs, and counts of what was seen and raised."""

    def __init__(
        self,
        th: Thresholds | None = None,
        *,
        kinds: frozenset[AlertKind] | None = None,
        seed: int = 0,
    ) -> None:
        self.thresholds = th = th or Thresholds()
        wanted = kinds if kinds is not None else frozenset(AlertKind)
        self._rules: list[Detector] = []
        for kind, make in (
            (AlertKind.BRUTE_FORCE, BruteForce),
            (AlertKind.ENUMERATION, Enumeration),
            (AlertKind.EXFILTRATION, Exfiltration),
            (AlertKind.UNUSUAL_ACCESS, UnusualAccess),
        ):
            if kind in wanted:
                self._rules.append(make(th))
        self.behaviour = BehaviourModel(th, seed=seed) if AlertKind.ANOMALY in wanted else None
        self._quiet_until: dict[str, float] = {}
        self._last_sweep = 0.0
        self.observed = 0
        self.raised: Counter[str] = Counter()
        self.suppressed = 0

    def observe(self, a: Activity) -> list[Alert]:
        """Look at one activity; the alerts to raise now."""
        if a.is_monitor:
            return []
        self.observed += 1
        found: list[Alert] = []
        for d in self._rules:
            found.extend(d.observe(a))
        if self.behaviour is not None:
            found.extend(self.behaviour.observe(a))
        if a.time - self._last_sweep >= _SWEEP_EVERY_S:
            self._sweep(a.time)
        return self._admit(found)

    def tick(self, now: float) -> list[Alert]:
        """Let time pass without traffic (closes behaviour windows)."""
        found = self.behaviour.tick(now) if self.behaviour is not None else []
        return self._admit(found)

    def _admit(self, found: list[Alert]) -> list[Alert]:
        out = []
        for al in found:
            if self._quiet_until.get(al.key, -1.0) > al.time:
                # Still going: one alert per incident, quiet until it has
                # been over for a whole cool-down.
                self._quiet_until[al.key] = al.time + self.thresholds.cooldown_s
                self.suppressed += 1
                continue
            self._quiet_until[al.key] = al.time + self.thresholds.cooldown_s
            self.raised[str(al.kind)] += 1
            out.append(al)
        return out

    def _sweep(self, now: float) -> None:
        self._last_sweep = now
        for d in self._rules:
            d.sweep(now)
        for key in [k for k, t in self._quiet_until.items() if t <= now]:
            del self._quiet_until[key]
