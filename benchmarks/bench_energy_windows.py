"""Time spent on energy per GPU case, before and after adaptive windows and a run-level idle,
on the fake NVML with a realistic noise profile; with the interval widths each policy reaches.

No GPU here, so the GPU is ``tests/fakes.py``'s fake NVML (the real ``pynvml`` module,
autospecced) on a **virtual clock**: a model call advances the clock by its duration instead of
taking it, and an idle sleep advances it by the sleep, so a case that would take a minute of GPU
time runs in milliseconds, and the figures are the seconds a real GPU case would spend. The
profile is the one measured on an H100 (docs/energy.md): the counter moves every 100 ms; a CUDA
context idles at about 120 W; a small batch-1 model adds a few watts, so the per-window figure is
mostly idle power; each 100 ms of board power carries independent noise (±3 % standard deviation
by default) and a slow wander (a random walk of 0.3 % per second).

Policies:
- before: an idle window and 5 windows of 10 s per case (the nightly CUDA half's old policy);
- after: the nightly suite's adaptive windows (3 to 7 windows, stop at ±2 %) and the idle read
  once per run and device plus once at its end (its cost shared by the run's cases).

Usage: python benchmarks/bench_energy_windows.py [--cases 40] [--noise 0.03] [--cases-per-run 84]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import types
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.fakes

from benchsuite.instruments import energy
from benchsuite.instruments.energy import EnergyConfig, measure_energy, read_idle
from benchsuite.instruments.meters import NvmlMeter
from tests.conftest import FakeClock
from tests.fakes import FakeGpu, fake_nvml

COUNTER_PERIOD_S = 0.1
IDLE_W = 120.0
MODEL_W = 3.0  # what a batch-1 model adds while it runs
CALL_S = 0.004  # one model call
SAMPLES_PER_CALL = 1


class NoisyGpu:
    """Board power per 100 ms period: idle + model power while busy, times independent noise and
    a slow random-walk wander; the energy counter is the sum of whole periods, as NVML's moves."""

    def __init__(self, clock: FakeClock, noise: float, seed: int) -> None:
        self.clock = clock
        self.busy_until_s = 0.0
        self.rng = np.random.default_rng(seed)
        self.noise = noise
        self.periods: list[float] = []  # energy (J) of each finished period
        self.total_j = 0.0
        self.wander = 1.0

    def _power_w(self, busy: bool) -> float:
        self.wander *= 1 + self.rng.normal(0, 0.003 * np.sqrt(COUNTER_PERIOD_S))
        base = IDLE_W + (MODEL_W if busy else 0.0)
        return base * self.wander * (1 + self.rng.normal(0, self.noise))

    def energy_of(self, t_s: float) -> float:
        finished = int(t_s / COUNTER_PERIOD_S)
        while len(self.periods) < finished:
            start = len(self.periods) * COUNTER_PERIOD_S
            busy = start < self.busy_until_s
            self.periods.append(self._power_w(busy) * COUNTER_PERIOD_S)
            self.total_j += self.periods[-1]
        return self.total_j if finished == len(self.periods) else sum(self.periods[:finished])

    def power_w(self, t_s: float) -> float:
        return IDLE_W


def one_case(
    config: EnergyConfig, gpu: NoisyGpu, meter: NvmlMeter, clock: FakeClock, idle: object
) -> tuple[float, float]:
    """Virtual seconds the case spends on energy, and its interval's half-width (relative)."""

    def call() -> None:
        gpu.busy_until_s = clock() / 1e9 + CALL_S
        clock.advance(round(CALL_S * 1e9))

    start = clock()
    result = measure_energy(call, None, meter, SAMPLES_PER_CALL, config, idle=idle)  # type: ignore[arg-type]
    spent = (clock() - start) / 1e9
    half = (result.energy_per_sample_high_j - result.energy_per_sample_low_j) / 2
    return spent, half / result.energy_per_sample_j


def policy(
    name: str, config: EnergyConfig, run_idle: bool, cases: int, per_run: int, noise: float
) -> tuple[float, float, float]:
    spent, widths = [], []
    for seed in range(cases):
        clock = FakeClock()
        policy_clock[0] = clock  # what the patched benchsuite.instruments.energy.time reads
        gpu = NoisyGpu(clock, noise, seed)
        fake = FakeGpu(lambda c=clock: c() / 1e9, gpu.power_w, gpu.energy_of)
        meter = NvmlMeter(nvml=fake_nvml([fake]), clock=clock, sync=lambda: None)
        idle_cost = 0.0
        idle = None
        if run_idle:
            before = clock()
            idle = read_idle(meter, config.idle_s)
            idle_cost = 2 * (clock() - before) / 1e9 / per_run  # start and end, shared
        seconds, width = one_case(config, gpu, meter, clock, idle)
        spent.append(seconds + idle_cost)
        widths.append(width)
    mean_s = statistics.fmean(spent)
    print(
        f"{name:<44} {mean_s:7.1f} s per case   interval ±{statistics.median(widths):.2%} "
        f"(median), ±{max(widths):.2%} (widest)"
    )
    return mean_s, statistics.median(widths), max(widths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--noise", type=float, default=0.03)
    parser.add_argument("--cases-per-run", type=int, default=84, help="the nightly CUDA half")
    args = parser.parse_args()
    energy.time = types.SimpleNamespace(  # type: ignore[assignment]
        perf_counter_ns=lambda: policy_clock[0](),
        sleep=lambda seconds: policy_clock[0].advance(round(seconds * 1e9)),
    )
    print(
        f"fake NVML, virtual clock: idle {IDLE_W:g} W, model +{MODEL_W:g} W, counter every "
        f"{COUNTER_PERIOD_S * 1000:g} ms, noise ±{args.noise:.0%} per period; {args.cases} cases"
    )
    before = policy(
        "before: idle + 5 windows of 10 s per case",
        EnergyConfig(windows=5, window_s=1.0, idle_s=1.0),
        False,
        args.cases,
        args.cases_per_run,
        args.noise,
    )
    after = policy(
        "after: 3-7 windows to ±2 %, idle once per run",
        EnergyConfig(windows=7, window_s=1.0, idle_s=1.0, min_windows=3, target_rel=0.02),
        True,
        args.cases,
        args.cases_per_run,
        args.noise,
    )
    print(f"energy time per case: {before[0] / after[0]:.2f}x less after")


policy_clock: list[FakeClock] = [FakeClock()]
"""The clock the patched ``benchsuite.instruments.energy.time`` reads: each simulated case sets its own."""


if __name__ == "__main__":
    main()
