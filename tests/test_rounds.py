"""Interleaved rounds against a machine that drifts: a fake clock whose calls grow slower, and a
fake meter that reads a steady power over that clock, so latency and energy per sample drift
together. The coordinator, the round runner and the pooling are benchsuite's own; only the
worker processes are replaced by objects in this process."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchsuite.case import Case
from benchsuite.errors import SuiteError
from benchsuite.instruments.config import MeasureConfig
from benchsuite.instruments.meters.base import EnergyReading, Meter, MeterInfo
from benchsuite.instruments.rounds import (
    FEWEST_ROUNDS,
    MIN_ROUND_CALLS,
    RoundResult,
    RoundRunner,
    RoundsConfig,
)
from benchsuite.instruments.timing import SamplingConfig, WarmupResult
from benchsuite.results import MemoryResult
from benchsuite.run.affinity import CpuSet, allowed_cpus, describe, group_cpus, node_cpus
from benchsuite.run.comparison import StartSession, comparison_groups, group_id, run_rounds
from benchsuite.run.held_case import Readiness, SessionResult
from benchsuite.run.pooling import (
    DRIFT_WARN_REL,
    drift_of,
    paired_ratios,
    pooled_result,
    reference_of,
)
from benchsuite.suites.load import parse_suite
from tests.conftest import FakeClock

POWER_W = 20.0
COST_NS = {"fp32": 100_000, "int8": 150_000, "distilled": 75_000}  # true ratios 1.5 and 0.75
DRIFT_PER_S = 0.005  # each call 0.5 % slower per second of the run: +10 % over 20 s


class ClockMeter(Meter):
    """A steady ``POWER_W`` over the fake clock: energy per call follows the call's duration."""

    source = "fake"
    kind = "measured"

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.started_ns = 0

    def info(self) -> MeterInfo:
        return MeterInfo("fake", "measured", True, "steady power over a fake clock")

    def start(self) -> None:
        self.started_ns = self.clock()

    def stop(self) -> EnergyReading:
        seconds = (self.clock() - self.started_ns) / 1e9
        return EnergyReading("fake", "measured", ("package-0",), POWER_W * seconds, seconds, 1e-3)


class DriftingSession:
    """A case whose every call costs its variant's time, stretched by the drift so far."""

    def __init__(self, case: Case, clock: FakeClock, cpus: CpuSet | None = None) -> None:
        cost_ns = COST_NS[case.variant]
        self.cpus = cpus  # a worker process would pin itself there and say so

        def call() -> None:
            clock.advance(int(cost_ns * (1 + DRIFT_PER_S * clock() / 1e9)))

        self.clock = clock
        self.runner = RoundRunner(call, None, ClockMeter(clock), 1, 0.0, clock)

    most_rounds: int | None = None

    def ready(self) -> Readiness:
        return Readiness(most_rounds=self.most_rounds, cpus=self.cpus)

    def round(self, index: int, rounds: int, window: bool = True) -> RoundResult:
        return self.runner.round(index, 0.1, 1.0 if window else None)

    def finish(self) -> SessionResult:
        idle = EnergyReading("fake", "measured", ("package-0",), 0.0, 1.0, 1e-3)
        warmup = WarmupResult(0, 0.0, True, np.empty(0, np.int64))
        return SessionResult(warmup, idle, 1.0, MemoryResult(1, True), None, None, None)

    def kill(self) -> None:
        pass


def _group() -> list[Case]:
    return [Case("digits-cnn", v, "cpu", "single-stream", 1, 1) for v in COST_NS]


def _measure(interleave: bool) -> tuple[dict[str, float], dict[str, float], float]:
    """Each variant's latency and energy ratio to fp32 as the report reads it: paired per round
    when interleaved, else the ratio of the two pooled medians; and the run's drift."""
    clock = FakeClock()
    cases = _group()
    config = MeasureConfig(
        sampling=SamplingConfig(budget_s=0.6),
        # sequential is the old way, each case in one go (6 rounds in one process); interleaved
        # is the default: 2 processes of 3 rounds, taking turns
        rounds=RoundsConfig(2, 3, True) if interleave else RoundsConfig(1, 6, False),
    )

    def start(case: Case, idle: EnergyReading | None, cpus: CpuSet | None) -> DriftingSession:
        return DriftingSession(case, clock)

    states = run_rounds(cases, start, config.rounds)
    reference = reference_of(list(states.values()))
    assert reference is not None and reference.case.variant == "fp32"
    drift = drift_of(reference)
    rows = {
        case.variant: pooled_result(states[case], config, reference, drift).row() for case in cases
    }
    latency, energy = {}, {}
    for variant, row in rows.items():
        if interleave:
            latency[variant], energy[variant] = row["latency_ratio"], row["energy_ratio"]
        else:
            assert row.get("latency_ratio") is None  # back to back: no pairs to speak of
            latency[variant] = row["latency_p50_ms"] / rows["fp32"]["latency_p50_ms"]
            energy[variant] = row["energy_per_sample_j"] / rows["fp32"]["energy_per_sample_j"]
    assert drift is not None
    return latency, energy, drift.latency_rel


