"""Runs a suite: expands its cases, measures each, and writes every row as soon as it is known.

A case that cannot run here (no such device, a variant that does not support the device) is a
``skipped`` row with the reason; a case that raises is a ``failed`` row with the error; the run
goes on either way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from benchsuite.case import Case
from benchsuite.errors import RunInterrupted, UsageError
from benchsuite.instruments.carbon import grid_intensity
from benchsuite.instruments.energy import idle_drift, read_idle, run_level_idle
from benchsuite.instruments.meters import MeterChoice, choose_meter
from benchsuite.run.comparison import comparison_groups, group_id
from benchsuite.run.context import RunContext
from benchsuite.run.fingerprint import Fingerprint, capture_fingerprint
from benchsuite.run.fleet.job import CaseJob
from benchsuite.run.fleet.shard import Shard
from benchsuite.run.one_case import measure_group, measure_one
from benchsuite.run.pooling import DRIFT_WARN_REL, Drift
from benchsuite.run.rows import CaseOutcome, case_row
from benchsuite.run.worker import workload_origin
from benchsuite.scenarios import get_scenario, skip_reason
from benchsuite.store.runs import ResultStore, RunWriter
from benchsuite.store.schema import Status
from benchsuite.suites.load import Suite
from benchsuite.workload.base import Workload


class RunObserver(Protocol):
    """Told about progress; the CLI draws a progress bar with it. Library code never prints."""

    def case_started(self, index: int, total: int, case: Case) -> None: ...

    def case_finished(self, index: int, total: int, case: Case, row: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class RunResult:
    run_id: str
    folder: Path | str
    """The run's folder (a local store) or URI (an object store)."""
    rows: tuple[Mapping[str, Any], ...]
    group_drift: Mapping[str, Drift] = field(default_factory=dict)
    """How far each comparison group's reference moved over its rounds, by group id."""
    idle_drift: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """How far idle power moved between the run's start and end, by device."""

    def count(self, status: str) -> int:
        return sum(1 for row in self.rows if row["status"] == status)

    def warnings(self) -> tuple[str, ...]:
        """What a person should know before trusting the run's absolute figures (the manifest
        keeps the same readings for the report)."""
        idle = [
            _idle_warning(device, moved)
            for device, moved in sorted(self.idle_drift.items())
            if moved.get("idle_drift_warning")
        ]
        groups = [
            _drift_warning(group, drift)
            for group, drift in sorted(self.group_drift.items())
            if drift.warning
        ]
        return (*idle, *groups)


def _idle_warning(device: str, moved: Mapping[str, Any]) -> str:
    return (
        f"energy: warning: idle power on {device} moved {moved['idle_drift_rel']:+.0%} "
        f"during the run ({moved['idle_power_start_w']:.3g} W at the start, "
        f"{moved['idle_power_end_w']:.3g} W at the end): net energy figures rest on the "
        "first reading"
    )


def _drift_warning(group: str, drift: Drift) -> str:
    return (
        f"drift: warning: {group}: the reference {drift.reference} moved "
        f"{drift.latency_rel:+.1%} in latency and {drift.energy_rel:+.1%} in energy per sample "
        f"from its first rounds to its last ({drift.span_s:.0f} s apart; warning above "
        f"{DRIFT_WARN_REL:.0%}): ratios to fp32 are paired round by round, the absolute "
        "figures carry the movement"
    )


class Executor(Protocol):
    """Measures a list of cases somewhere else (a Ray cluster: :mod:`benchsuite.run.fleet`);
    each case's row is written to the store where it was measured, and returned here."""

    name: str

    def run(
        self, jobs: Sequence[CaseJob], observer: RunObserver | None
    ) -> Sequence[Mapping[str, Any]]: ...


