"""A comparison group's rounds turned into figures: each case's latency and energy pooled over
all its rounds and processes, with intervals over the processes (the unit a re-run repeats);
the paired ratio to the reference, per round, then per process; the reference's drift over the
group's time.

The rounds come from :func:`benchsuite.run.comparison.run_rounds`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchsuite.instruments.config import MeasureConfig
from benchsuite.instruments.energy import ADAPTIVE_MIN_WINDOWS, MIN_WINDOW_S, summarize_windows
from benchsuite.instruments.rounds import RoundResult, RoundsConfig
from benchsuite.instruments.stats import process_interval
from benchsuite.instruments.timing import SamplingResult
from benchsuite.results import CaseResult, LatencyResult, MemoryResult
from benchsuite.run.affinity import describe
from benchsuite.run.comparison import REFERENCE_VARIANT, CaseRounds, group_id

DRIFT_WARN_REL = 0.05
"""A reference that moved more than this between its first and last rounds is warned about."""


@dataclass(frozen=True)
class Ratio:
    """A paired ratio to the reference with its interval over processes, and whether that
    interval is narrow enough to state the ratio as a figure (``resolved``)."""

    value: float
    low: float
    high: float
    method: str
    processes: int
    resolved: bool

    @classmethod
    def of(
        cls, by_process: Sequence[float], rounds: int, resolution_rel: float, floor_rel: float
    ) -> Ratio:
        """From each process's own ratio (the median of its paired rounds): a t-interval over
        the processes (:func:`process_interval`), with the run-to-run floor ``floor_rel`` added
        in quadrature. Rounds cancel drift inside a process; the processes carry most of what a
        re-run would see; the floor, what all processes of one run share. One process gives no
        interval and is never resolved."""
        interval = process_interval(by_process, floor_rel=floor_rel)
        resolved = interval.processes > 1 and interval.half_width_rel <= resolution_rel
        method = f"{rounds} paired rounds; {interval.method}"
        if floor_rel > 0:
            method += f", with a ±{floor_rel:.1%} run-to-run floor in quadrature"
        if not resolved:
            method += (
                f"; unresolved: the interval reaches further than ±{resolution_rel:.0%}"
                if interval.processes > 1
                else "; unresolved: one process gives no spread between processes"
            )
        return cls(
            interval.centre, interval.low, interval.high, method, interval.processes, resolved
        )


def _pairs(
    state: CaseRounds, reference: CaseRounds
) -> Iterator[tuple[int, RoundResult, RoundResult]]:
    theirs = {(repeat, result.index): result for repeat, result in reference.rounds}
    for repeat, result in state.rounds:
        other = theirs.get((repeat, result.index))
        if other is not None:
            yield repeat, result, other


def paired_ratios(
    state: CaseRounds, reference: CaseRounds, plan: RoundsConfig | None = None
) -> tuple[Ratio, Ratio] | None:
    """Latency and energy per sample over the reference's: round by round (energy in the
    rounds with a window), the median of each process's rounds, then the interval over the
    processes; ``None`` without a shared round."""
    plan = plan or RoundsConfig()
    pairs = list(_pairs(state, reference))
    windowed = [pair for pair in pairs if pair[1].window is not None and pair[2].window is not None]
    if not pairs or not windowed:
        return None
    ratios = []
    for figure, paired in (
        (lambda result: result.latency_median_ns, pairs),
        (lambda result: result.energy_per_sample_j, windowed),
    ):
        values = [(repeat, figure(mine) / figure(theirs)) for repeat, mine, theirs in paired]
        repeats = sorted({repeat for repeat, _ in values})
        by_process = [float(np.median([v for r, v in values if r == k])) for k in repeats]
        ratios.append(Ratio.of(by_process, len(values), plan.resolution_rel, plan.floor_rel))
    return ratios[0], ratios[1]


def relative_change(values: Sequence[float]) -> float:
    """How far a series in time order moved: the median of its last third against the median of
    its first third, relative to the median of all. A single noisy round moves neither median;
    the range of short rounds would report their noise as drift."""
    third = max(1, len(values) // 3)
    median = float(np.median(values))
    if median <= 0:
        return float("inf")
    return (float(np.median(values[-third:])) - float(np.median(values[:third]))) / median


@dataclass(frozen=True)
class Drift:
    """How far the group's reference moved from its first rounds to its last, signed."""

    reference: str
    latency_rel: float
    energy_rel: float
    rounds: int
    span_s: float
    """From the reference's first round to its last."""

    @property
    def warning(self) -> bool:
        return max(abs(self.latency_rel), abs(self.energy_rel)) > DRIFT_WARN_REL

    def as_manifest(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "latency_change_rel": self.latency_rel,
            "energy_change_rel": self.energy_rel,
            "rounds": self.rounds,
            "span_s": self.span_s,
            "warning": self.warning,
        }


