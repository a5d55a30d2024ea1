"""Rule detectors: brute force, enumeration, exfiltration, unusual access.

Each detector keeps a little state per principal or client and looks at one
:class:`~strongroom.monitor.activity.Activity` at a time, in log order, so
it decides on the entry that tips a threshold (the time to detect is the
attacker's own pace, not a polling interval). Time is the entries' own
time, which is what lets the replay harness run simulated weeks in seconds.

* :class:`BruteForce`: failed authentications per client and per principal
  within a window, and every API lockout.
* :class:`Enumeration`: distinct paths answered 404/403 within a window.
* :class:`Exfiltration`: reads, or distinct records read, in a sliding window
  far above the busiest window of the principal's own history.
* :class:`UnusualAccess`: a network, or an hour of day, an established
  principal has (almost) never used.

Example::

    >>> from strongroom.monitor.activity import Activity
    >>> bf = BruteForce(Thresholds(brute_force_failures=3))
    >>> fails = [Activity(time=t, event="kv:record:read", principal="anonymous",
    ...                   outcome="denied", reason="unauthenticated", client="c9")
    ...          for t in (1.0, 2.0, 3.0)]
    >>> [len(bf.observe(a)) for a in fails]
    [0, 0, 1]
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, deque
from typing import Any, Protocol

from strongroom.monitor.activity import ANONYMOUS, Activity
from strongroom.monitor.alert import Alert, AlertKind, Severity, Thresholds

__all__ = ["BruteForce", "Detector", "Enumeration", "Exfiltration", "UnusualAccess"]

_HISTORY_BINS = 500


class Detector(Protocol):
    """Something that turns activities into alerts."""

    def observe(self, a: Activity) -> list[Alert]:
        """Look at one activity (in log order); the alerts it tips."""
        ...

    def sweep(self, now: float) -> None:
        """Forget state that can no longer matter at ``now`` (bounds memory)."""
        ...


class _Window:
    """Timestamps (and entry numbers) of one subject's events within a sliding window."""

    __slots__ = ("events",)

    def __init__(self) -> None:
        self.events: deque[tuple[float, int]] = deque()

    def add(self, t: float, seq: int, span: float) -> int:
        self.events.append((t, seq))
        self.trim(t - span)
        return len(self.events)

    def trim(self, oldest: float) -> None:
        ev = self.events
        while ev and ev[0][0] < oldest:
            ev.popleft()


class _DistinctWindow:
    """Distinct resources one subject touched within a sliding window."""

    __slots__ = ("counts", "events")

    def __init__(self) -> None:
        self.events: deque[tuple[float, str, int]] = deque()
        self.counts: Counter[str] = Counter()

    def add(self, t: float, resource: str, seq: int, span: float) -> None:
        self.events.append((t, resource, seq))
        self.counts[resource] += 1
        self.trim(t - span)

    def trim(self, oldest: float) -> None:
        ev, counts = self.events, self.counts
        while ev and ev[0][0] < oldest:
            _, r, _ = ev.popleft()
            counts[r] -= 1
            if not counts[r]:
                del counts[r]

    @property
    def distinct(self) -> int:
        return len(self.counts)


def _subject(a: Activity) -> tuple[str, str]:
    """Who to count against: the principal, or the client for unauthenticated calls."""
    if a.principal != ANONYMOUS:
        return "principal", a.principal
    return "client", a.client or "unknown"


def _sweep(
    windows: dict[tuple[str, str], _Window] | dict[tuple[str, str], _DistinctWindow], oldest: float
) -> None:
    """Trim every subject's window to ``oldest`` and forget the subjects left empty."""
    for key in list(windows):
        w = windows[key]
        w.trim(oldest)
        if not w.events:
            del windows[key]


def _tipped(
    a: Activity,
    kind: AlertKind,
    severity: Severity,
    *,
    summary: str,
    key: str,
    first_time: float,
    first_seq: int,
    reasons: tuple[str, ...] = (),
    evidence: dict[str, Any] | None = None,
) -> Alert:
    """An alert tipped by ``a``: at its time, about its principal, client and tenant."""
    return Alert(
        kind=kind,
        severity=severity,
        time=a.time,
        first_time=first_time,
        principal=a.principal,
        client=a.client,
        tenant=a.tenant,
        summary=summary,
        reasons=reasons,
        evidence=evidence or {},
        first_seq=first_seq,
        last_seq=a.seq,
        key=key,
    )


