"""Rounds: a case measured in short turns, so that the variants it is compared with can take
turns with it, and in several worker processes, so that its interval covers more than one.

A machine drifts (docs/measurement.md gives the readings): cases measured one after another,
minutes apart, carry that drift into every ratio between them. A *round* is one short latency
slice followed by one energy window (or, where the meter is coarse, only some rounds have one:
:attr:`RoundsConfig.windows`);
the variants of a comparison group (:mod:`benchsuite.run.comparison`) run their rounds in turn
(A B C, C B A, ...), so drift lands on each of them alike and cancels in the per-round ratio.

This module is the worker's side: :class:`RoundRunner` runs one round of a prepared call. It
takes its clock as an argument, so a test can drift it.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from benchsuite.instruments.energy import REWARM_S, EnergyWindow, resolution_window_s
from benchsuite.instruments.meters.base import Meter
from benchsuite.instruments.timing import ClockNs, Timer, gc_paused

ROUND_REWARM_S = 0.005
"""Calls run untimed at the start of each round: the group's other processes ran since this one
last did and evicted its caches. A process's first round rewarms for
:data:`benchsuite.instruments.energy.REWARM_S`, as after any idle window (without it the
reference's first slice ran far slower than the rest: docs/measurement.md); between rounds the
core is busy, and a few milliseconds of calls suffice."""
MIN_ROUND_CALLS = 5
"""A round's latency slice times at least this many calls, however slow the model."""
FEWEST_ROUNDS = 10
"""A slow model gets fewer rounds per process than ``rounds`` (:meth:`RoundsConfig.most_rounds`),
but never fewer than this: its slices then take longer than its budget, as before."""
CHECK_EVERY_S = 0.02


@dataclass(frozen=True)
class RoundsConfig:
    """How a case is spread over time and processes (a suite's ``[measure]`` ``repeats``,
    ``rounds`` and ``interleave``).

    A case keeps the time it had: its latency budget (``budget_s``) and the metered time it had
    at least (its fewest windows, ``energy_min_windows`` or else ``energy_windows``, of
    ``energy_window_s``) are split evenly over its ``repeats`` x ``rounds`` rounds
    (:meth:`latency_slice_s`, :meth:`window_s`). The defaults come from
    ``benchmarks/bench_drift.py`` (docs/measurement.md, "What it costs, and what it bought"): a
    core's speed wanders about as much whatever a round's length, while a ratio's noise falls with
    the number of rounds paired, so many short rounds beat a few long ones.
    """

    repeats: int = 5
    """Worker processes per case, one after another; each prepares the model afresh. The
    process is the unit of repetition (a paired ratio's interval is over the processes:
    :mod:`benchsuite.run.pooling`), so there must be several."""
    rounds: int = 8
    """Rounds per process, at most: one latency slice and one energy window each (see
    ``windows``). A slow model gets fewer (:meth:`most_rounds`)."""
    interleave: bool = True
    """The variants of a comparison group take turns, round by round; ``False``: each case's
    rounds run back to back, as cases ran before rounds existed."""
    pin_cpus: bool = True
    """All of a comparison group's processes run on the same CPUs, the last ``threads`` of the
    machine's (:mod:`benchsuite.run.affinity`); ``False``: wherever the scheduler puts them."""
    windows: int | None = None
    """Energy windows per process where a coarse meter cannot give every round one
    (:meth:`fitted`); ``None``: a window in every round. A coarse counter (NVML's) needs
    long windows, so only some rounds carry one; the latency still takes every round, so its
    ratios keep all their pairs (docs/measurement.md)."""

    resolution_rel: float = 0.10
    """A paired ratio whose 95 % interval reaches further than this from it is *unresolved*:
    the row says so, the report prints no precise-looking figure for it, and the gate calls it
    inconclusive (a suite's ``[measure] ratio_resolution_rel``)."""

    floor_rel: float = 0.01
    """What every process of one run shares and a re-run does not (the machine's mood over
    minutes), added to a paired ratio's half-width in quadrature (a suite's ``[measure]
    ratio_floor_rel``). The default comes from ``benchmarks/bench_calibration.py`` on this
    project's VM; docs/measurement.md gives the readings, and the benchmark sets it for yours."""

    def __post_init__(self) -> None:
        if self.floor_rel < 0:
            raise ValueError(f"ratio_floor_rel must be 0 or more, got {self.floor_rel}")
        if not self.resolution_rel > 0:
            raise ValueError(f"ratio_resolution_rel must be positive, got {self.resolution_rel}")
        if self.repeats < 1:
            raise ValueError(f"repeats must be at least 1, got {self.repeats}")
        if self.rounds < 1:
            raise ValueError(f"rounds must be at least 1, got {self.rounds}")
        if self.windows is not None and self.windows < 1:
            raise ValueError(f"windows must be at least 1, got {self.windows}")

    @property
    def total_rounds(self) -> int:
        return self.repeats * self.rounds

    def latency_slice_s(self, budget_s: float) -> float:
        """Each round's share of the case's latency budget."""
        return budget_s / self.total_rounds

    @property
    def windows_per_process(self) -> int:
        """Energy windows per process: ``windows``, where they fit in every other round at
        most (:meth:`window_rounds`), else one in every round."""
        if self.windows is None or 2 * self.windows > self.rounds:
            return self.rounds
        return self.windows

    def window_s(self, metered_s: float, resolution_s: float) -> float:
        """Each energy window: its share of the case's metered time, and never under 100 update
        periods of the meter (a coarse meter, NVML's 100 ms, then costs more)."""
        windows = self.repeats * self.windows_per_process
        return max(metered_s / windows, resolution_window_s(resolution_s))

    def window_rounds(self, repeat: int) -> tuple[int, ...]:
        """The rounds of process ``repeat`` that end with an energy window: every one, or, with
        fewer windows than rounds, one in the middle of each equal block of rounds, moved by one
        where needed so that the windows' rounds alternate between the forward and the backward
        order (A B C, C B A) across the case, as all rounds do: a linear drift then cancels in
        the paired energy ratios too."""
        per_process, rounds = self.windows_per_process, self.rounds
        if per_process == rounds:
            return tuple(range(rounds))
        chosen = []
        for block in range(per_process):
            index = (2 * block + 1) * rounds // (2 * per_process)
            backward = (repeat * per_process + block) % 2
            if (repeat * rounds + index) % 2 != backward:  # the round's turn sets its order
                index += 1 if index + 1 < rounds else -1
            chosen.append(index)
        return tuple(chosen)

    def most_rounds(self, call_s: float, budget_s: float) -> int:
        """The rounds per process a model whose call takes ``call_s`` can have: as many as
        ``rounds`` while each latency slice still holds :data:`MIN_ROUND_CALLS` calls within
        the budget, never fewer than :data:`FEWEST_ROUNDS` (nor than ``rounds``). A group runs
        as many rounds as its slowest member can have."""
        fewest = min(self.rounds, FEWEST_ROUNDS)
        if not call_s > 0:  # no warm-up call to judge by (zero, or NaN from none at all)
            return self.rounds
        affordable = int(budget_s / (self.repeats * MIN_ROUND_CALLS * call_s))
        return max(fewest, min(self.rounds, affordable))

    def alone(self) -> RoundsConfig:
        """For a case with nothing to compare with (the only one of its group that runs): one
        process with all the rounds. Its processes would only widen its own interval, which then
        says that it holds within one process (:mod:`benchsuite.run.pooling`), and a group of
        one pays for every process start; with others to pair with, the processes carry the
        ratios' intervals."""
        return dataclasses.replace(self, repeats=1, rounds=self.repeats * self.rounds)

    def with_rounds(self, rounds: int) -> RoundsConfig:
        return dataclasses.replace(self, rounds=rounds)

    def fitted(
        self, fewest_windows: int, window_s: float, resolution_s: float | None
    ) -> RoundsConfig:
        """Fewer energy windows where the meter is coarse. Each window needs 100 update periods
        of the meter, and a case's metered time stays what one go gave it (its fewest windows,
        each stretched to 100 periods, and at least one in each process): with NVML's 100 ms
        counter, one window of 10 s in each of 5 processes, in 1 of their 8 rounds, rather than
        one in each of 40 rounds. Where the windows would fill more than every other round (RAPL:
        30 windows of 0.1 s, 6 a process), the rounds are cut to the windows instead."""
        if not resolution_s:
            return self
        shortest = resolution_window_s(resolution_s)
        windows = fewest_windows * max(window_s, shortest) / shortest
        per_process = max(1, math.ceil(windows / self.repeats))
        if 2 * per_process <= self.rounds:
            return dataclasses.replace(self, windows=per_process)
        return dataclasses.replace(self, rounds=min(self.rounds, per_process))

    @property
    def legacy(self) -> bool:
        """One process, no interleaving: each case is measured as before rounds existed
        (warm-up, sampling until the interval is tight, then its energy windows)."""
        return self.repeats == 1 and not self.interleave

    def describe(self) -> str:
        order = "interleaved with its comparison group" if self.interleave else "back to back"
        return (
            f"{self.repeats} process{'es' if self.repeats > 1 else ''} x {self.rounds} rounds, "
            f"{order}"
        )


@dataclass(frozen=True)
class RoundResult:
    """One round of one case: when it ran, its per-call latencies and its energy window."""

    index: int
    started_ns: int
    """On the clock the round was timed with: only differences between rounds mean anything
    (a process's ``perf_counter_ns`` is system-wide monotonic time on Linux)."""
    latency_ns: np.ndarray = field(repr=False)
    window: EnergyWindow | None
    """``None`` in a round without an energy window (:meth:`RoundsConfig.window_rounds`)."""

    @property
    def latency_median_ns(self) -> float:
        return float(np.median(self.latency_ns))

    @property
    def energy_per_sample_j(self) -> float:
        assert self.window is not None, "only a round with an energy window has its energy"
        return self.window.energy_per_sample_j


class RoundRunner:
    """Runs rounds of one prepared ``call``: an untimed rewarm, a latency slice of timed calls
    (synchronised inside each timing where the device is asynchronous), then one energy window
    of back-to-back calls read by ``meter``."""

    def __init__(
        self,
        call: Callable[[], object],
        sync: Callable[[], None] | None,
        meter: Meter,
        samples_per_call: int,
        idle_power_w: float,
        clock: ClockNs = time.perf_counter_ns,
    ) -> None:
        self.call = call
        self.sync = sync
        self.meter = meter
        self.samples_per_call = samples_per_call
        self.idle_power_w = idle_power_w
        self.clock = clock
        self.timer = Timer(call, sync, clock)
        self.rounds_run = 0

    def run_for(self, seconds: float) -> int:
        """Call back to back, untimed, for ``seconds``; the number of calls."""
        calls = 0
        end_ns = self.clock() + int(seconds * 1e9)
        while self.clock() < end_ns:
            self.call()
            calls += 1
        if self.sync is not None:
            self.sync()
        return calls

    def latency_slice(self, seconds: float) -> np.ndarray:
        """Per-call latencies (ns) for about ``seconds``, at least :data:`MIN_ROUND_CALLS`."""
        samples: list[int] = []
        chunk = 1
        start = self.clock()
        slice_ns = seconds * 1e9
        with gc_paused():
            while True:
                first = len(samples)
                self.timer.time_calls(chunk, samples)
                left_ns = slice_ns - (self.clock() - start)
                if len(samples) >= MIN_ROUND_CALLS and left_ns <= 0:
                    break
                mean_ns = max(sum(samples[first:]) / (len(samples) - first), 1.0)
                # check the clock every CHECK_EVERY_S, and never far past the slice's end: a
                # 12 ms slice timed in chunks of 20 ms would last 20 ms
                chunk = max(1, int(min(CHECK_EVERY_S * 1e9, left_ns) / mean_ns))
        return np.asarray(samples, dtype=np.int64)

    def energy_window(self, index: int, seconds: float) -> EnergyWindow:
        calls = 0
        window_ns = int(seconds * 1e9)
        call, clock = self.call, self.clock  # locals: the loop is the metered work
        with self.meter.window() as window:
            start = clock()
            while clock() - start < window_ns:
                call()
                calls += 1
            if self.sync is not None:
                self.sync()
        samples = calls * self.samples_per_call
        return EnergyWindow(index, calls, samples, window.reading, self.idle_power_w)

    def round(self, index: int, latency_s: float, window_s: float | None) -> RoundResult:
        """One round; with ``window_s`` ``None``, its latency slice only."""
        started_ns = self.clock()
        # the first round follows the idle window and the other processes' preparation: the
        # core (a VM's vCPU) wakes as after any idle window; later rounds follow busy ones
        self.run_for(REWARM_S if self.rounds_run == 0 else ROUND_REWARM_S)
        self.rounds_run += 1
        latency = self.latency_slice(latency_s)
        window = None if window_s is None else self.energy_window(index, window_s)
        return RoundResult(index, started_ns, latency, window)
