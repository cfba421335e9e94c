"""A pull request's verdict in one job: the baseline's code and the candidate's measured side by
side, taking turns, so that the machine's drift lands on both arms alike.

A stored baseline measured hours ago carries the machine's drift into the verdict
(docs/gate.md measures how often a one-run baseline cries wolf on a shared runner). Here the two
arms of every case run in the same job:

* **In rounds** (single-stream, offline: the scenarios a comparison group measures in rounds).
  Each arm's case is held ready in its own worker process, importing that arm's code
  (:mod:`benchsuite.run.code_arms`); the coordinator of comparison groups
  (:func:`benchsuite.run.comparison.run_rounds`) asks them for a round in turn (B C, C B, ...), on
  the same CPUs, in several fresh processes per arm. Latency and energy are paired round by
  round; the candidate/baseline ratio's interval is over the processes
  (:func:`benchsuite.run.pooling.paired_ratios`). An **adaptive stop** ends a case after
  ``min_repeats`` processes per arm once both ratios' intervals lie clear of the allowance, on
  either side.
* **In whole runs** (generation, server, training, endpoints: protocols that do not split into
  short rounds). The arms alternate whole runs, B C C B, as many pairs as ``whole_run_pairs``
  and then the case's time budget allow; each adjacent pair gives a ratio, and the interval is
  over the pairs.

The run's row of a case is the candidate's, with the ``ab_*`` columns: the paired ratios with
their intervals, the baseline's own figures, and how the pairing was done. ``benchsuite gate``
decides on those ratios alone (:mod:`benchsuite.gate.paired`). A case in one arm's suite only is
a skipped row that says which.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchsuite.case import Case
from benchsuite.errors import UsageError
from benchsuite.instruments.carbon import grid_intensity
from benchsuite.instruments.meters import MeterChoice
from benchsuite.instruments.meters.base import MEASURED, EnergyReading
from benchsuite.instruments.rounds import RoundsConfig
from benchsuite.run.affinity import CpuSet
from benchsuite.run.code_arms import BASELINE, CANDIDATE, CodeArm
from benchsuite.run.comparison import CaseRounds, Session, run_rounds
from benchsuite.run.context import RunContext
from benchsuite.run.fingerprint import Fingerprint, capture_fingerprint
from benchsuite.run.one_case import measure_one
from benchsuite.run.pooling import Ratio, drift_of, paired_ratios, pooled_result
from benchsuite.run.rows import CaseOutcome, case_row, now_utc
from benchsuite.run.runner import (
    RunMeters,
    RunObserver,
    RunResult,
    finishing,
    write_outcome,
)
from benchsuite.run.worker import SessionWorker
from benchsuite.scenarios import get_scenario, skip_reason
from benchsuite.store.runs import ResultStore, RunWriter
from benchsuite.store.schema import Status

ARM_TAG = "@"
"""A case's arm, as the coordinator keys it: ``fp32@baseline`` (the variant, tagged). The tag
never reaches a worker nor the store."""


@dataclass(frozen=True)
class AbSettings:
    """How long an A/B run measures each case: the gate's allowances (for the adaptive stop),
    and how many pairs of whole runs the cases not measured in rounds get."""

    latency_allowance_rel: float = 0.05
    energy_allowance_rel: float = 0.05
    min_repeats: int = 3
    """Processes per arm before the adaptive stop may end a case (never fewer than 2: one
    process gives no interval)."""
    adaptive: bool = True
    whole_run_pairs: int = 2
    """Pairs of whole runs (B C, then C B, ...) for a case not measured in rounds, at least."""
    case_budget_s: float = 0.0
    """More pairs of whole runs while a case has used less than this, and its verdict is not yet
    clear (0: the pairs above only)."""

    def __post_init__(self) -> None:
        if self.min_repeats < 2:
            raise ValueError(f"min_repeats must be at least 2, got {self.min_repeats}")
        if self.whole_run_pairs < 1:
            raise ValueError(f"whole_run_pairs must be at least 1, got {self.whole_run_pairs}")


@dataclass(frozen=True)
class AbColumns:
    """A case's A/B columns: the candidate/baseline ratios paired round by round (or run by run),
    the baseline's own figures, and how it was done."""

    baseline: str
    candidate: str
    method: str
    pairs: int
    latency: Ratio | None
    energy: Ratio | None
    baseline_latency_ms: float | None = None
    baseline_energy_j: float | None = None
    baseline_accuracy: float | None = None
    stopped_early: str | None = None

    def columns(self) -> dict[str, Any]:
        columns: dict[str, Any] = {
            "ab_baseline": self.baseline,
            "ab_candidate": self.candidate,
            "ab_method": self.method,
            "ab_pairs": self.pairs,
            "ab_baseline_latency_p50_ms": self.baseline_latency_ms,
            "ab_baseline_energy_per_sample_j": self.baseline_energy_j,
            "ab_baseline_accuracy": self.baseline_accuracy,
            "ab_stopped_early": self.stopped_early,
        }
        for name, ratio in (("latency", self.latency), ("energy", self.energy)):
            if ratio is not None:
                columns.update(
                    {
                        f"ab_{name}_ratio": ratio.value,
                        f"ab_{name}_ratio_low": ratio.low,
                        f"ab_{name}_ratio_high": ratio.high,
                        f"ab_{name}_ratio_resolved": ratio.resolved,
                    }
                )
        return columns