def run_suite(
    suite: Suite,
    workloads: Mapping[str, Workload],
    store: ResultStore,
    observer: RunObserver | None = None,
    fingerprint: Fingerprint | None = None,
    meter: str = "auto",
    isolate: bool = True,
    resume: str | None = None,
    retry_failed: bool = False,
    shard: Shard | None = None,
    executor: Executor | None = None,
    **meta: Any,
) -> RunResult:
    """Measure every case of ``suite`` into a new run of ``store`` (``meter``: see
    :func:`benchsuite.instruments.meters.choose_meter`).

    With ``isolate`` each case runs in its own worker process (:mod:`benchsuite.run.worker`);
    without it, in this process (for debugging). ``resume`` continues an earlier run of the same
    suite: only its missing cases are measured (with ``retry_failed``, its failed ones too),
    into the same run. ``shard`` measures only its
    share of the suite; ``executor`` measures the cases elsewhere (a Ray cluster), one worker
    process per case there too. ``meta`` goes into the manifest.
    """
    suite.check_workloads(workloads)
    every_case = suite.cases()
    cases = shard.select(every_case) if shard is not None else every_case
    for case in cases:  # a case that makes no sense is bad input: refused before measuring
        get_scenario(case.scenario).check_case(case, workloads[case.workload])
    context = RunContext(
        suite.name,
        suite.measure,
        fingerprint or capture_fingerprint(),
        grid_intensity(suite.carbon_country, suite.carbon_g_co2e_per_kwh),
        meter,
        isolate,
    )
    if shard is not None:
        meta["shard"] = shard.label
    if executor is not None:
        meta["executor"] = executor.name
    if suite.label_reference is not None:
        meta["label_reference"] = suite.label_reference
    if resume is None:
        writer = store.start_run(
            suite.name,
            suite_source=suite.source,
            cases_planned=len(cases),
            hardware_id=context.fingerprint.hardware_id,
            meter=meter,
            **meta,
        )
    else:
        writer = store.resume_run(resume, suite.name)
        written = store.read_cases([resume], columns=["case_id", "status"])
        if retry_failed:  # a failed case is measured again; its new row is the one read
            written = written[written["status"] != Status.FAILED]
        done = set(written["case_id"])
        cases = [case for case in cases if case.id not in done]
    with finishing(writer):
        if executor is None:
            result = _run_here(cases, workloads, context, writer, observer)
        else:
            positions = {case.id: k for k, case in enumerate(every_case, start=1)}
            jobs = [
                _job(case, positions[case.id], workloads[case.workload], context, store, writer)
                for case in cases
            ]
            result = RunResult(writer.run_id, "", tuple(executor.run(jobs, observer)))
    folder = writer.folder if store.location.is_local else writer.where
    return dataclasses.replace(result, folder=folder)


@contextlib.contextmanager
def finishing(writer: RunWriter) -> Iterator[None]:
    """Mark the run ``complete`` when the block ends, or ``interrupted`` when it does not: on
    Ctrl-C (or SIGTERM) with :class:`RunInterrupted`, which names the run to resume."""
    state = "interrupted"
    try:
        yield
        state = "complete"
    except KeyboardInterrupt:
        raise RunInterrupted(writer.run_id) from None
    finally:
        writer.finish(state)


def _units(
    cases: Sequence[Case],
    workloads: Mapping[str, Workload],
    context: RunContext,
) -> list[tuple[list[Case], bool]]:
    """The order of measurement: comparison groups measured in rounds (each where its first case
    stands in the suite; ``True``), every other case alone, in one go (``False``)."""
    in_rounds = [
        case
        for case in cases
        if not context.measure.rounds.legacy
        and context.isolate
        and get_scenario(case.scenario).in_rounds
        and workload_origin(workloads[case.workload]) is not None
    ]
    groups = {group[0]: group for group in comparison_groups(in_rounds)}
    units: list[tuple[list[Case], bool]] = []
    for case in cases:
        if case in groups:
            units.append((groups[case], True))
        elif case not in in_rounds:
            units.append(([case], False))
    return units