def drift_of(reference: CaseRounds) -> Drift | None:
    """The reference's drift over its rounds, in the order they ran (``None`` under 3)."""
    if len(reference.rounds) < 3:
        return None
    rounds = [result for _, result in reference.rounds]
    windowed = [result for result in rounds if result.window is not None]
    return Drift(
        reference.case.id,
        relative_change([result.latency_median_ns for result in rounds]),
        relative_change([result.energy_per_sample_j for result in windowed])
        if len(windowed) >= 2
        else 0.0,  # one window: nothing to compare it with
        len(rounds),
        (rounds[-1].started_ns - rounds[0].started_ns) / 1e9,
    )


def reference_of(states: Sequence[CaseRounds]) -> CaseRounds | None:
    """The group's fp32 case when it was measured, else its first measured case (its drift
    is still worth knowing; there is then no ratio to fp32)."""
    measured = [state for state in states if state.ok and state.rounds]
    for state in measured:
        if state.case.variant == REFERENCE_VARIANT:
            return state
    return measured[0] if measured else None


@dataclass(frozen=True)
class RoundsColumns:
    """The columns that say how a case was spread over rounds and processes, the intervals
    that include the spread between processes, and the paired ratio to the reference. Added
    last to the case's parts, so its intervals replace those of the pooled samples."""

    group: str
    reference: str | None
    order: str
    repeats: int
    rounds: int
    cpus: str | None
    latency_low_ms: float
    latency_high_ms: float
    latency_half_width_rel: float
    latency_method: str
    energy_low_j: float | None
    energy_high_j: float | None
    energy_method: str | None
    ratios: tuple[Ratio, Ratio] | None
    drift: Drift | None

    def columns(self) -> dict[str, Any]:
        columns: dict[str, Any] = {
            "comparison_group": self.group,
            "comparison_reference": self.reference,
            "measure_order": self.order,
            "repeats": self.repeats,
            "rounds": self.rounds,
            "pinned_cpus": self.cpus,
            "latency_p50_ci_low_ms": self.latency_low_ms,
            "latency_p50_ci_high_ms": self.latency_high_ms,
            "ci_half_width_rel": self.latency_half_width_rel,
            "latency_interval_method": self.latency_method,
            "group_drift_latency_rel": self.drift.latency_rel if self.drift else None,
            "group_drift_energy_rel": self.drift.energy_rel if self.drift else None,
        }
        if self.energy_low_j is not None:
            columns.update(
                energy_per_sample_low_j=self.energy_low_j,
                energy_per_sample_high_j=self.energy_high_j,
                energy_interval_method=self.energy_method,
            )
        if self.ratios is not None:
            latency, energy = self.ratios
            method = latency.method
            if energy.method != latency.method:  # fewer windows than rounds: a coarse meter
                method = f"latency: {latency.method}; energy: {energy.method}"
            columns.update(
                latency_ratio=latency.value,
                latency_ratio_low=latency.low,
                latency_ratio_high=latency.high,
                latency_ratio_resolved=latency.resolved,
                energy_ratio=energy.value,
                energy_ratio_low=energy.low,
                energy_ratio_high=energy.high,
                energy_ratio_resolved=energy.resolved,
                ratio_processes=latency.processes,
                ratio_interval_method=method,
            )
        return columns


def _process_medians(state: CaseRounds, value: Callable[[list[RoundResult]], float]) -> list[float]:
    by_process: dict[int, list[RoundResult]] = {}
    for repeat, result in state.rounds:
        by_process.setdefault(repeat, []).append(result)
    return [value(results) for results in by_process.values()]


def _over_processes(
    point: float, per_process: list[float], within: tuple[float, float], within_method: str
) -> tuple[float, float, str]:
    """An absolute figure's interval: over its processes' own figures where there are several
    (stretched to take in the pooled ``point``), else the one process's own interval, which
    says that a re-run's spread is not in it."""
    usable = [value for value in per_process if np.isfinite(value) and value > 0]
    if len(usable) > 1:
        interval = process_interval(usable)
        return min(interval.low, point), max(interval.high, point), interval.method
    return (
        within[0],
        within[1],
        f"{within_method}, within one process: a re-run's spread is not in it",
    )


