"""Each rule detector on hand-made activity: fires at its threshold, not before."""

from __future__ import annotations

from strongroom.monitor import Activity, AlertKind, Monitor, Thresholds
from strongroom.monitor.detectors import BruteForce, Enumeration, Exfiltration, UnusualAccess

DAY = 86400.0


def act(t: float, **kw: object) -> Activity:
    base: dict[str, object] = {
        "event": "kv:record:read",
        "principal": "acc1",
        "outcome": "allowed",
        "resource": "secret/app/db",
        "tenant": "t",
        "client": "c1",
        "network": "n1",
    }
    base.update(kw)
    return Activity(time=t, **base)  # type: ignore[arg-type]


class TestActivity:
    def test_from_entry_reads_the_ledger_fields(self) -> None:
        a = Activity.from_entry(
            {
                "seq": 3,
                "time": "2026-12-01T00:00:01.500000Z",
                "event": "kv:record:read",
                "principal": "anonymous",
                "outcome": "denied",
                "reason": "unauthenticated",
                "resource": "secret/x",
                "tenant": "",
                "client": "abc",
            }
        )
        assert a.seq == 3 and a.is_auth_failure and not a.is_record_read
        assert a.time % 1 == 0.5

    def test_classification(self) -> None:
        assert act(0, outcome="error", reason="not-found").is_probe_failure
        assert act(
            0, event="auth:token:lookup", outcome="error", reason="not-found"
        ).is_auth_failure
        assert not act(
            0, event="auth:token:lookup", outcome="error", reason="not-found"
        ).is_probe_failure
        assert act(
            0, event="sys:seal:unseal", outcome="denied", reason="invalid-input"
        ).is_auth_failure
        assert not act(0, event="audit:entries:read").is_record_read
        assert act(0, event="kv:record:destroy").is_delete
        assert act(0, resource="secret/app/db/x").area == "secret/app"


class TestBruteForce:
    def test_per_client_threshold(self) -> None:
        bf = BruteForce(Thresholds(brute_force_failures=5, brute_force_window_s=60))
        fails = [
            act(t, principal="anonymous", outcome="denied", reason="unauthenticated", seq=int(t))
            for t in range(5)
        ]
        out = [bf.observe(a) for a in fails]
        assert [len(o) for o in out] == [0, 0, 0, 0, 1]
        al = out[-1][0]
        assert al.kind is AlertKind.BRUTE_FORCE and al.first_seq == 0 and al.last_seq == 4
        assert al.evidence["failures"] == 5

    def test_failures_outside_the_window_do_not_count(self) -> None:
        bf = BruteForce(Thresholds(brute_force_failures=3, brute_force_window_s=10))
        fails = [
            act(t, principal="anonymous", outcome="denied", reason="unauthenticated")
            for t in (0, 20, 40, 60)
        ]
        assert not any(bf.observe(a) for a in fails)

    def test_a_lockout_is_an_alert_at_once(self) -> None:
        bf = BruteForce(Thresholds())
        out = bf.observe(
            act(0, event="auth:client:lockout", principal="anonymous", outcome="denied")
        )
        assert out and out[0].reasons == ("lockout",)

    def test_successes_do_not_count(self) -> None:
        bf = BruteForce(Thresholds(brute_force_failures=2))
        assert not any(bf.observe(act(t)) for t in range(10))


class TestEnumeration:
    def test_distinct_paths_not_repeats(self) -> None:
        en = Enumeration(Thresholds(enumeration_paths=4, enumeration_window_s=60))
        same = [act(t, outcome="error", reason="not-found") for t in range(10)]
        assert not any(en.observe(a) for a in same)
        many = [
            act(100 + t, outcome="denied", reason="permission-denied", resource=f"secret/{t}")
            for t in range(4)
        ]
        assert [bool(en.observe(a)) for a in many] == [False, False, False, True]