def _true(variant: str) -> float:
    return COST_NS[variant] / COST_NS["fp32"]


def test_back_to_back_rounds_carry_the_drift_into_the_ratio() -> None:
    latency, energy, _ = _measure(interleave=False)
    # int8 ran ~7 virtual s after fp32 and distilled ~14 s after (6 rounds of 1.15 s each):
    # the ratios are off by about 0.5 %/s times that
    for variant, lag_s in (("int8", 7.0), ("distilled", 14.0)):
        for ratios in (latency, energy):
            error = ratios[variant] / _true(variant) - 1
            assert error == pytest.approx(DRIFT_PER_S * lag_s, rel=0.35), (variant, error)
            assert error > 0.03


def test_interleaved_rounds_keep_the_ratio_within_one_percent() -> None:
    latency, energy, drift = _measure(interleave=True)
    for variant in ("int8", "distilled"):
        for ratios in (latency, energy):
            assert ratios[variant] == pytest.approx(_true(variant), rel=0.01), variant
    assert latency["fp32"] == energy["fp32"] == 1.0
    # the reference's own rounds show the machine moving: its last third of rounds ran ~13.8
    # virtual s after its first third, at 0.5 %/s
    assert drift == pytest.approx(DRIFT_PER_S * 13.8, rel=0.15)
    assert drift > DRIFT_WARN_REL


def test_each_row_says_which_interval_it_carries() -> None:
    clock = FakeClock()
    cases = _group()
    config = MeasureConfig(rounds=RoundsConfig(repeats=2, rounds=3))
    states = run_rounds(
        cases,
        lambda case, idle, cpus: DriftingSession(case, clock, cpus),
        config.rounds,
        allowed=(0, 1),
    )
    reference = reference_of(list(states.values()))
    assert reference is not None
    row = pooled_result(states[cases[1]], config, reference, drift_of(reference)).row()
    assert row["measure_order"] == "interleaved" and row["repeats"] == 2 and row["rounds"] == 3
    assert row["pinned_cpus"] == "1"
    assert row["latency_interval_method"].startswith(
        "95% t-interval over 2 processes' own figures (1 degrees of freedom, log scale)"
    )
    assert row["energy_interval_method"].startswith("95% t-interval over 2 processes")
    assert row["ratio_interval_method"] == (
        "6 paired rounds; 95% t-interval over 2 processes' own figures (1 degrees of freedom, "
        "log scale), with a ±1.0% run-to-run floor in quadrature"
    )
    assert row["ratio_processes"] == 2
    assert row["latency_ratio_low"] <= row["latency_ratio"] <= row["latency_ratio_high"]
    # the interval is over the processes' own medians, so it takes in both of them
    medians = []
    for repeat in (0, 1):
        calls = [r.latency_ns for p, r in states[cases[1]].rounds if p == repeat]
        medians.append(float(np.median(np.concatenate(calls))) * 1e-6)
    assert row["latency_p50_ci_low_ms"] <= min(medians)
    assert row["latency_p50_ci_high_ms"] >= max(medians)
    assert paired_ratios(states[cases[1]], reference) is not None


class FailingSession(DriftingSession):
    def round(self, index: int, rounds: int, window: bool = True) -> RoundResult:
        if index == 1:
            raise RuntimeError("the worker ran out of memory")
        return super().round(index, rounds, window)


def _int8_as(kind: type[DriftingSession]) -> StartSession:
    """Start every case of the group as a DriftingSession, int8 as ``kind``, on one clock."""
    clock = FakeClock()

    def start(case: Case, idle: EnergyReading | None, cpus: CpuSet | None) -> DriftingSession:
        return (kind if case.variant == "int8" else DriftingSession)(case, clock, cpus)

    return start


