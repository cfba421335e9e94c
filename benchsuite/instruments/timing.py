"""Per-call timing: warm-up until timings settle, then sampling until the median is known well.

The timed loops are kept as small as Python allows: on the CPU a sample is exactly
``clock(); call(); clock()``. Where the device runs asynchronously (CUDA) the device is
synchronised *inside* the timed interval, so a sample covers the work and not just its launch.
The garbage collector is paused while timing, as ``timeit`` does, so that a collection started by
the harness's own bookkeeping does not land in a sample.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from benchsuite.instruments.stats import median_interval

ClockNs = Callable[[], int]
"""A monotonic clock in integer nanoseconds (``time.perf_counter_ns`` unless a test fakes it)."""

STOP_CI_MET = "ci_target_met"
STOP_TIME_BUDGET = "time_budget"
STOP_MAX_SAMPLES = "max_samples"


@dataclass(frozen=True)
class SamplingConfig:
    """How long to warm up and when to stop sampling. Times in seconds."""

    warmup_max_s: float = 5.0
    warmup_block_s: float = 0.05
    warmup_settle_blocks: int = 3
    warmup_settle_tolerance_rel: float = 0.05
    ci_target_rel: float = 0.01
    confidence: float = 0.95
    min_samples: int = 30
    max_samples: int = 1_000_000
    budget_s: float = 10.0
    check_every_s: float = 0.05

    def __post_init__(self) -> None:
        positive = ("warmup_max_s", "warmup_block_s", "ci_target_rel", "budget_s", "check_every_s")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.warmup_settle_blocks < 2:
            raise ValueError("warmup_settle_blocks must be at least 2")
        if not 0 < self.confidence < 1:
            raise ValueError(f"confidence must be in (0, 1), got {self.confidence}")
        if self.min_samples < 6:
            raise ValueError("min_samples must be at least 6 (fewer cannot bound a median at 95%)")
        if self.max_samples < self.min_samples:
            raise ValueError("max_samples must be at least min_samples")


@dataclass(frozen=True)
class WarmupResult:
    calls: int
    duration_s: float
    settled: bool
    samples_ns: np.ndarray = field(repr=False)
    block_medians_ns: tuple[float, ...] = ()


@dataclass(frozen=True)
class SamplingResult:
    samples_ns: np.ndarray = field(repr=False)
    duration_s: float
    stop_reason: str
    ci_half_width_rel: float


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the duration of a timed loop."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _time_calls(call: Callable[[], object], count: int, clock: ClockNs, out: list[int]) -> None:
    for _ in range(count):
        start = clock()
        call()
        out.append(clock() - start)


def _time_calls_synced(
    call: Callable[[], object],
    sync: Callable[[], None],
    count: int,
    clock: ClockNs,
    out: list[int],
) -> None:
    for _ in range(count):
        start = clock()
        call()
        sync()
        out.append(clock() - start)


class Timer:
    """Times single calls of ``call`` with ``clock``, synchronising with ``sync`` when given."""

    def __init__(
        self,
        call: Callable[[], object],
        sync: Callable[[], None] | None = None,
        clock: ClockNs = time.perf_counter_ns,
    ) -> None:
        self.call = call
        self.sync = sync
        self.clock = clock

    def time_calls(self, count: int, out: list[int]) -> None:
        """Append ``count`` per-call durations (ns) to ``out``."""
        if self.sync is None:
            _time_calls(self.call, count, self.clock, out)
        else:
            _time_calls_synced(self.call, self.sync, count, self.clock, out)

    def warm_up(self, config: SamplingConfig) -> WarmupResult:
        """Call in blocks until the last few block medians agree, or the warm-up budget ends.

        A block lasts about ``warmup_block_s``; timings settle when the last
        ``warmup_settle_blocks`` block medians lie within ``warmup_settle_tolerance_rel`` of each
        other. Every warm-up timing is returned so it can be stored, not hidden.
        """
        samples: list[int] = []
        block_medians: list[float] = []
        block_calls = 1
        budget_ns = config.warmup_max_s * 1e9
        block_ns = config.warmup_block_s * 1e9
        settled = False
        start = self.clock()
        with gc_paused():
            while True:
                first = len(samples)
                self.time_calls(block_calls, samples)
                block = samples[first:]
                block_medians.append(float(np.median(block)))
                spent_ns = self.clock() - start
                recent = block_medians[-config.warmup_settle_blocks :]
                if len(recent) == config.warmup_settle_blocks:
                    low, high = min(recent), max(recent)
                    if low > 0 and high / low - 1.0 <= config.warmup_settle_tolerance_rel:
                        settled = True
                        break
                if spent_ns >= budget_ns:
                    break
                mean_call_ns = max(sum(block) / len(block), 1.0)
                block_calls = max(1, min(int(block_ns / mean_call_ns), 1_000_000))
        return WarmupResult(
            calls=len(samples),
            duration_s=(self.clock() - start) / 1e9,
            settled=settled,
            samples_ns=np.asarray(samples, dtype=np.int64),
            block_medians_ns=tuple(block_medians),
        )

    def sample(self, config: SamplingConfig, typical_call_ns: float) -> SamplingResult:
        """Sample until the median's CI is within ``ci_target_rel``, or the budget ends.

        The interval is checked about every ``check_every_s`` of sampling, between chunks of calls;
        the check itself is never inside a timed interval.
        """
        samples: list[int] = []
        chunk = max(1, int(config.check_every_s * 1e9 / max(typical_call_ns, 1.0)))
        budget_ns = config.budget_s * 1e9
        half_width = float("inf")
        start = self.clock()
        with gc_paused():
            while True:
                count = min(chunk, config.max_samples - len(samples))
                if len(samples) < config.min_samples:
                    count = max(count, config.min_samples - len(samples))
                self.time_calls(count, samples)
                spent_ns = self.clock() - start
                if len(samples) >= config.min_samples:
                    half_width = median_interval(samples, config.confidence).half_width_rel
                    if half_width <= config.ci_target_rel:
                        reason = STOP_CI_MET
                        break
                if len(samples) >= config.max_samples:
                    reason = STOP_MAX_SAMPLES
                    break
                if spent_ns >= budget_ns:
                    reason = STOP_TIME_BUDGET
                    break
        return SamplingResult(
            samples_ns=np.asarray(samples, dtype=np.int64),
            duration_s=(self.clock() - start) / 1e9,
            stop_reason=reason,
            ci_half_width_rel=half_width,
        )
