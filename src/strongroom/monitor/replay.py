"""The replay harness: run the monitor over labelled traffic and score it per kind.

An alert *matches* an attack when it comes from the attack's principal (not
anonymous) or client, between the attack's start and ``grace_s`` after its
end. Per kind:

* **recall**: attacks of that kind matched by an alert of that kind;
* **precision**: alerts of that kind that match some attack (an exfiltration
  that also looks anomalous is a true anomaly alert, not a false one);
* **time to detect**: from the attack's first request to the first matching
  alert of its kind (median and worst).

Alerts that match no attack are false; the goal is at most one per 10,000
normal requests.

Example::

    >>> from strongroom.monitor.traffic import TrafficConfig
    >>> r = replay(TrafficConfig(days=2, principals=8, attacks_per_kind=1, warmup_days=1))
    >>> sorted(k.kind for k in r.kinds)[:2]
    ['anomaly', 'brute_force']
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from strongroom.monitor.activity import ANONYMOUS
from strongroom.monitor.alert import Alert, AlertKind, Thresholds
from strongroom.monitor.monitor import Monitor
from strongroom.monitor.traffic import Attack, Traffic, TrafficConfig, generate

__all__ = ["KindScore", "ReplayReport", "replay", "score"]

_GRACE_S = 900.0


@dataclass(frozen=True, slots=True)
class KindScore:
    """How one detector did."""

    kind: str
    attacks: int
    detected: int
    alerts: int
    true_alerts: int
    recall: float
    precision: float
    ttd_median_s: float | None
    ttd_max_s: float | None


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """Everything a replay measured."""

    days: int
    principals: int
    normal_requests: int
    attack_requests: int
    alerts: int
    false_alerts: int
    false_per_10k: float
    kinds: list[KindScore]
    events_per_s: float
    model_fits: int

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready form."""
        return {
            "days": self.days,
            "principals": self.principals,
            "normal_requests": self.normal_requests,
            "attack_requests": self.attack_requests,
            "alerts": self.alerts,
            "false_alerts": self.false_alerts,
            "false_per_10k_normal": round(self.false_per_10k, 3),
            "monitor_events_per_s": round(self.events_per_s),
            "model_fits": self.model_fits,
            "kinds": {
                k.kind: {
                    "attacks": k.attacks,
                    "detected": k.detected,
                    "recall": round(k.recall, 3),
                    "alerts": k.alerts,
                    "precision": round(k.precision, 3),
                    "ttd_median_s": None if k.ttd_median_s is None else round(k.ttd_median_s, 1),
                    "ttd_max_s": None if k.ttd_max_s is None else round(k.ttd_max_s, 1),
                }
                for k in self.kinds
            },
        }


def _matches(al: Alert, at: Attack, grace_s: float) -> bool:
    if not at.start <= al.time <= at.end + grace_s:
        return False
    if at.principal != ANONYMOUS and al.principal == at.principal:
        return True
    return at.client is not None and al.client == at.client


def score(
    alerts: list[Alert], traffic: Traffic, *, grace_s: float = _GRACE_S
) -> tuple[list[KindScore], int]:
    """Per-kind scores, and the number of alerts that match no attack."""
    attacks = traffic.attacks
    false = 0
    true_by_kind: dict[str, int] = {}
    count_by_kind: dict[str, int] = {}
    first: dict[int, float] = {}
    for al in alerts:
        kind = str(al.kind)
        count_by_kind[kind] = count_by_kind.get(kind, 0) + 1
        hit = False
        for i, at in enumerate(attacks):
            if _matches(al, at, grace_s):
                hit = True
                if at.kind == al.kind and i not in first:
                    first[i] = al.time - at.start
        if hit:
            true_by_kind[kind] = true_by_kind.get(kind, 0) + 1
        else:
            false += 1
    out = []
    for kind in AlertKind:
        mine = [i for i, at in enumerate(attacks) if at.kind == kind]
        delays = sorted(first[i] for i in mine if i in first)
        n_alerts = count_by_kind.get(str(kind), 0)
        out.append(
            KindScore(
                kind=str(kind),
                attacks=len(mine),
                detected=len(delays),
                alerts=n_alerts,
                true_alerts=true_by_kind.get(str(kind), 0),
                recall=len(delays) / len(mine) if mine else 1.0,
                precision=true_by_kind.get(str(kind), 0) / n_alerts if n_alerts else 1.0,
                ttd_median_s=delays[len(delays) // 2] if delays else None,
                ttd_max_s=delays[-1] if delays else None,
            )
        )
    return out, false


def replay(
    cfg: TrafficConfig,
    th: Thresholds | None = None,
    *,
    traffic: Traffic | None = None,
) -> ReplayReport:
    """Generate (or take) traffic, run a fresh monitor over it, and score the alerts."""
    traffic = traffic if traffic is not None else generate(cfg)
    monitor = Monitor(th, seed=cfg.seed)
    alerts: list[Alert] = []
    t0 = time.perf_counter()
    for a in traffic.activities:
        alerts.extend(monitor.observe(a))
    if traffic.activities:
        alerts.extend(
            monitor.tick(traffic.activities[-1].time + 2 * monitor.thresholds.anomaly_window_s)
        )
    elapsed = time.perf_counter() - t0
    kinds, false = score(alerts, traffic)
    normal = traffic.normal
    return ReplayReport(
        days=cfg.days,
        principals=cfg.principals,
        normal_requests=normal,
        attack_requests=len(traffic.activities) - normal,
        alerts=len(alerts),
        false_alerts=false,
        false_per_10k=10_000 * false / normal if normal else 0.0,
        kinds=kinds,
        events_per_s=len(traffic.activities) / elapsed if elapsed > 0 else 0.0,
        model_fits=monitor.behaviour.fits if monitor.behaviour is not None else 0,
    )