def arm_case(case: Case, arm: str) -> Case:
    """The case as the coordinator keys one arm of it (:data:`ARM_TAG`)."""
    return dataclasses.replace(case, variant=f"{case.variant}{ARM_TAG}{arm}")


def arm_of(tagged: Case) -> tuple[Case, str]:
    """The real case and the arm of a tagged one."""
    variant, arm = tagged.variant.rsplit(ARM_TAG, 1)
    return dataclasses.replace(tagged, variant=variant), arm


def clear_of(ratio: Ratio, allowance_rel: float) -> bool:
    """The ratio's interval lies wholly within the allowance, or wholly beyond it: more
    processes would not change the gate's verdict."""
    limit = 1.0 + allowance_rel
    return ratio.processes > 1 and (ratio.high <= limit or ratio.low > limit)


StartArm = Callable[[str, EnergyReading | None, CpuSet | None], Session]
"""Open one arm's session of a case (a worker process importing that arm's code; in a test, an
object in this process): the arm, the idle reading its first process took, the CPUs."""


def ab_rounds(
    case: Case,
    start: StartArm,
    plan: RoundsConfig,
    settings: AbSettings,
    energy_gated: bool,
    on_start: Callable[[Case], None] = lambda case: None,
) -> tuple[CaseRounds, CaseRounds]:
    """The two arms of ``case`` in rounds, taking turns as ``plan`` says (B C, C B, ...); the
    baseline's and the candidate's rounds. With ``settings.adaptive``, the case stops after
    ``min_repeats`` processes per arm once its ratios are clear of the allowances
    (``energy_gated``: the energy ratio counts too, else latency alone: an estimate is never
    gated)."""
    base_key, cand_key = arm_case(case, BASELINE), arm_case(case, CANDIDATE)

    def stop_early(states: dict[Case, CaseRounds], done: int) -> str | None:
        if not settings.adaptive or done < settings.min_repeats:
            return None
        base, cand = states[base_key], states[cand_key]
        if not (base.ok and cand.ok):
            return None
        ratios = paired_ratios(cand, base, cand.plan or plan)
        if ratios is None:
            return None
        latency, energy = ratios
        if clear_of(latency, settings.latency_allowance_rel) and (
            not energy_gated or clear_of(energy, settings.energy_allowance_rel)
        ):
            return (
                f"stopped after {done} of {plan.repeats} processes per arm: the ratios' "
                "intervals were clear of the allowance"
            )
        return None

    def open_arm(tagged: Case, idle: EnergyReading | None, cpus: CpuSet | None) -> Session:
        return start(arm_of(tagged)[1], idle, cpus)

    states = run_rounds(
        [base_key, cand_key],
        open_arm,
        plan,
        lambda tagged: on_start(arm_of(tagged)[0]),
        stop_early=stop_early,
    )
    return states[base_key], states[cand_key]