def test_a_case_that_fails_mid_rounds_leaves_the_group_and_the_others_go_on() -> None:
    cases = _group()
    states = run_rounds(cases, _int8_as(FailingSession), RoundsConfig(repeats=2, rounds=3))
    assert states[cases[1]].error == "RuntimeError: the worker ran out of memory"
    assert len(states[cases[0]].rounds) == len(states[cases[2]].rounds) == 6
    assert len(states[cases[1]].rounds) == 1  # its first round, then it left


class SlowSession(DriftingSession):
    most_rounds = 2


def test_a_group_runs_as_many_rounds_as_its_slowest_member_allows() -> None:
    states = run_rounds(_group(), _int8_as(SlowSession), RoundsConfig(repeats=2, rounds=3))
    for state in states.values():
        assert state.plan == RoundsConfig(repeats=2, rounds=2)
        assert [(repeat, r.index) for repeat, r in state.rounds] == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_every_process_of_a_group_runs_on_the_same_cpus() -> None:
    started: list[tuple[str, CpuSet | None]] = []
    make = _int8_as(DriftingSession)

    def start(case: Case, idle: EnergyReading | None, cpus: CpuSet | None) -> DriftingSession:
        started.append((case.variant, cpus))
        return make(case, idle, cpus)

    config = RoundsConfig(repeats=3, rounds=2)
    states = run_rounds(_group(), start, config, allowed=(0, 2, 5))
    assert started == [(variant, (5,)) for _ in range(3) for variant in COST_NS]
    assert all(state.cpus == [(5,)] * 3 for state in states.values())
    started.clear()
    run_rounds(_group(), start, dataclasses.replace(config, pin_cpus=False), allowed=(0, 2, 5))
    assert {cpus for _, cpus in started} == {None}


def test_a_group_takes_the_last_cpus_unless_its_threads_need_them_all() -> None:
    assert group_cpus(1, (0, 1)) == (1,)
    assert group_cpus(2, (3, 0, 1, 2)) == (2, 3)
    assert group_cpus(2, (0, 1)) is None  # as many threads as CPUs: nothing to choose
    assert group_cpus(None, (0, 1)) is None  # torch's default threads use every core
    assert describe([(1,), (1,)]) == "1" and describe([(0, 1), None]) == "0,1 | any"
    assert describe([None, None]) is None


def test_a_worker_prepares_on_its_cpus_numa_node(tmp_path: Path) -> None:
    for node, cpulist in (("node0", "0-3,8-11\n"), ("node1", "4-7,12-15\n")):
        (tmp_path / node).mkdir()
        (tmp_path / node / "cpulist").write_text(cpulist)
    assert node_cpus((15,), range(16), tmp_path) == (4, 5, 6, 7, 12, 13, 14, 15)
    assert node_cpus((15,), (0, 1, 14, 15), tmp_path) == (14, 15)  # only those it may use
    assert node_cpus((1,), (0, 1), tmp_path / "no-such-tree") == (0, 1)  # Linux did not say


PINNING_CHILD = """
import os, threading
from benchsuite.run.affinity import pin_process
started, done = threading.Event(), threading.Event()
pool = threading.Thread(target=lambda: (started.set(), done.wait()))
pool.start(); started.wait()
main = pin_process((max(os.sched_getaffinity(0)),))
print(sorted(main), sorted(os.sched_getaffinity(pool.native_id)))
done.set(); pool.join()
"""


@pytest.mark.skipif(len(allowed_cpus()) < 2, reason="pinning needs two CPUs to choose from")
def test_pinning_moves_the_threads_a_runtime_started_before_it() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PINNING_CHILD], capture_output=True, text=True, check=True
    ).stdout
    last = max(allowed_cpus())
    assert out.split("\n")[0] == f"[{last}] [{last}]"


def test_a_slow_model_gets_fewer_rounds_but_never_fewer_than_the_floor() -> None:
    config = RoundsConfig(repeats=2, rounds=40)
    # 1 s of budget over 2 processes, MIN_ROUND_CALLS calls a slice
    assert config.most_rounds(call_s=100e-6, budget_s=1.0) == 40
    fits = int(1.0 / (2 * MIN_ROUND_CALLS * 0.004))
    assert FEWEST_ROUNDS < fits < 40
    assert config.most_rounds(call_s=0.004, budget_s=1.0) == fits
    assert config.most_rounds(call_s=0.030, budget_s=1.0) == FEWEST_ROUNDS
    assert RoundsConfig(repeats=2, rounds=3).most_rounds(call_s=0.030, budget_s=1.0) == 3
    assert config.most_rounds(call_s=float("nan"), budget_s=1.0) == 40  # no warm-up call timed


