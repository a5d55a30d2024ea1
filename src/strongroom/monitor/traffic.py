"""Synthetic audit traffic for the replay harness: weeks of normal work, and labelled attacks.

Normal traffic comes from three kinds of principal, each with its own
networks, clients, vault areas, records and rhythm:

* **services** read a few records around the clock (a daily cycle, a daily
  secret rotation, the odd 404, a token that expires now and then);
* **people** work weekdays in their own time zone from an office, home or
  VPN network (admins also touch policies, mounts and tokens), read, list
  and write across a pool of records, mistype paths, sometimes work late,
  and a few travel (a network never seen before, which is benign but novel);
* **batch jobs** read hundreds of records in a few minutes once a night,
  and more on Sundays.

Attacks are injected after ``warmup_days`` (the detectors need a history to
compare with), each labelled with its kind, the principal or client it
comes from and when it starts and ends:

* ``brute_force``: guessed tokens from a new network, 0.2 to 60 s apart; the
  API's lockout (10 failures a minute) is simulated, so locked-out attempts
  leave no entry, as on a real server; some instead probe
  ``auth/token/lookup`` with a valid low-privilege token;
* ``enumeration``: 25 to 400 guessed paths, mostly 404 and some 403;
* ``exfiltration``: 5 to 15 times the principal's busiest window of reads;
* ``unusual_access``: a stolen token used from a new network, at night for a
  person, reading a few records;
* ``anomaly``: a principal's own token, from its usual network at a usual
  hour, doing what it never does (writes, deletes, listings, token and
  policy operations) at an ordinary volume.

Nothing here is random for security: numpy's seeded generator makes a run
reproducible.

Example::

    >>> t = generate(TrafficConfig(days=2, principals=6, attacks_per_kind=0, warmup_days=1))
    >>> t.normal > 0 and not t.attacks
    True
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field

import numpy as np

from strongroom.monitor.activity import ANONYMOUS, Activity
from strongroom.monitor.alert import AlertKind

__all__ = ["Attack", "Traffic", "TrafficConfig", "generate"]

_DAY = 86400.0
_HOUR = 3600.0
_START = dt.datetime(2026, 11, 2, tzinfo=dt.UTC).timestamp()  # a Monday
_TIMEZONES = (-8.0, -5.0, 0.0, 1.0, 2.0, 5.5, 8.0, 9.0)


@dataclass(frozen=True, slots=True)
class TrafficConfig:
    """How much traffic, and how many attacks of each kind."""

    days: int = 14
    principals: int = 150
    attacks_per_kind: int = 20
    warmup_days: int = 5
    seed: int = 1


@dataclass(frozen=True, slots=True)
class Attack:
    """One labelled attack: its kind, who or where it comes from, and when."""

    kind: AlertKind
    start: float
    end: float
    principal: str
    client: str | None
    requests: int


@dataclass(slots=True)
class Traffic:
    """The generated stream (in time order) and its labels."""

    activities: list[Activity]
    attacks: list[Attack]
    normal: int
    start: float = _START


@dataclass(slots=True)
class _Actor:
    name: str
    role: str  # "service", "person", "batch"
    tenant: str
    areas: list[str]
    pool: list[str]
    networks: list[str]
    clients: dict[str, str] = field(default_factory=dict)
    rate: float = 0.0
    tz: float = 0.0
    start_h: float = 9.0
    hours: float = 8.0
    admin: bool = False
    batch_hour: float = 2.0
    reads: list[float] = field(default_factory=list)


class _Generator:
    def __init__(self, cfg: TrafficConfig) -> None:
        self.cfg = cfg
        self.rng = np.random.default_rng(cfg.seed)
        self.out: list[Activity] = []
        self._ids = itertools.count()
        self.actors: list[_Actor] = []
        self.offices = [self.network() for _ in range(6)]
        self.vpn = self.network()

    def network(self) -> str:
        return f"net-{next(self._ids):06d}"

    def client(self) -> str:
        return f"cli-{next(self._ids):06d}"

    def uniform(self, lo: float, hi: float) -> float:
        return float(self.rng.uniform(lo, hi))

    def emit(
        self,
        actor: _Actor,
        t: float,
        event: str,
        resource: str,
        *,
        outcome: str = "allowed",
        reason: str | None = None,
        network: str | None = None,
        client: str | None = None,
        principal: str | None = None,
    ) -> None:
        net = network or actor.networks[0]
        self.out.append(
            Activity(
                time=t,
                event=event,
                principal=actor.name if principal is None else principal,
                outcome=outcome,
                resource=resource,
                tenant=actor.tenant,
                reason=reason,
                client=client or actor.clients.get(net),
                network=net,
            )
        )

    # -- principals ---------------------------------------------------------

    def make_actors(self) -> None:
        rng = self.rng
        for i in range(self.cfg.principals):
            u = i / max(1, self.cfg.principals)
            role = "service" if u < 0.45 else "person" if u < 0.9 else "batch"
            team = int(rng.integers(0, 12))
            tenant = f"tenant{team % 3}"
            if role == "service":
                areas = [f"secret/svc{i}"]
                pool = [f"{areas[0]}/key{j}" for j in range(int(rng.integers(3, 26)))]
                nets = [self.network() for _ in range(int(rng.integers(1, 3)))]
                actor = _Actor(
                    f"acc_svc{i}",
                    role,
                    tenant,
                    areas,
                    pool,
                    nets,
                    rate=float(np.exp(rng.normal(np.log(40.0), 0.8))),
                )
            elif role == "person":
                areas = [f"secret/team{team}"] + (
                    [f"secret/shared{int(rng.integers(0, 4))}"] if rng.random() < 0.6 else []
                )
                pool = [
                    f"{areas[j % len(areas)]}/item{j}" for j in range(int(rng.integers(20, 200)))
                ]
                nets = [self.offices[team % len(self.offices)], self.network(), self.vpn]
                actor = _Actor(
                    f"acc_person{i}",
                    role,
                    tenant,
                    areas,
                    pool,
                    nets,
                    rate=float(np.exp(rng.normal(np.log(20.0), 0.6))),
                    tz=float(rng.choice(_TIMEZONES)),
                    start_h=self.uniform(7.0, 10.0),
                    hours=self.uniform(7.0, 9.0),
                    admin=bool(rng.random() < 0.2),
                )
            else:
                areas = [f"secret/batch{i}", f"secret/archive{i}"]
                pool = [f"{areas[0]}/rec{j}" for j in range(int(rng.integers(100, 400)))]
                nets = [self.network()]
                actor = _Actor(
                    f"acc_batch{i}",
                    role,
                    tenant,
                    areas,
                    pool,
                    nets,
                    batch_hour=self.uniform(0.0, 5.0),
                )
            for n in actor.networks:
                actor.clients[n] = self.client()
            self.actors.append(actor)

    # -- normal traffic -----------------------------------------------------

    def service_day(self, a: _Actor, day: int) -> None:
        rng = self.rng
        t0 = _START + day * _DAY
        hours = np.arange(24)
        lam = a.rate * (1.0 + 0.3 * np.sin(2 * np.pi * (hours - 6) / 24))
        counts = rng.poisson(lam)
        for h, n in zip(hours, counts, strict=True):
            for t in np.sort(rng.uniform(0, _HOUR, int(n))) + t0 + h * _HOUR:
                net = a.networks[int(rng.integers(0, len(a.networks)))]
                r = a.pool[int(rng.integers(0, len(a.pool)))]
                u = rng.random()
                if u < 0.003:
                    self.emit(
                        a,
                        t,
                        "kv:record:read",
                        r + "-old",
                        outcome="error",
                        reason="not-found",
                        network=net,
                    )
                elif u < 0.02:
                    self.emit(a, t, "kv:metadata:read", r, network=net)
                else:
                    self.emit(a, t, "kv:record:read", r, network=net)
                    a.reads.append(t)
        # Daily rotation of one or two secrets, at a fixed hour.
        for k in range(int(rng.integers(1, 3))):
            self.emit(a, t0 + 3 * _HOUR + 60 * k, "kv:record:write", a.pool[k % len(a.pool)])
        if rng.random() < 0.1:  # an expired token, retried a few times
            t = t0 + self.uniform(0, _DAY)
            for k in range(int(rng.integers(1, 5))):
                self.emit(
                    a,
                    t + 5 * k,
                    "kv:record:read",
                    a.pool[0],
                    outcome="denied",
                    reason="unauthenticated",
                    principal=ANONYMOUS,
                )

    def person_day(self, a: _Actor, day: int, trip: set[int], trip_net: str) -> None:
        rng = self.rng
        t0 = _START + day * _DAY
        weekday = (day % 7) < 5
        if not weekday and rng.random() > 0.05:
            return
        if rng.random() < 0.07:  # a day off
            return
        start = t0 + (a.start_h - a.tz + self.uniform(-0.5, 0.5)) * _HOUR
        length = a.hours + self.uniform(-1.0, 0.5)
        if rng.random() < 0.06:  # a late evening
            length += self.uniform(1.0, 3.0)
        if day in trip:
            net = trip_net
        else:
            u = rng.random()
            net = a.networks[0] if u < 0.6 else a.networks[1] if u < 0.92 else a.networks[2]
        n = int(rng.poisson(a.rate * length))
        hot = max(3, len(a.pool) // 5)
        for t in np.sort(rng.uniform(0, length * _HOUR, n)) + start:
            # A person keeps returning to a few records (the first fifth of
            # the pool) and now and then opens any of them.
            j = int(rng.integers(0, hot if rng.random() < 0.7 else len(a.pool)))
            r = a.pool[j]
            u = rng.random()
            if u < 0.62:
                self.emit(a, t, "kv:record:read", r, network=net)
                a.reads.append(t)
            elif u < 0.72:
                self.emit(a, t, "kv:record:list", r.rsplit("/", 1)[0] + "/", network=net)
            elif u < 0.80:
                self.emit(a, t, "kv:metadata:read", r, network=net)
            elif u < 0.87:
                self.emit(a, t, "kv:record:write", r, network=net)
            elif u < 0.875:
                self.emit(a, t, "kv:record:delete", r, network=net)
            elif u < 0.885:  # a typo
                self.emit(
                    a,
                    t,
                    "kv:record:read",
                    r + "s",
                    outcome="error",
                    reason="not-found",
                    network=net,
                )
            elif u < 0.89:  # a path outside the policy
                self.emit(
                    a,
                    t,
                    "kv:record:read",
                    f"secret/team{int(rng.integers(0, 12))}/x",
                    outcome="denied",
                    reason="permission-denied",
                    network=net,
                )
            elif a.admin and u < 0.95:
                ev = (
                    "sys:policy:read",
                    "sys:mount:list",
                    "auth:token:create",
                    "sys:policy:write",
                    "sys:keys:status",
                )[int(rng.integers(0, 5))]
                self.emit(a, t, ev, "sys/policies/team", network=net)
            else:
                self.emit(a, t, "kv:record:read", r, network=net)
                a.reads.append(t)
        if rng.random() < 0.08:
            t = start + self.uniform(0, 600)
            for k in range(int(rng.integers(1, 4))):
                self.emit(
                    a,
                    t + 20 * k,
                    "kv:record:list",
                    a.areas[0] + "/",
                    outcome="denied",
                    reason="unauthenticated",
                    principal=ANONYMOUS,
                    network=net,
                )

    def batch_day(self, a: _Actor, day: int) -> None:
        rng = self.rng
        t = _START + day * _DAY + (a.batch_hour + self.uniform(0, 0.25)) * _HOUR
        self.emit(a, t, "kv:record:list", a.areas[0] + "/")
        records = list(a.pool)
        if day % 7 == 6:  # Sunday: the archive as well
            records += [f"{a.areas[1]}/old{j}" for j in range(len(a.pool) // 2)]
        rate = self.uniform(2.0, 10.0)
        for r in records:
            t += float(rng.exponential(1.0 / rate))
            self.emit(a, t, "kv:record:read", r)
            a.reads.append(t)

    def normal(self) -> None:
        rng = self.rng
        for a in self.actors:
            trip: set[int] = set()
            trip_net = ""
            if a.role == "person" and rng.random() < 0.1:
                first = int(rng.integers(0, self.cfg.days))
                trip = set(range(first, first + int(rng.integers(2, 5))))
                trip_net = self.network()
                a.clients[trip_net] = a.clients[a.networks[1]]
            for day in range(self.cfg.days):
                if a.role == "service":
                    self.service_day(a, day)
                elif a.role == "person":
                    self.person_day(a, day, trip, trip_net)
                else:
                    self.batch_day(a, day)

    # -- attacks ------------------------------------------------------------

    def attack_time(self) -> float:
        cfg = self.cfg
        return _START + self.uniform(cfg.warmup_days * _DAY, (cfg.days - 0.5) * _DAY)

    def busiest(self, a: _Actor, span: float = 600.0) -> int:
        if not a.reads:
            return 0
        _, counts = np.unique((np.array(a.reads) // span).astype(np.int64), return_counts=True)
        return int(counts.max())

    def brute_force(self, victim: _Actor) -> Attack:
        rng = self.rng
        start = t = self.attack_time()
        net = self.network()
        client = self.client()
        gap = float(np.exp(rng.uniform(np.log(0.2), np.log(60.0))))
        attempts = int(rng.integers(20, 300))
        if rng.random() < 0.3:
            # A valid low-privilege token probing for other tokens.
            principal, event, outcome, reason = (
                victim.name,
                "auth:token:lookup",
                "error",
                "not-found",
            )
        else:
            principal, event, outcome, reason = (
                ANONYMOUS,
                "kv:record:read",
                "denied",
                "unauthenticated",
            )
        recent: list[float] = []
        lockout, n = 30.0, 0
        for _ in range(attempts):
            t += float(rng.exponential(gap))
            recent = [x for x in recent if x > t - 60.0] + [t]
            self.emit(
                victim,
                t,
                event,
                "auth/token/lookup" if principal != ANONYMOUS else victim.pool[0],
                outcome=outcome,
                reason=reason,
                network=net,
                client=client,
                principal=principal,
            )
            n += 1
            # The API counts 401s only, and locks the address out after 10 a minute.
            if principal == ANONYMOUS and len(recent) >= 10:
                self.emit(
                    victim,
                    t,
                    "auth:client:lockout",
                    "sys/lockout",
                    outcome="denied",
                    reason="too-many-failures",
                    network=net,
                    client=client,
                    principal=ANONYMOUS,
                )
                t += lockout
                lockout = min(lockout * 2, 3600.0)
                recent = []
        return Attack(AlertKind.BRUTE_FORCE, start, t, principal, client, n)

    def enumeration(self, a: _Actor) -> Attack:
        rng = self.rng
        start = t = self.attack_time()
        net = a.networks[0]
        gap = float(np.exp(rng.uniform(np.log(0.1), np.log(10.0))))
        n = int(rng.integers(25, 400))
        for k in range(n):
            t += float(rng.exponential(gap))
            guess = f"secret/{('prod', 'db', 'aws', 'admin', 'ci', 'payments')[k % 6]}/g{k}"
            if rng.random() < 0.7:
                self.emit(
                    a, t, "kv:record:read", guess, outcome="error", reason="not-found", network=net
                )
            else:
                self.emit(
                    a,
                    t,
                    "kv:record:read",
                    guess,
                    outcome="denied",
                    reason="permission-denied",
                    network=net,
                )
        return Attack(AlertKind.ENUMERATION, start, t, a.name, a.clients[net], n)

    def exfiltration(self, a: _Actor) -> Attack:
        rng = self.rng
        start = t = self.attack_time()
        net = a.networks[0]
        n = int(self.uniform(5.0, 15.0) * max(self.busiest(a), 12))
        rate = self.uniform(1.0, 20.0)
        extra = [f"{a.areas[0]}/other{j}" for j in range(n)]
        records = a.pool + extra
        self.emit(a, t, "kv:record:list", a.areas[0] + "/", network=net)
        for k in range(n):
            t += float(rng.exponential(1.0 / rate))
            self.emit(a, t, "kv:record:read", records[k % len(records)], network=net)
        return Attack(AlertKind.EXFILTRATION, start, t, a.name, a.clients[net], n)

    def unusual_access(self, a: _Actor) -> Attack:
        rng = self.rng
        start = self.attack_time()
        if a.role == "person":
            # 01:00 to 05:00 in the person's own time zone.
            day0 = start - (start - _START) % _DAY
            start = day0 + ((self.uniform(1.0, 5.0) - a.tz) % 24) * _HOUR
        t = start
        net, client = self.network(), self.client()
        n = int(rng.integers(5, 30))
        for _ in range(n):
            t += self.uniform(10.0, 120.0)
            r = a.pool[int(rng.integers(0, len(a.pool)))]
            self.emit(a, t, "kv:record:read", r, network=net, client=client)
        return Attack(AlertKind.UNUSUAL_ACCESS, start, t, a.name, client, n)

    def anomaly(self, a: _Actor) -> Attack:
        rng = self.rng
        # Start at one of the principal's own ordinary moments.
        after = [x for x in a.reads if x > _START + self.cfg.warmup_days * _DAY]
        start = t = after[int(rng.integers(0, len(after)))] if after else self.attack_time()
        net = a.networks[0]
        n = int(rng.integers(10, 40))
        ops = (
            ("kv:record:write", a.pool[0]),
            ("kv:record:destroy", a.pool[-1]),
            ("kv:record:list", "secret/"),
            ("auth:token:create", "auth/token/create"),
            ("sys:policy:write", "sys/policies/escalate"),
            ("kv:record:delete", a.pool[len(a.pool) // 2]),
            ("sys:mount:list", "sys/mounts"),
        )
        for k in range(n):
            t += self.uniform(5.0, 30.0)
            ev, res = ops[int(rng.integers(0, len(ops)))]
            self.emit(a, t, ev, f"{res}{k}" if ev.startswith("kv:record:w") else res, network=net)
        return Attack(AlertKind.ANOMALY, start, t, a.name, a.clients[net], n)

    def attacks(self) -> list[Attack]:
        rng = self.rng
        out: list[Attack] = []
        makers = {
            AlertKind.BRUTE_FORCE: self.brute_force,
            AlertKind.ENUMERATION: self.enumeration,
            AlertKind.EXFILTRATION: self.exfiltration,
            AlertKind.UNUSUAL_ACCESS: self.unusual_access,
            AlertKind.ANOMALY: self.anomaly,
        }
        # Each attack gets a principal of its own, so that one attack's alert
        # (and its cool-down) is never credited to another.
        order = rng.permutation(len(self.actors))
        victims = itertools.cycle(order.tolist())
        for _ in range(self.cfg.attacks_per_kind):
            for make in makers.values():
                out.append(make(self.actors[next(victims)]))
        return out


def generate(cfg: TrafficConfig) -> Traffic:
    """Generate normal traffic and attacks, merged in time order with entry numbers."""
    g = _Generator(cfg)
    g.make_actors()
    g.normal()
    normal = len(g.out)
    attacks = g.attacks()
    g.out.sort(key=lambda a: a.time)
    acts = [
        Activity(
            time=a.time,
            event=a.event,
            principal=a.principal,
            outcome=a.outcome,
            resource=a.resource,
            tenant=a.tenant,
            reason=a.reason,
            client=a.client,
            network=a.network,
            seq=i,
        )
        for i, a in enumerate(g.out)
    ]
    return Traffic(acts, attacks, normal)