def run_ab(
    baseline: CodeArm,
    candidate: CodeArm,
    store: ResultStore,
    settings: AbSettings | None = None,
    observer: RunObserver | None = None,
    meter: str = "auto",
    fingerprint: Fingerprint | None = None,
    **meta: Any,
) -> RunResult:
    """Measure every case of the candidate's suite that the baseline's suite has too, both arms
    side by side, into a new run of ``store``; cases of one suite only are skipped rows. The
    candidate's ``[measure]`` settings apply to both arms."""
    settings = settings or AbSettings()
    arms = {BASELINE: baseline, CANDIDATE: candidate}
    for arm in arms.values():
        arm.suite.check_workloads(arm.workloads)
    base_ids = {case.id: case for case in baseline.suite.cases()}
    cand_ids = {case.id: case for case in candidate.suite.cases()}
    both = [case for case in candidate.suite.cases() if case.id in base_ids]
    if not both:
        raise UsageError(
            f"the baseline's suite ({baseline.suite.source}) and the candidate's "
            f"({candidate.suite.source}) have no case in common: nothing to compare"
        )
    for case in both:
        for arm in arms.values():
            get_scenario(case.scenario).check_case(case, arm.workloads[case.workload])
    alone = [
        (cand_ids[i], f"only in the candidate's suite ({candidate.describe()}): no baseline")
        for i in cand_ids
        if i not in base_ids
    ] + [
        (base_ids[i], f"only in the baseline's suite ({baseline.describe()}): not in the candidate")
        for i in base_ids
        if i not in cand_ids
    ]
    measure = candidate.suite.measure
    context = RunContext(
        candidate.suite.name,
        measure,
        fingerprint or capture_fingerprint(),
        grid_intensity(candidate.suite.carbon_country, candidate.suite.carbon_g_co2e_per_kwh),
        meter,
        True,
    )
    writer = store.start_run(
        candidate.suite.name,
        suite_source=candidate.suite.source,
        cases_planned=len(both) + len(alone),
        hardware_id=context.fingerprint.hardware_id,
        meter=meter,
        ab={
            BASELINE: baseline.as_manifest(),
            CANDIDATE: candidate.as_manifest(),
            "only_in_candidate": [i for i in cand_ids if i not in base_ids],
            "only_in_baseline": [i for i in base_ids if i not in cand_ids],
        },
        **meta,
    )
    with finishing(writer):
        rows = _measure_all(both, alone, arms, context, settings, writer, observer)
    folder = writer.folder if store.location.is_local else writer.where
    return RunResult(writer.run_id, folder, tuple(rows))


def _measure_all(
    both: Sequence[Case],
    alone: Sequence[tuple[Case, str]],
    arms: Mapping[str, CodeArm],
    context: RunContext,
    settings: AbSettings,
    writer: RunWriter,
    observer: RunObserver | None,
) -> list[dict[str, Any]]:
    meters = RunMeters(context.meter)
    rows: list[dict[str, Any]] = []
    total = len(both) + len(alone)
    for case in both:
        if observer is not None:
            observer.case_started(len(rows), total, case)
        context = meters.prepare([case], context)
        outcome = _measure_case(case, arms, context, meters.chosen.get(case.device), settings)
        rows.append(write_outcome(outcome, context, writer))
        if observer is not None:
            observer.case_finished(len(rows) - 1, total, case, rows[-1])
    for case, reason in alone:
        now = now_utc()
        outcome = CaseOutcome(
            case, Status.SKIPPED, now, now, 0.0, error=reason, fingerprint=context.fingerprint
        )
        rows.append(write_outcome(outcome, context, writer))
        if observer is not None:
            observer.case_finished(len(rows) - 1, total, case, rows[-1])
    return rows