class TestExfiltration:
    def test_far_above_own_baseline(self) -> None:
        th = Thresholds(exfiltration_min_reads=20, exfiltration_factor=4.0)
        ex = Exfiltration(th)
        # Four days of ten reads every ten minutes: the busiest usual window is 10.
        t = 0.0
        while t < 4 * DAY:
            for k in range(10):
                assert not ex.observe(act(t + k, resource=f"secret/app/{k}"))
            t += 600
        out = []
        for k in range(60):
            out += ex.observe(act(t + k, resource=f"secret/app/{k}"))
        # The detector says so on every read past the bar (the Monitor's
        # cool-down turns that into one alert); the first is the 41st read.
        assert len(out) == 20 and out[0].reasons == ("own-baseline",)
        assert out[0].evidence["baseline_reads"] == 10
        assert out[0].evidence["reads"] == 41  # 4 times 10, plus one
        assert out[0].evidence["window_s"] == 600

    def test_a_new_principal_is_held_to_the_fixed_bar(self) -> None:
        ex = Exfiltration(Thresholds(exfiltration_new_principal_reads=50))
        out = [al for k in range(51) for al in ex.observe(act(k, resource=f"r{k}"))]
        assert len(out) == 1 and out[0].reasons == ("no-baseline",)
        assert out[0].evidence["reads"] == 51


class TestUnusualAccess:
    def _history(self, ua: UnusualAccess) -> None:
        # Five days, 09:00 to 17:00 UTC, from network n1.
        for day in range(5):
            for m in range(0, 8 * 60, 5):
                assert not ua.observe(act(day * DAY + 9 * 3600 + m * 60))

    def test_new_network(self) -> None:
        ua = UnusualAccess(Thresholds(unusual_min_events=100, unusual_min_days=3))
        self._history(ua)
        out = ua.observe(act(5 * DAY + 10 * 3600, network="n2"))
        assert out and out[0].reasons == ("new-network",)

    def test_off_hours(self) -> None:
        ua = UnusualAccess(Thresholds(unusual_min_events=100, unusual_min_days=3))
        self._history(ua)
        out = ua.observe(act(5 * DAY + 3 * 3600))
        assert out and out[0].reasons == ("off-hours",)

    def test_a_network_colleagues_use_is_not_new(self) -> None:
        ua = UnusualAccess(Thresholds(unusual_min_events=100, unusual_min_days=3))
        self._history(ua)
        for who in ("acc2", "acc3", "acc4"):
            ua.observe(act(5 * DAY, principal=who, network="vpn"))
        assert not ua.observe(act(5 * DAY + 10 * 3600, network="vpn"))

    def test_no_judgement_before_enough_history(self) -> None:
        ua = UnusualAccess(Thresholds())
        assert not ua.observe(act(3 * 3600, network="n9"))


class TestMonitor:
    def test_one_alert_per_incident(self) -> None:
        m = Monitor(Thresholds(brute_force_failures=3, cooldown_s=100))
        fails = [
            act(t, principal="anonymous", outcome="denied", reason="unauthenticated")
            for t in range(0, 500, 10)
        ]
        alerts = [al for a in fails for al in m.observe(a)]
        # Failures every 10 s for 500 s: still one incident (the cool-down
        # restarts with each repeat), so one alert.
        assert len(alerts) == 1 and m.suppressed > 0

    def test_monitor_entries_are_ignored(self) -> None:
        m = Monitor(Thresholds(brute_force_failures=1))
        assert not m.observe(
            act(0, event="monitor:alert:raise", outcome="denied", reason="unauthenticated")
        )
        assert m.observed == 0

    def test_kinds_can_be_chosen(self) -> None:
        m = Monitor(Thresholds(brute_force_failures=1), kinds=frozenset({AlertKind.ENUMERATION}))
        assert not m.observe(
            act(0, principal="anonymous", outcome="denied", reason="unauthenticated")
        )
