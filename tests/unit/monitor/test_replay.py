"""The replay harness: every detector fires on its injected attacks and stays quiet otherwise.

The figures quoted in docs/performance.md come from ``make bench`` (a larger
run, on a seed the thresholds were not tuned on); these runs are small
enough for the default suite.
"""

from __future__ import annotations

import pytest

from strongroom.monitor import AlertKind, Thresholds
from strongroom.monitor.anomaly import BehaviourModel
from strongroom.monitor.replay import replay
from strongroom.monitor.traffic import TrafficConfig, generate


@pytest.fixture(scope="module")
def report():  # type: ignore[no-untyped-def]
    return replay(TrafficConfig(days=8, principals=40, attacks_per_kind=4, seed=3))


class TestReplay:
    @pytest.mark.parametrize("kind", [str(k) for k in AlertKind])
    def test_each_detector_catches_its_attacks(self, report, kind: str) -> None:  # type: ignore[no-untyped-def]
        score = next(k for k in report.kinds if k.kind == kind)
        assert score.attacks == 4
        assert score.recall >= 0.75, score
        assert score.ttd_median_s is not None

    def test_few_false_alerts(self, report) -> None:  # type: ignore[no-untyped-def]
        assert report.false_per_10k <= 1.0, report.as_dict()
        assert report.model_fits >= 1

    def test_a_clean_replay_is_quiet(self) -> None:
        r = replay(TrafficConfig(days=8, principals=40, attacks_per_kind=0, seed=4))
        assert r.attack_requests == 0
        # Benign novelty (a trip abroad, a batch job's first night) may raise
        # a handful; no detector may fire on routine traffic.
        assert r.false_per_10k <= 1.0, r.as_dict()
        by_kind = {k.kind: k.alerts for k in r.kinds}
        assert by_kind["brute_force"] == by_kind["enumeration"] == 0

    def test_generation_is_reproducible(self) -> None:
        cfg = TrafficConfig(days=2, principals=6, attacks_per_kind=1, warmup_days=1, seed=9)
        a, b = generate(cfg), generate(cfg)
        assert a.activities == b.activities and a.attacks == b.attacks


class TestBehaviourModel:
    def test_trains_once_enough_windows(self) -> None:
        r = replay(TrafficConfig(days=3, principals=10, attacks_per_kind=0, warmup_days=1))
        assert r.model_fits >= 1

    def test_untrained_until_enough_windows(self) -> None:
        assert not BehaviourModel(Thresholds()).trained