def _measure_case(
    case: Case,
    arms: Mapping[str, CodeArm],
    context: RunContext,
    meter: MeterChoice | None,
    settings: AbSettings,
) -> CaseOutcome:
    """One case, both arms: in rounds where its scenario is, else in alternating whole runs."""
    started = now_utc()
    clock = time.perf_counter()
    base = CaseOutcome(
        case,
        Status.SKIPPED,
        started,
        started,
        0.0,
        fingerprint=context.fingerprint,
        meter_note=meter.note if meter is not None else None,
    )
    reason = next(
        (r for arm in arms.values() if (r := skip_reason(case, arm.workloads[case.workload]))),
        None,
    )
    missing = [
        arm.label for arm in arms.values() if case.workload not in arm.origins
    ]  # a workload class defined inside a function cannot be rebuilt in a worker
    if reason is None and missing:
        reason = (
            f"workload {case.workload} cannot be rebuilt in a worker in the "
            f"{' and '.join(missing)}: define its class at the top level of a workload file"
        )
    if reason is not None or meter is None:
        return dataclasses.replace(base, error=reason or "no meter for the device")
    job = _ArmsOfCase(
        case, arms, context, meter, settings, meter.meter.info().kind == MEASURED, base
    )
    ended = _in_rounds(job) if get_scenario(case.scenario).in_rounds else _whole_runs(job)
    return dataclasses.replace(ended, finished_at_utc=now_utc(), wall_s=time.perf_counter() - clock)


@dataclass(frozen=True)
class _ArmsOfCase:
    """One case of an A/B run and what its two arms are measured with."""

    case: Case
    arms: Mapping[str, CodeArm]
    context: RunContext
    meter: MeterChoice
    settings: AbSettings
    energy_gated: bool
    """The meter measures: the energy ratio counts in the adaptive stop (an estimate never)."""
    base: CaseOutcome
    """The case's outcome before it ran (skipped, no error): what it ends as is built on it."""

    def fields(
        self,
    ) -> tuple[Case, Mapping[str, CodeArm], RunContext, MeterChoice, AbSettings, CaseOutcome]:
        return self.case, self.arms, self.context, self.meter, self.settings, self.base


def _in_rounds(job: _ArmsOfCase) -> CaseOutcome:
    """Both arms in interleaved rounds (:func:`ab_rounds`), each in worker processes that
    import its own code; the candidate's pooled result with the paired ratios."""
    case, arms, context, meter, settings, base = job.fields()
    energy = context.measure.energy
    rounds = context.measure.rounds.fitted(
        energy.fewest_windows, energy.window_s, meter.meter.info().resolution_s
    )
    measure = dataclasses.replace(context.measure, rounds=rounds)

    def start(arm: str, idle: EnergyReading | None, cpus: CpuSet | None) -> SessionWorker:
        config = measure
        if idle is not None and measure.idle_for(case.device) is None:
            config = dataclasses.replace(measure, run_idle={case.device: idle})
        origin = arms[arm].origin_of(case.workload)
        return SessionWorker(origin, case, config, meter.meter.source, idle is None, cpus)

    base_rounds, cand_rounds = ab_rounds(case, start, rounds, settings, job.energy_gated)
    for arm, state in ((BASELINE, base_rounds), (CANDIDATE, cand_rounds)):
        if state.skipped is not None:
            return dataclasses.replace(base, error=f"{arm}: {state.skipped}")
        if not state.ok:
            return dataclasses.replace(
                base,
                status=Status.FAILED,
                error=f"{arm}: {state.error}",
                error_traceback=state.error_where,
            )
    drift = drift_of(base_rounds)
    baseline = pooled_result(base_rounds, measure, None, drift)
    result = pooled_result(cand_rounds, measure, None, drift)
    ratios = paired_ratios(cand_rounds, base_rounds, cand_rounds.plan or rounds)
    plan = cand_rounds.plan or rounds
    processes = len({repeat for repeat, _ in cand_rounds.rounds})
    columns = AbColumns(
        arms[BASELINE].describe(),
        arms[CANDIDATE].describe(),
        f"interleaved rounds: {processes} processes per arm x {plan.rounds} rounds, "
        "B C then C B, on the same CPUs; ratios paired round by round",
        processes,
        ratios[0] if ratios else None,
        ratios[1] if ratios else None,
        baseline.latency.summary.median.median * 1e-6 if baseline.latency else None,
        baseline.energy.energy_per_sample_j if baseline.energy else None,
        baseline.quality.values.get("accuracy") if baseline.quality else None,
        cand_rounds.stopped_early,
    )
    result = dataclasses.replace(result, case=case, extra=(*result.extra, columns))
    return dataclasses.replace(base, status=Status.OK, error=None, result=result)