class RunMeters:
    """The meter of each device the run uses, chosen when its first case comes; a meter that
    reads the whole machine also reads the run's idle power then, once."""

    def __init__(self, requested: str) -> None:
        self.requested = requested
        self.chosen: dict[str, MeterChoice] = {}

    def prepare(self, cases: Sequence[Case], context: RunContext) -> RunContext:
        for case in cases:
            if case.device not in self.chosen and skip_reason(case) is None:
                self.chosen[case.device] = choose_meter(case.device, self.requested)
                meter = self.chosen[case.device].meter
                idle = run_level_idle(meter, context.measure.energy.idle_s)
                if idle is not None:  # once for the run on this device, not once per case
                    context = context.with_run_idle(case.device, idle)
        return context

    def closing_idle(self, context: RunContext) -> dict[str, dict[str, Any]]:
        """Idle power read again at the run's end: did it move?"""
        moved: dict[str, dict[str, Any]] = {}
        for device, first_idle in context.measure.run_idle.items():
            try:
                last = read_idle(self.chosen[device].meter, context.measure.energy.idle_s)
                moved[device] = dict(idle_drift(first_idle, last))
            except Exception as error:  # a check after the run must not lose what it measured
                moved[device] = {
                    "error": f"the closing idle reading failed: {type(error).__name__}: {error}"
                }
        return moved


def _run_here(
    cases: Sequence[Case],
    workloads: Mapping[str, Workload],
    context: RunContext,
    writer: RunWriter,
    observer: RunObserver | None,
) -> RunResult:
    """Measure ``cases`` on this machine, group by group, writing each case as it finishes."""
    meters = RunMeters(context.meter)
    rows: list[Mapping[str, Any]] = []
    group_drift: dict[str, Drift] = {}
    started = 0

    def on_start(case: Case) -> None:
        nonlocal started
        if observer is not None:
            observer.case_started(started, len(cases), case)
        started += 1

    for unit, in_rounds in _units(cases, workloads, context):
        context = meters.prepare(unit, context)
        first = unit[0]
        workload, meter = workloads[first.workload], meters.chosen.get(first.device)
        if in_rounds:
            group = measure_group(unit, workload, context, meter, on_start)
            outcomes = group.outcomes
            if group.drift is not None:
                group_drift[group_id(first)] = group.drift
                writer.manifest.setdefault("drift", {})[group_id(first)] = group.drift.as_manifest()
        else:
            on_start(first)
            outcomes = (measure_one(first, workload, context, meter),)
        for outcome in outcomes:
            row = write_outcome(outcome, context, writer)
            rows.append(row)
            if observer is not None:
                observer.case_finished(len(rows) - 1, len(cases), outcome.case, row)
    idle_moved = meters.closing_idle(context)
    if idle_moved:
        writer.manifest["idle_drift"] = idle_moved
    return RunResult(writer.run_id, writer.folder, tuple(rows), group_drift, idle_moved)


def write_outcome(outcome: CaseOutcome, context: RunContext, writer: RunWriter) -> dict[str, Any]:
    """Write the row of ``outcome``, with its raw samples and energy windows; the row."""
    row = case_row(outcome, context)
    result = outcome.result
    writer.add_case(
        row,
        result.samples_table() if result else None,
        result.energy_window_rows() if result else (),
    )
    return row


def _job(
    case: Case,
    position: int,
    workload: Workload,
    context: RunContext,
    store: ResultStore,
    writer: RunWriter,
) -> CaseJob:
    origin = workload_origin(workload)
    if origin is None:
        raise UsageError(
            f"workload {case.workload}: a class defined inside a function cannot be rebuilt "
            "on another node; define it at the top level of a workload file"
        )
    return CaseJob(
        case,
        position,
        origin,
        context,
        store.location.display(),
        writer.run_id,
        {k: v for k, v in os.environ.items() if k.startswith("BENCHSUITE_")},
    )
