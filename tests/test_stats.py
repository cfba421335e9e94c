"""Statistics and the timing protocol, driven by a fake clock so every outcome is exact."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pytest

from benchsuite.instruments.stats import median_ci_ranks, median_interval, summarize
from benchsuite.instruments.timing import (
    STOP_CI_MET,
    STOP_MAX_SAMPLES,
    STOP_TIME_BUDGET,
    SamplingConfig,
    Timer,
)


@pytest.mark.parametrize(
    ("n", "ranks"),
    # textbook 95 % order-statistic intervals for the median (1-based (2, 9) for n = 10, ...)
    [(5, None), (6, (0, 5)), (10, (1, 8)), (20, (5, 14)), (50, (17, 32)), (100, (39, 60))],
)
def test_median_ci_ranks_match_binomial_tables(n: int, ranks: tuple[int, int] | None) -> None:
    assert median_ci_ranks(n) == ranks


def test_large_n_normal_approximation_is_continuous_with_exact() -> None:
    exact = median_ci_ranks(1000)
    approx = median_ci_ranks(1001)
    assert exact is not None and approx is not None
    assert abs(exact[0] - approx[0]) <= 1 and abs(exact[1] - approx[1]) <= 2


def test_median_interval_covers_the_true_median_about_95_percent() -> None:
    rng = random.Random(1)
    covered = 0
    trials = 2000
    for _ in range(trials):
        sample = [rng.expovariate(1.0) for _ in range(41)]
        interval = median_interval(sample)
        covered += interval.low <= math.log(2) <= interval.high
    assert 0.93 <= covered / trials <= 0.985


def test_too_few_samples_give_an_unbounded_interval() -> None:
    interval = median_interval([1.0, 2.0, 3.0])
    assert interval.median == 2.0
    assert interval.half_width_rel == math.inf


def test_summary_of_known_values() -> None:
    summary = summarize(list(range(1, 101)))
    assert summary.count == 100
    assert summary.median.median == 50.5
    assert summary.p90 == pytest.approx(90.1)
    assert summary.p99 == pytest.approx(99.01)
    assert summary.iqr == pytest.approx(49.5)
    assert summary.mean == 50.5
    assert summary.std == pytest.approx(np.std(np.arange(1, 101), ddof=1))
    assert (summary.minimum, summary.maximum) == (1, 100)


def _timer_with_durations(clock, durations) -> Timer:  # type: ignore[no-untyped-def]
    source = iter(durations)
    return Timer(lambda: clock.advance(next(source)), clock=clock)


def test_warm_up_runs_until_block_medians_settle(fake_clock) -> None:  # type: ignore[no-untyped-def]
    # a cold start: 100 µs, getting 10 % faster each call until a steady 1 µs (after 44 calls)
    durations = (max(1_000, int(100_000 * 0.9**k)) for k in itertools.count())
    timer = _timer_with_durations(fake_clock, durations)
    config = SamplingConfig(warmup_max_s=10.0, warmup_block_s=0.001)
    result = timer.warm_up(config)
    assert result.settled
    assert result.calls > 44
    assert result.samples_ns.size == result.calls
    # the last three blocks are the steady state
    assert result.block_medians_ns[-3:] == (1_000.0, 1_000.0, 1_000.0)


def test_warm_up_that_never_settles_stops_at_its_budget(fake_clock) -> None:  # type: ignore[no-untyped-def]
    # every call 3 % slower than the last (thermal throttling, a leak): nothing ever settles
    durations = (int(1_000 * 1.03**k) for k in itertools.count())
    timer = _timer_with_durations(fake_clock, durations)
    config = SamplingConfig(warmup_max_s=0.05, warmup_block_s=0.0001)
    result = timer.warm_up(config)
    assert not result.settled
    assert result.duration_s >= 0.05


def test_sampling_stops_when_the_ci_target_is_met(fake_clock) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(2)
    timer = _timer_with_durations(
        fake_clock, (int(rng.gauss(60_000, 600)) for _ in itertools.count())
    )
    config = SamplingConfig(ci_target_rel=0.01, budget_s=10.0, check_every_s=0.001)
    result = timer.sample(config, typical_call_ns=60_000)
    assert result.stop_reason == STOP_CI_MET
    assert result.ci_half_width_rel <= 0.01
    assert result.duration_s < 10.0


def test_sampling_stops_at_the_time_budget_when_noise_is_too_high(fake_clock) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(3)
    noisy = (int(rng.lognormvariate(11, 1.5)) + 1 for _ in itertools.count())
    timer = _timer_with_durations(fake_clock, noisy)
    config = SamplingConfig(ci_target_rel=0.0001, budget_s=0.5, check_every_s=0.01)
    result = timer.sample(config, typical_call_ns=100_000)
    assert result.stop_reason == STOP_TIME_BUDGET
    assert result.duration_s >= 0.5
    assert result.ci_half_width_rel > 0.0001


def test_sampling_respects_max_samples(fake_clock) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(4)
    timer = _timer_with_durations(fake_clock, (rng.randint(1, 10**6) for _ in itertools.count()))
    config = SamplingConfig(ci_target_rel=1e-9, budget_s=1e6, min_samples=30, max_samples=500)
    result = timer.sample(config, typical_call_ns=1_000)
    assert result.stop_reason == STOP_MAX_SAMPLES
    assert result.samples_ns.size == 500


def test_device_sync_is_inside_the_timed_interval(fake_clock) -> None:  # type: ignore[no-untyped-def]
    # the call only launches work (1 µs); the device finishes it during sync (9 µs)
    timer = Timer(
        lambda: fake_clock.advance(1_000), sync=lambda: fake_clock.advance(9_000), clock=fake_clock
    )
    samples: list[int] = []
    timer.time_calls(5, samples)
    assert samples == [10_000] * 5


def test_invalid_sampling_config_is_refused() -> None:
    with pytest.raises(ValueError, match="budget_s"):
        SamplingConfig(budget_s=-1)
    with pytest.raises(ValueError, match="min_samples"):
        SamplingConfig(min_samples=3)