class BruteForce:
    """Failed authentications per client and per principal; every lockout."""

    def __init__(self, th: Thresholds) -> None:
        self._th = th
        self._windows: dict[tuple[str, str], _Window] = {}

    def observe(self, a: Activity) -> list[Alert]:
        """Count a failure; alert when a subject reaches the threshold."""
        th = self._th
        if a.is_lockout:
            return [
                _tipped(
                    a,
                    AlertKind.BRUTE_FORCE,
                    Severity.HIGH,
                    summary="a client was locked out after repeated failed authentications",
                    key=f"brute_force/client/{a.client}",
                    first_time=a.time,
                    first_seq=a.seq,
                    reasons=("lockout",),
                )
            ]
        if not a.is_auth_failure:
            return []
        keys = []
        if a.client is not None:
            keys.append(("client", a.client))
        if a.principal != ANONYMOUS:
            keys.append(("principal", a.principal))
        out: list[Alert] = []
        for key in keys:
            w = self._windows.get(key)
            if w is None:
                w = self._windows[key] = _Window()
            n = w.add(a.time, a.seq, th.brute_force_window_s)
            # Every subject's window counts the failure; one alert is enough.
            if n >= th.brute_force_failures and not out:
                first_t, first_seq = w.events[0]
                out.append(
                    _tipped(
                        a,
                        AlertKind.BRUTE_FORCE,
                        Severity.HIGH,
                        summary=(
                            f"{n} failed authentications from one {key[0]} "
                            f"within {th.brute_force_window_s:.0f} s"
                        ),
                        key=f"brute_force/{key[0]}/{key[1]}",
                        first_time=first_t,
                        first_seq=first_seq,
                        reasons=(f"per-{key[0]}",),
                        evidence={"failures": n, "window_s": int(th.brute_force_window_s)},
                    )
                )
        return out

    def sweep(self, now: float) -> None:
        """Drop subjects with no failure left in the window."""
        _sweep(self._windows, now - self._th.brute_force_window_s)


class Enumeration:
    """Bursts of 404/403 over many distinct paths, per principal (or client)."""

    def __init__(self, th: Thresholds) -> None:
        self._th = th
        self._windows: dict[tuple[str, str], _DistinctWindow] = {}

    def observe(self, a: Activity) -> list[Alert]:
        """Count a probe that missed; alert on many distinct paths."""
        if not a.is_probe_failure:
            return []
        th = self._th
        key = _subject(a)
        w = self._windows.get(key)
        if w is None:
            w = self._windows[key] = _DistinctWindow()
        w.add(a.time, a.resource, a.seq, th.enumeration_window_s)
        if w.distinct < th.enumeration_paths:
            return []
        first_t, _, first_seq = w.events[0]
        return [
            _tipped(
                a,
                AlertKind.ENUMERATION,
                Severity.WARNING,
                summary=(
                    f"{w.distinct} distinct paths answered not-found or forbidden "
                    f"within {th.enumeration_window_s:.0f} s"
                ),
                key=f"enumeration/{key[0]}/{key[1]}",
                first_time=first_t,
                first_seq=first_seq,
                evidence={
                    "distinct_paths": w.distinct,
                    "misses": len(w.events),
                    "window_s": int(th.enumeration_window_s),
                },
            )
        ]

    def sweep(self, now: float) -> None:
        """Drop subjects with nothing left in the window."""
        _sweep(self._windows, now - self._th.enumeration_window_s)