def test_a_latency_slice_ends_near_its_length_not_a_whole_check_later() -> None:
    clock = FakeClock()
    runner = RoundRunner(lambda: clock.advance(1_000_000), None, ClockMeter(clock), 1, 0.0, clock)
    runner.latency_slice(0.005)  # the first slice learns the call's length
    started = clock()
    calls = runner.latency_slice(0.012)
    assert len(calls) == 12 and clock() - started == 12_000_000  # not 20 ms of 20 ms checks


def test_groups_are_the_cases_that_differ_only_by_variant() -> None:
    cases = [
        Case("a", "fp32", "cpu", "single-stream", 1, 1),
        Case("a", "int8", "cpu", "offline", 64, 1),
        Case("a", "int8", "cpu", "single-stream", 1, 1),
        Case("a", "fp32", "cpu", "single-stream", 1, 2),
    ]
    groups = comparison_groups(cases)
    assert groups == [[cases[0], cases[2]], [cases[1]], [cases[3]]]
    assert group_id(cases[0]) == "a/cpu/single-stream/b1/t1"


def test_the_suite_sets_repeats_rounds_and_interleave() -> None:
    matrix = '[[matrix]]\nworkloads = ["w"]\nvariants = ["fp32"]\n'
    suite = parse_suite("[measure]\nrepeats = 3\nrounds = 4\ninterleave = false\n" + matrix, "s")
    assert suite.measure.rounds == RoundsConfig(repeats=3, rounds=4, interleave=False)
    assert not parse_suite("[measure]\npin_cpus = false\n" + matrix, "s").measure.rounds.pin_cpus
    assert parse_suite(matrix, "s").measure.rounds == RoundsConfig()
    with pytest.raises(SuiteError, match=r"s: \[measure\] interleave must be true or false"):
        parse_suite('[measure]\ninterleave = "yes"\n' + matrix, "s")
    with pytest.raises(SuiteError, match=r"s: \[measure\] pin_cpus must be true or false"):
        parse_suite("[measure]\npin_cpus = 1\n" + matrix, "s")
    with pytest.raises(SuiteError, match=r"s: \[measure\] repeats must be a whole number"):
        parse_suite("[measure]\nrepeats = 1.5\n" + matrix, "s")


def _paired_rows(ratio: float, low: float, high: float) -> tuple[dict, dict]:
    fp32 = {"case_id": "w/fp32/cpu/single-stream/b1/t1", "run_id": "r1", "status": "ok"}
    fp32 |= {"latency_p50_ms": 1.0, "energy_per_sample_j": 1.0}
    row = {"case_id": "w/int8/cpu/single-stream/b1/t1", "run_id": "r1", "status": "ok"}
    row |= {"latency_p50_ms": 1.3, "energy_per_sample_j": 1.3}  # drifted: the medians say +30 %
    row |= {"comparison_reference": fp32["case_id"], "latency_ratio": ratio}
    row |= {"latency_ratio_low": low, "latency_ratio_high": high, "energy_ratio": ratio}
    row |= {"energy_ratio_low": low, "energy_ratio_high": high}
    return row, fp32


def test_the_report_reads_the_paired_ratio_where_the_row_has_one() -> None:
    from benchsuite.report.data import change_vs_baseline

    row, fp32 = _paired_rows(1.5, 1.48, 1.52)
    assert change_vs_baseline(row, fp32, "energy_per_sample_j") == pytest.approx(0.5)
    assert change_vs_baseline(row, fp32, "latency_p50_ms") == pytest.approx(0.5)
    # against an fp32 of another run, the two medians are all there is
    other_run = {**fp32, "run_id": "r0"}
    assert change_vs_baseline(row, other_run, "latency_p50_ms") == pytest.approx(0.3)