def pooled_result(
    state: CaseRounds,
    config: MeasureConfig,
    reference: CaseRounds | None,
    drift: Drift | None,
) -> CaseResult:
    """The case's result from all its rounds in all its processes.

    Latency pools every timed call; energy every window. Each interval is over the processes'
    own medians (:func:`process_interval`): the process is what a re-run repeats, so the spread
    between processes is in it, not only the noise of one burst of calls.
    """
    case, rounds = state.case, [result for _, result in state.rounds]
    first = state.sessions[0]
    plan = state.plan or config.rounds
    samples = np.concatenate([result.latency_ns for result in rounds])
    sampling = SamplingResult(
        samples_ns=samples,
        duration_s=float(samples.sum()) / 1e9,
        stop_reason=f"rounds: {plan.describe()}",
        ci_half_width_rel=float("nan"),
    )
    latency = LatencyResult(
        sampling, case.batch_size, None, config.sampling.confidence, first.warmup
    )
    processes = len({repeat for repeat, _ in state.rounds})
    latency_process = _process_medians(
        state, lambda rs: float(np.median(np.concatenate([r.latency_ns for r in rs])))
    )
    median_ns = latency.summary.median.median
    low_ns, high_ns, latency_method = _over_processes(
        median_ns,
        latency_process,
        (latency.summary.median.low, latency.summary.median.high),
        f"95% CI of the median of {samples.size} calls",
    )
    windows = tuple(
        dataclasses.replace(window, index=k)
        for k, window in enumerate(r.window for r in rounds if r.window is not None)
    )
    per_round = "per round"
    if plan.windows_per_process < plan.rounds:
        per_round = f"in {plan.windows_per_process} of each process's {plan.rounds} rounds"
    energy = summarize_windows(
        first.idle,
        windows,
        first.window_s,
        ADAPTIVE_MIN_WINDOWS,
        stop_reason=f"one window of {first.window_s:.3g} s {per_round}: {plan.describe()}",
        min_total_s=config.energy.fewest_windows * MIN_WINDOW_S,
    )
    energy_process = _process_medians(
        state,
        lambda rs: float(np.median([r.energy_per_sample_j for r in rs if r.window is not None])),
    )
    energy_low, energy_high, energy_method = _over_processes(
        energy.energy_per_sample_j,
        energy_process,
        (energy.energy_per_sample_low_j, energy.energy_per_sample_high_j),
        energy.interval_method,
    )
    ratios = None
    fp32 = (
        reference if reference is not None and reference.case.variant == REFERENCE_VARIANT else None
    )
    if config.rounds.interleave and fp32 is not None:
        if fp32.case == case:
            itself = Ratio(1.0, 1.0, 1.0, "the reference itself", processes, True)
            ratios = (itself, itself)
        else:
            ratios = paired_ratios(state, fp32, plan)
    parts = RoundsColumns(
        group=group_id(case),
        reference=reference.case.id if reference is not None else None,
        order="interleaved" if config.rounds.interleave else "back to back",
        repeats=processes,
        rounds=plan.rounds,
        cpus=describe(state.cpus),
        latency_low_ms=low_ns * 1e-6,
        latency_high_ms=high_ns * 1e-6,
        latency_half_width_rel=max(median_ns - low_ns, high_ns - median_ns) / median_ns,
        latency_method=f"{latency_method}; median of {samples.size} calls",
        energy_low_j=energy_low,
        energy_high_j=energy_high,
        energy_method=energy_method,
        ratios=ratios,
        drift=drift,
    )
    memory = MemoryResult(
        max(s.memory.peak_rss_bytes for s in state.sessions),
        all(s.memory.peak_rss_reset for s in state.sessions),
        _max_or_none([s.memory.device_peak_allocated_bytes for s in state.sessions]),
    )
    extra = (first.source, parts) if first.source is not None else (parts,)
    return CaseResult(
        case,
        model=first.model,
        quality=first.quality,
        latency=latency,
        energy=energy,
        memory=memory,
        extra=extra,
    )


def _max_or_none(values: list[int | None]) -> int | None:
    known = [value for value in values if value is not None]
    return max(known) if known else None