class _ReadScale:
    """One principal's reads at one window length: the sliding window now, and its history."""

    __slots__ = (
        "base_distinct",
        "base_reads",
        "bin",
        "bin_flagged",
        "bin_reads",
        "bin_records",
        "history",
        "span",
        "window",
    )

    def __init__(self, span: float) -> None:
        self.span = span
        self.window = _DistinctWindow()
        self.bin = -1
        self.bin_reads = 0
        self.bin_records: set[str] = set()
        self.bin_flagged = False
        self.history: deque[tuple[int, int]] = deque(maxlen=_HISTORY_BINS)
        self.base_reads = 0
        self.base_distinct = 0

    def add(self, a: Activity) -> None:
        b = int(a.time // self.span)
        if b != self.bin:
            self.close_bin()
            self.bin = b
        self.bin_reads += 1
        self.bin_records.add(a.resource)
        self.window.add(a.time, a.resource, a.seq, self.span)

    def close_bin(self) -> None:
        # A window that raised an alert against an established baseline is
        # not "usual": leaving it out keeps an attack from raising the bar
        # for the next one.
        if self.bin_reads and not self.bin_flagged:
            self.history.append((self.bin_reads, len(self.bin_records)))
            self.base_reads = max(r for r, _ in self.history)
            self.base_distinct = max(d for _, d in self.history)
        self.bin_reads = 0
        self.bin_records = set()
        self.bin_flagged = False


class Exfiltration:
    """Read volume far above the principal's own busiest usual window.

    Two window lengths are watched (``exfiltration_window_s`` and an hour by
    default): the short one catches a fast dump within seconds, the long one
    a dump paced to stay under the short window's bar.
    """

    def __init__(self, th: Thresholds) -> None:
        self._th = th
        self._spans = tuple(sorted({th.exfiltration_window_s, th.exfiltration_long_window_s}))
        self._profiles: dict[str, tuple[int, list[_ReadScale]]] = {}

    def observe(self, a: Activity) -> list[Alert]:
        """Count a read; alert when a window is far above the principal's baseline."""
        if not a.is_record_read or a.principal == ANONYMOUS:
            return []
        th = self._th
        day = int(a.time // 86400)
        prof = self._profiles.get(a.principal)
        if prof is None:
            prof = self._profiles[a.principal] = (day, [_ReadScale(s) for s in self._spans])
        first_day, scales = prof
        for sc in scales:
            sc.add(a)
        for sc in scales:
            established = bool(sc.history) and day - first_day >= th.exfiltration_history_days
            # A new principal is held to a fixed bar, or to what little history
            # it has if that is higher (a batch job's second night).
            floor = (
                th.exfiltration_min_reads if established else th.exfiltration_new_principal_reads
            )
            reads, distinct = len(sc.window.events), sc.window.distinct
            if reads <= max(floor, th.exfiltration_factor * sc.base_reads) and distinct <= max(
                floor, th.exfiltration_factor * sc.base_distinct
            ):
                continue
            basis = "own-baseline" if established else "no-baseline"
            # Without a baseline the window is how the principal is learnt.
            for other in scales:
                other.bin_flagged = established
            return [self._alert(a, sc, basis)]
        return []

    def _alert(self, a: Activity, sc: _ReadScale, basis: str) -> Alert:
        reads, distinct = len(sc.window.events), sc.window.distinct
        first_t, _, first_seq = sc.window.events[0]
        return _tipped(
            a,
            AlertKind.EXFILTRATION,
            Severity.CRITICAL,
            summary=(
                f"{reads} reads of {distinct} records within {sc.span:.0f} s "
                f"(busiest usual window: {sc.base_reads} reads of {sc.base_distinct} records)"
            ),
            key=f"exfiltration/principal/{a.principal}",
            first_time=first_t,
            first_seq=first_seq,
            reasons=(basis,),
            evidence={
                "reads": reads,
                "distinct_records": distinct,
                "baseline_reads": sc.base_reads,
                "baseline_distinct": sc.base_distinct,
                "history_windows": len(sc.history),
                "window_s": int(sc.span),
            },
        )

    def sweep(self, now: float) -> None:
        """Trim sliding windows (profiles are kept: they are the baseline)."""
        for _, scales in self._profiles.values():
            for sc in scales:
                sc.window.trim(now - sc.span)


class _AccessProfile:
    """Where from and when one principal usually works."""

    __slots__ = ("days", "events", "hours", "networks")

    def __init__(self) -> None:
        self.events = 0
        self.days: set[int] = set()
        self.hours = [0] * 24
        self.networks: set[str] = set()


class UnusualAccess:
    """A new network, or an hour of day the principal has (almost) never used."""

    def __init__(self, th: Thresholds) -> None:
        self._th = th
        self._profiles: dict[str, _AccessProfile] = {}
        # Who uses each network, per tenant (up to the sharing bar): an
        # office or corporate VPN many colleagues use is not "new" to the
        # organisation when one more person first connects from it.
        self._users: dict[tuple[str, str], set[str]] = {}

    def _shared(self, a: Activity) -> bool:
        users = self._users.get((a.tenant, a.network or ""))
        return users is not None and len(users) >= self._th.unusual_shared_network_principals

    def _learn_network(self, a: Activity) -> None:
        key = (a.tenant, a.network or "")
        users = self._users.get(key)
        if users is None:
            users = self._users[key] = set()
        if len(users) < self._th.unusual_shared_network_principals:
            users.add(a.principal)

    def observe(self, a: Activity) -> list[Alert]:
        """Compare with the principal's profile, then learn from the activity."""
        if a.principal == ANONYMOUS or a.is_monitor:
            return []
        th = self._th
        p = self._profiles.get(a.principal)
        if p is None:
            p = self._profiles[a.principal] = _AccessProfile()
        hour = dt.datetime.fromtimestamp(a.time, tz=dt.UTC).hour
        reasons: list[str] = []
        evidence: dict[str, int] = {}
        if p.events >= th.unusual_min_events and len(p.days) >= th.unusual_min_days:
            if a.network is not None and a.network not in p.networks and not self._shared(a):
                reasons.append("new-network")
                evidence["known_networks"] = len(p.networks)
            near = p.hours[hour - 1] + p.hours[hour] + p.hours[(hour + 1) % 24]
            if near < th.off_hours_share * p.events:
                reasons.append("off-hours")
                evidence["hour_utc"] = hour
                evidence["share_per_mille"] = round(1000 * near / p.events)
        p.events += 1
        p.days.add(int(a.time // 86400))
        p.hours[hour] += 1
        if a.network is not None:
            p.networks.add(a.network)
            self._learn_network(a)
        if not reasons:
            return []
        what = " and ".join(
            {"new-network": "from a network it never used", "off-hours": "at an unusual hour"}[r]
            for r in reasons
        )
        return [
            _tipped(
                a,
                AlertKind.UNUSUAL_ACCESS,
                Severity.WARNING,
                summary=f"access {what}",
                key=f"unusual_access/principal/{a.principal}",
                first_time=a.time,
                first_seq=a.seq,
                reasons=tuple(reasons),
                evidence={**evidence, "history_events": p.events},
            )
        ]

    def sweep(self, now: float) -> None:
        """Nothing to forget: profiles are the history."""
