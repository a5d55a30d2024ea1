"""Behavioural anomalies: an IsolationForest over per-principal time windows.

The rule detectors catch what can be named (too many failures, too many
reads); this one catches a principal that starts doing something *different*
at an ordinary volume: a read-only service account that writes, deletes and
lists, or a person touching parts of the vault they never touch.

Every ``anomaly_window_s`` the activity of each principal that was active
is summarised as a vector: the log of its requests, reads, writes, deletes,
lists, admin operations, denials, distinct resources, vault areas and
clients, each standardised by the principal's own running mean and
standard deviation (so a busy service account is not anomalous for being
busy). Once
``anomaly_min_windows`` windows exist the model is trained (scikit-learn's
``IsolationForest``, Liu, Ting and Zhou 2008) and retrained every
``anomaly_retrain_windows`` new windows. A window is scored once its
principal has ``anomaly_principal_windows`` windows of its own, and raises
an alert when its anomaly score (the paper's *s*, in (0, 1); 0.5 is an
average point) is above ``anomaly_score`` *and* some feature is more than
``anomaly_lift`` of the principal's own standard deviations above its mean.

Example::

    >>> m = BehaviourModel(Thresholds(anomaly_min_windows=10))
    >>> m.trained
    False
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from sklearn.ensemble import IsolationForest

from strongroom.monitor.activity import ANONYMOUS, Activity
from strongroom.monitor.alert import Alert, AlertKind, Severity, Thresholds

__all__ = ["FEATURES", "BehaviourModel"]

FEATURES = (
    "requests",
    "reads",
    "writes",
    "deletes",
    "lists",
    "admin",
    "denied",
    "distinct_resources",
    "distinct_areas",
    "distinct_clients",
)
"""What one window of one principal is summarised by (each as log1p)."""

_TRAIN_MAX = 8192
_MEAN_DECAY = 0.02  # running moments over roughly the last 50 windows
_STD_FLOOR = 0.5  # in log1p units: about a 65% change


@dataclass(slots=True)
class _Window:
    first_time: float
    first_seq: int
    last_seq: int = -1
    tenant: str = ""
    counts: list[int] = field(default_factory=lambda: [0] * 7)
    resources: set[str] = field(default_factory=set)
    areas: set[str] = field(default_factory=set)
    clients: set[str] = field(default_factory=set)

    def add(self, a: Activity) -> None:
        c = self.counts
        c[0] += 1
        c[1] += a.is_record_read
        c[2] += a.is_write
        c[3] += a.is_delete
        c[4] += a.is_list
        c[5] += a.is_admin
        c[6] += a.outcome != "allowed"
        if a.resource:
            self.resources.add(a.resource)
            self.areas.add(a.area)
        if a.client is not None:
            self.clients.add(a.client)
        self.last_seq = a.seq
        self.tenant = a.tenant

    def vector(self) -> list[float]:
        raw = [*self.counts, len(self.resources), len(self.areas), len(self.clients)]
        return [math.log1p(v) for v in raw]


@dataclass(slots=True)
class _Principal:
    windows: int = 0
    mean: list[float] = field(default_factory=lambda: [0.0] * len(FEATURES))
    var: list[float] = field(default_factory=lambda: [0.0] * len(FEATURES))

    def learn(self, x: list[float]) -> None:
        self.windows += 1
        # The first windows set the moments directly; after that they drift
        # slowly (exponentially weighted mean and variance, West 1979).
        rate = max(_MEAN_DECAY, 1.0 / self.windows)
        for i, v in enumerate(x):
            d = v - self.mean[i]
            self.mean[i] += rate * d
            self.var[i] = (1.0 - rate) * (self.var[i] + rate * d * d)

    def standardise(self, x: list[float]) -> list[float]:
        # How many of its own standard deviations each feature is from the
        # principal's mean, so that a busy service is not anomalous for
        # being busy, nor a variable person for varying; the floor keeps a
        # feature that never varied (a service that never writes) from
        # turning one write into infinity.
        return [
            (v - m) / max(math.sqrt(s2), _STD_FLOOR)
            for v, m, s2 in zip(x, self.mean, self.var, strict=True)
        ]


class BehaviourModel:
    """Per-principal windows, an IsolationForest, and alerts for the windows it isolates."""

    def __init__(self, th: Thresholds, *, seed: int = 0) -> None:
        self._th = th
        self._seed = seed
        self._span = th.anomaly_window_s
        self._bin = -1
        self._open: dict[str, _Window] = {}
        self._principals: dict[str, _Principal] = {}
        self._train: deque[list[float]] = deque(maxlen=_TRAIN_MAX)
        self._since_fit = 0
        self._total = 0
        self._model: IsolationForest | None = None
        self.fits = 0

    @property
    def trained(self) -> bool:
        """True once the model has been fitted."""
        return self._model is not None

    def observe(self, a: Activity) -> list[Alert]:
        """Add an activity to its principal's window; score windows that just closed."""
        out = self.tick(a.time)
        if a.principal == ANONYMOUS or a.is_monitor:
            return out
        w = self._open.get(a.principal)
        if w is None:
            w = self._open[a.principal] = _Window(first_time=a.time, first_seq=a.seq)
        w.add(a)
        return out

    def tick(self, now: float) -> list[Alert]:
        """Close the windows of a past bin (a timer calls this when traffic is quiet)."""
        b = int(now // self._span)
        if b == self._bin:
            return []
        self._bin = b
        if not self._open:
            return []
        closed, self._open = self._open, {}
        return self._close(closed, end=b * self._span)

    def _close(self, closed: dict[str, _Window], *, end: float) -> list[Alert]:
        th = self._th
        names = list(closed)
        own = [self._principals.setdefault(n, _Principal()) for n in names]
        raws = [closed[n].vector() for n in names]
        rows = [p.standardise(x) for x, p in zip(raws, own, strict=True)]
        flagged: set[int] = set()
        alerts: list[Alert] = []
        if self._model is not None:
            scored = [i for i, p in enumerate(own) if p.windows >= th.anomaly_principal_windows]
            if scored:
                scores = self._model.score_samples(np.array([rows[i] for i in scored]))
                for i, s in zip(scored, scores, strict=True):
                    # Isolated, *and* above its own usual on some feature:
                    # an unusually quiet window is isolated too, and harmless.
                    if -s > th.anomaly_score and max(rows[i]) > th.anomaly_lift:
                        flagged.add(i)
                        alerts.append(
                            self._alert(names[i], closed[names[i]], rows[i], float(s), end)
                        )
        for i, p in enumerate(own):
            if i in flagged:
                continue
            self._train.append(rows[i])
            p.learn(raws[i])
            self._since_fit += 1
            self._total += 1
        if (self._model is None and self._total >= th.anomaly_min_windows) or (
            self._model is not None and self._since_fit >= th.anomaly_retrain_windows
        ):
            self._fit()
        return alerts

    def _fit(self) -> None:
        data = np.array(self._train)
        model = IsolationForest(n_estimators=100, max_samples=256, random_state=self._seed)
        model.fit(data)
        self._model = model
        self._since_fit = 0
        self.fits += 1

    def _alert(
        self, principal: str, w: _Window, row: list[float], score: float, end: float
    ) -> Alert:
        # The features furthest above the principal's own mean (in its own
        # standard deviations) say what was unusual.
        lifts = sorted(
            ((z, f) for z, f in zip(row, FEATURES, strict=True) if z > 2.0), reverse=True
        )
        raw = [*w.counts, len(w.resources), len(w.areas), len(w.clients)]
        return Alert(
            kind=AlertKind.ANOMALY,
            severity=Severity.WARNING,
            time=end,
            first_time=w.first_time,
            principal=principal,
            tenant=w.tenant,
            summary=(
                "behaviour unlike this principal's usual windows"
                + (f" (most changed: {', '.join(f for _, f in lifts[:3])})" if lifts else "")
            ),
            reasons=tuple(f for _, f in lifts[:3]),
            evidence={
                **dict(zip(FEATURES, raw, strict=True)),
                "score_milli": round(-score * 1000),
                "threshold_milli": round(self._th.anomaly_score * 1000),
                "window_s": int(self._span),
            },
            first_seq=w.first_seq,
            last_seq=w.last_seq,
            key=f"anomaly/principal/{principal}",
        )