def test_the_gate_decides_a_paired_ratio_on_both_intervals() -> None:
    import pandas as pd

    from benchsuite.gate.decide import INCONCLUSIVE, PASS, REGRESSION, _intervals
    from benchsuite.gate.rules import Allowance

    allowance = Allowance("latency_ratio", True, relative=0.05)
    columns = ("latency_ratio_low", "latency_ratio_high")
    base = pd.Series(_paired_rows(1.50, 1.49, 1.51)[0])

    def verdict(ratio: float, low: float, high: float) -> str:
        cand = pd.Series(_paired_rows(ratio, low, high)[0])
        return _intervals("c", "latency_ratio", allowance, base, cand, columns).verdict

    assert verdict(1.80, 1.78, 1.82) == REGRESSION  # int8 lost 20 % against fp32
    assert verdict(1.51, 1.50, 1.52) == PASS
    assert verdict(1.60, 1.40, 1.80) == INCONCLUSIVE  # beyond, but the interval is wide
    missing = pd.Series({"status": "ok"})
    assert _intervals("c", "latency_ratio", allowance, base, missing, columns).verdict == PASS


def test_a_coarse_meter_gets_fewer_windows_not_fewer_rounds_nor_more_metered_time() -> None:
    rounds = RoundsConfig(repeats=2, rounds=10)
    # NVML's counter moves every 100 ms: a window needs 10 s, and a case's 3 windows of 10 s
    # become 2 processes x 2 windows of 10 s, in 2 of their 10 rounds; the latency keeps all 10
    nvml = rounds.fitted(3, 1.0, 0.1)
    assert nvml.rounds == 10 and nvml.windows_per_process == 2
    assert nvml.window_s(3 * 10.0, 0.1) == 10.0
    # RAPL (1 ms) and the estimate keep a window of 0.15 s in each of their 10 rounds
    for resolution_s in (1e-3, 1e-6, None):
        fine = rounds.fitted(3, 1.0, resolution_s)
        assert fine.rounds == fine.windows_per_process == 10
    assert rounds.window_s(3.0, 1e-3) == pytest.approx(0.15)
    # windows that would fill more than every other round cut the rounds instead, as before
    assert RoundsConfig(repeats=2, rounds=10).fitted(12, 1.0, 0.1).rounds == 6