def _figures(case: Case, row: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The time and energy columns a whole run's ratio is taken on: the median latency where
    the scenario has one (else its first time figure), and its first energy figure."""
    metrics = get_scenario(case.scenario).metrics
    energies = [m.column for m in metrics if m.needs_measured_energy]
    times = [
        m.column
        for m in metrics
        if m.lower_is_better and not m.needs_measured_energy and m.column != "peak_rss_bytes"
    ]
    if "latency_p50_ms" in times:
        times.insert(0, "latency_p50_ms")
    time_column = next((c for c in times if row.get(c) is not None), None)
    energy_column = next((c for c in energies if row.get(c) is not None), None)
    return time_column, energy_column


def _whole_runs(job: _ArmsOfCase) -> CaseOutcome:
    """Whole runs, alternating B C, C B, ...: ``whole_run_pairs`` pairs, then more while the
    case is under ``case_budget_s`` and its ratios not yet clear of the allowances."""
    case, arms, context, meter, settings, base = job.fields()
    clock = time.perf_counter()
    pairs: list[tuple[CaseOutcome, CaseOutcome]] = []  # (baseline, candidate)
    order: list[str] = []
    while True:
        index = len(pairs)
        sequence = (BASELINE, CANDIDATE) if index % 2 == 0 else (CANDIDATE, BASELINE)
        ran: dict[str, CaseOutcome] = {}
        for arm in sequence:
            origin = arms[arm].origin_of(case.workload)
            workload = arms[arm].workloads[case.workload]
            ran[arm] = measure_one(case, workload, context, meter, origin)
            order.append("B" if arm == BASELINE else "C")
            if ran[arm].status != Status.OK:
                return dataclasses.replace(
                    ran[arm], error=f"{arm}: {ran[arm].error}", meter_note=base.meter_note
                )
        pairs.append((ran[BASELINE], ran[CANDIDATE]))
        latency, energy, _, _ = _pair_ratios(case, pairs, context)
        spent = time.perf_counter() - clock
        if len(pairs) < settings.whole_run_pairs:
            continue
        clear = (
            latency is not None
            and clear_of(latency, settings.latency_allowance_rel)
            and (
                not job.energy_gated
                or energy is None
                or clear_of(energy, settings.energy_allowance_rel)
            )
        )
        per_pair = spent / len(pairs)
        if clear or spent + per_pair > settings.case_budget_s:
            break
    latency, energy, time_column, energy_column = _pair_ratios(case, pairs, context)
    last = pairs[-1][1]
    assert last.result is not None
    base_row = case_row(pairs[-1][0], context)
    columns = AbColumns(
        arms[BASELINE].describe(),
        arms[CANDIDATE].describe(),
        f"alternating whole runs: {' '.join(order)} ({len(pairs)} pairs; {case.scenario} does "
        f"not split into rounds); ratios of {time_column or 'no time figure'} and "
        f"{energy_column or 'no energy figure'}, pair by pair",
        len(pairs),
        latency,
        energy,
        base_row.get("latency_p50_ms"),
        base_row.get("energy_per_sample_j"),
        base_row.get("accuracy"),
    )
    result = dataclasses.replace(last.result, extra=(*last.result.extra, columns))
    return dataclasses.replace(
        last, result=result, started_at_utc=base.started_at_utc, meter_note=base.meter_note
    )


def _pair_ratios(
    case: Case, pairs: Sequence[tuple[CaseOutcome, CaseOutcome]], context: RunContext
) -> tuple[Ratio | None, Ratio | None, str | None, str | None]:
    """Each pair's candidate/baseline ratio of the time and energy figures, and their
    intervals over the pairs (the run-to-run floor does not apply: the pairs are adjacent)."""
    rows = [(case_row(b, context), case_row(c, context)) for b, c in pairs]
    time_column, energy_column = _figures(case, rows[-1][1])
    plan = context.measure.rounds
    ratios: list[Ratio | None] = []
    for column in (time_column, energy_column):
        values = [
            float(c[column]) / float(b[column])
            for b, c in rows
            if column is not None and b.get(column) and c.get(column)
        ]
        usable = [v for v in values if np.isfinite(v) and v > 0]
        ratios.append(Ratio.of(usable, len(usable), plan.resolution_rel, 0.0) if usable else None)
    return ratios[0], ratios[1], time_column, energy_column