@pytest.mark.parametrize("repeats", [1, 2, 3])
@pytest.mark.parametrize("rounds", [2, 3, 10, 11, 40])
def test_the_rounds_with_a_window_alternate_in_order_and_spread_out(
    repeats: int, rounds: int
) -> None:
    for windows in range(1, rounds // 2 + 1):
        plan = RoundsConfig(repeats, rounds, windows=windows)
        turns = []
        for repeat in range(repeats):
            chosen = plan.window_rounds(repeat)
            assert len(set(chosen)) == len(chosen) == windows
            assert all(0 <= index < rounds for index in chosen)
            assert list(chosen) == sorted(chosen)
            turns += [repeat * rounds + index for index in chosen]
        # forward (A B C), backward (C B A), forward, ...: the order of each turn
        assert [turn % 2 for turn in turns] == [k % 2 for k in range(len(turns))]
        gaps = np.diff([index for index in plan.window_rounds(0)])
        assert gaps.size == 0 or gaps.min() >= rounds // windows - 2  # spread, not bunched
    assert RoundsConfig(repeats, rounds).window_rounds(0) == tuple(range(rounds))


def test_with_fewer_windows_than_rounds_latency_pairs_every_round_and_energy_stays_paired() -> None:
    """The schedule of a GPU case on NVML (2 windows in each process's 40 rounds) on a machine
    that drifts linearly: latency pairs all 80 rounds, energy the 4 with a window, and both
    ratios stay within 1 % of the truth, because the windowed rounds alternate in order too
    (the middles of the two halves, rounds 10 and 30, would both run forward)."""
    clock = FakeClock()
    cases = _group()
    plan = RoundsConfig(2, 40, windows=2)
    config = MeasureConfig(sampling=SamplingConfig(budget_s=8.0), rounds=plan)
    states = run_rounds(cases, lambda case, idle, cpus: DriftingSession(case, clock), config.rounds)
    reference = reference_of(list(states.values()))
    assert reference is not None
    drift = drift_of(reference)
    assert drift is not None and drift.latency_rel > DRIFT_WARN_REL
    for case in cases:
        state = states[case]
        assert len(state.rounds) == 80
        windowed = [(repeat, r.index) for repeat, r in state.rounds if r.window is not None]
        assert windowed == [(k, i) for k in (0, 1) for i in plan.window_rounds(k)]
        row = pooled_result(state, config, reference, drift).row()
        assert row["rounds"] == 40 and row["energy_windows"] == 4
        assert "in 2 of each process's 40 rounds" in row["energy_stop_reason"]
        if case.variant == "fp32":
            continue
        # within 0.02 % here; 1 % off when both windowed rounds of a process run forward
        assert row["latency_ratio"] == pytest.approx(_true(case.variant), rel=0.002)
        assert row["energy_ratio"] == pytest.approx(_true(case.variant), rel=0.002)
        method = row["ratio_interval_method"]
        assert method.startswith("latency: 80 paired rounds; 95% t-interval over 2 processes")
        assert "energy: 4 paired rounds; 95% t-interval over 2 processes" in method


PROCESS_LUCK_SD = 0.05
"""How far one process's speed for a variant strays (log scale): its memory layout, its core."""
CALL_NOISE_SD = 0.01


class ProcessLuckSession(DriftingSession):
    """A case whose process draws its own speed when it starts, shared by all its rounds, as a
    worker process's luck is; each call adds a little noise of its own."""

    def __init__(self, case: Case, clock: FakeClock, rng: np.random.Generator) -> None:
        cost_ns = 1_000_000 * _true(case.variant) * float(np.exp(rng.normal(0, PROCESS_LUCK_SD)))

        def call() -> None:
            clock.advance(int(cost_ns * (1 + CALL_NOISE_SD * rng.standard_normal())))

        self.cpus = None
        self.clock = clock
        self.runner = RoundRunner(call, None, ClockMeter(clock), 1, 0.0, clock)

    def round(self, index: int, rounds: int, window: bool = True) -> RoundResult:
        return self.runner.round(index, 0.02, 0.05 if window else None)


def test_intervals_over_processes_hold_the_true_ratio_and_rounds_alone_do_not() -> None:
    """Many simulated runs of fp32 and int8 (true ratio 1.5), each process with its own luck:
    the interval over rounds alone (an order-statistic interval of the paired per-round ratios)
    is far too narrow, while the t-interval over processes holds the truth at its 95 %."""
    from benchsuite.instruments.stats import median_interval

    rng = np.random.default_rng(7)
    cases = [Case("digits-cnn", v, "cpu", "single-stream", 1, 1) for v in ("fp32", "int8")]
    plan = RoundsConfig(repeats=6, rounds=6, pin_cpus=False, floor_rel=0.0)  # the bare model
    runs, held_by_processes, held_by_rounds, resolved = 300, 0, 0, 0
    for _ in range(runs):
        clock = FakeClock()
        states = run_rounds(
            cases, lambda case, idle, cpus, clock=clock: ProcessLuckSession(case, clock, rng), plan
        )
        mine, fp32 = states[cases[1]], states[cases[0]]
        ratios = paired_ratios(mine, fp32, plan)
        assert ratios is not None
        latency, energy = ratios
        held_by_processes += latency.low <= 1.5 <= latency.high
        resolved += latency.resolved
        assert latency.processes == energy.processes == 6
        per_round = [
            a.latency_median_ns / b.latency_median_ns
            for (_, a), (_, b) in zip(mine.rounds, fp32.rounds, strict=True)
        ]
        rounds_only = median_interval(per_round)
        held_by_rounds += rounds_only.low <= 1.5 <= rounds_only.high
    assert 0.90 <= held_by_processes / runs <= 0.99  # nominal 95 %
    assert held_by_rounds / runs < 0.85  # overconfident: it treats 36 rounds as 36 repeats
    assert resolved / runs > 0.7  # a ratio of two 5 % lucks (7 %) over 6 processes: mostly ±10 %


def test_one_process_gives_an_unresolved_ratio_not_a_precise_one() -> None:
    clock = FakeClock()
    cases = _group()[:2]
    states = run_rounds(
        cases, lambda case, idle, cpus: DriftingSession(case, clock), RoundsConfig(1, 6)
    )
    ratios = paired_ratios(states[cases[1]], states[cases[0]])
    assert ratios is not None
    assert not ratios[0].resolved and ratios[0].high == float("inf")
    assert "one process gives no spread" in ratios[0].method


def test_the_run_to_run_floor_is_added_in_quadrature() -> None:
    from benchsuite.instruments.stats import process_interval

    steady = [1.5, 1.5 * 1.001, 1.5 * 0.999]  # processes that agree to 0.1 %
    bare = process_interval(steady)
    floored = process_interval(steady, floor_rel=0.01)
    assert bare.half_width_rel < 0.005
    assert floored.half_width_rel == pytest.approx(
        np.expm1(np.hypot(np.log(bare.high / bare.centre), np.log1p(0.01))), rel=1e-6
    )
    assert floored.half_width_rel > 0.01
