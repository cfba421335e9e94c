"""Runs a suite: expands its cases, measures each, and writes every row as soon as it is known.

A case that cannot run here (no such device, a variant that does not support the device) is a
``skipped`` row with the reason; a case that raises is a ``failed`` row with the error; the run
goes on either way.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from benchsuite.case import Case
from benchsuite.errors import RunInterrupted, UsageError
from benchsuite.instruments.carbon import GridIntensity, grid_intensity
from benchsuite.instruments.energy import idle_drift, read_idle, run_level_idle
from benchsuite.instruments.meters import MeterChoice, choose_meter
from benchsuite.run.comparison import comparison_groups, group_id
from benchsuite.run.fingerprint import Fingerprint, capture_fingerprint
from benchsuite.run.fleet.job import CaseJob
from benchsuite.run.fleet.shard import Shard
from benchsuite.run.one_case import measure_group, measure_one
from benchsuite.run.worker import workload_origin
from benchsuite.scenarios import get_scenario, skip_reason
from benchsuite.scenarios.steps import MeasureConfig
from benchsuite.store.runs import ResultStore, RunWriter
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

    def count(self, status: str) -> int:
        return sum(1 for row in self.rows if row["status"] == status)


class Executor(Protocol):
    """Measures a list of cases somewhere else (a Ray cluster: :mod:`benchsuite.run.fleet`); each
    case's row is written to the store where it was measured, and returned here."""

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
    shard: Shard | None = None,
    executor: Executor | None = None,
    **meta: Any,
) -> RunResult:
    """Measure every case of ``suite`` into a new run of ``store`` (``meter``: see
    :func:`benchsuite.instruments.meters.choose_meter`).

    With ``isolate`` each case runs in its own worker process (:mod:`benchsuite.run.worker`);
    without it, in this process (for debugging). ``resume`` continues an earlier run of the same
    suite: only its missing cases are measured, into the same run. ``shard`` measures only its
    share of the suite; ``executor`` measures the cases elsewhere (a Ray cluster), one worker
    process per case there too. ``meta`` goes into the manifest.
    """
    suite.check_workloads(workloads)
    every_case = suite.cases()
    cases = shard.select(every_case) if shard is not None else every_case
    for case in cases:  # a case that makes no sense is bad input: refused before measuring
        get_scenario(case.scenario).check_case(case, workloads[case.workload])
    grid = grid_intensity(suite.carbon_country, suite.carbon_g_co2e_per_kwh)
    fingerprint = fingerprint or capture_fingerprint()
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
            hardware_id=fingerprint.hardware_id,
            meter=meter,
            **meta,
        )
    else:
        writer = store.resume_run(resume, suite.name)
        done = set(store.read_cases([resume], columns=["case_id"])["case_id"])
        cases = [case for case in cases if case.id not in done]
    state = "interrupted"
    try:
        if executor is None:
            rows = _run_here(
                cases, workloads, suite, fingerprint, meter, grid, isolate, writer, observer
            )
        else:
            positions = {case.id: k for k, case in enumerate(every_case, start=1)}
            jobs = [
                _job(
                    case,
                    positions[case.id],
                    workloads[case.workload],
                    suite,
                    meter,
                    grid,
                    store,
                    writer.run_id,
                    fingerprint,
                )
                for case in cases
            ]
            rows = executor.run(jobs, observer)
        state = "complete"
    except KeyboardInterrupt:
        raise RunInterrupted(writer.run_id) from None
    finally:
        writer.finish(state)
    folder = writer.folder if store.location.is_local else writer.where
    return RunResult(writer.run_id, folder, tuple(rows))


def _units(
    cases: Sequence[Case],
    workloads: Mapping[str, Workload],
    measure: MeasureConfig,
    isolate: bool,
) -> list[tuple[list[Case], bool]]:
    """The order of measurement: comparison groups measured in rounds (each where its first case
    stands in the suite; ``True``), every other case alone, in one go (``False``)."""
    in_rounds = [
        case
        for case in cases
        if not measure.rounds.legacy
        and isolate
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


def _run_here(
    cases: Sequence[Case],
    workloads: Mapping[str, Workload],
    suite: Suite,
    fingerprint: Fingerprint,
    meter: str,
    grid: GridIntensity,
    isolate: bool,
    writer: RunWriter,
    observer: RunObserver | None,
) -> Sequence[Mapping[str, Any]]:
    """Measure ``cases`` on this machine, group by group, writing each case as it finishes."""
    meters: dict[str, MeterChoice] = {}
    measure = suite.measure
    rows: list[Mapping[str, Any]] = []
    started = 0
    for unit, in_rounds in _units(cases, workloads, measure, isolate):
        for case in unit:
            if case.device not in meters and skip_reason(case) is None:
                meters[case.device] = choose_meter(case.device, meter)
                idle = run_level_idle(meters[case.device].meter, measure.energy.idle_s)
                if idle is not None:  # once for the run on this device, not once per case
                    measure = dataclasses.replace(
                        measure, run_idle={**measure.run_idle, case.device: idle}
                    )

        def on_start(case: Case) -> None:
            nonlocal started
            if observer is not None:
                observer.case_started(started, len(cases), case)
            started += 1

        first = unit[0]
        workload = workloads[first.workload]
        if in_rounds:
            measured, drift = measure_group(
                unit,
                workload,
                suite.name,
                measure,
                fingerprint,
                meters.get(first.device),
                grid,
                on_start,
            )
            if drift is not None:
                writer.manifest.setdefault("drift", {})[group_id(first)] = drift.as_manifest()
        else:
            on_start(first)
            measured = [
                measure_one(
                    first,
                    workload,
                    suite.name,
                    measure,
                    fingerprint,
                    meters.get(first.device),
                    grid,
                    isolate,
                )
            ]
        for row, result in measured:
            writer.add_case(
                row,
                result.samples_table() if result else None,
                result.energy_window_rows() if result else (),
            )
            rows.append(row)
            if observer is not None:
                case = next(case for case in unit if case.id == row["case_id"])
                observer.case_finished(len(rows) - 1, len(cases), case, row)
    for device, first_idle in measure.run_idle.items():  # read again: did the idle move?
        drift_reading: dict[str, Any]
        try:
            drift_reading = idle_drift(
                first_idle, read_idle(meters[device].meter, measure.energy.idle_s)
            )
        except Exception as error:  # a check after the run must not lose what it measured
            drift_reading = {
                "error": f"the closing idle reading failed: {type(error).__name__}: {error}"
            }
        writer.manifest.setdefault("idle_drift", {})[device] = drift_reading
    return rows


def _job(
    case: Case,
    position: int,
    workload: Workload,
    suite: Suite,
    meter: str,
    grid: GridIntensity,
    store: ResultStore,
    run_id: str,
    fingerprint: Fingerprint,
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
        suite.name,
        suite.measure,
        meter,
        grid,
        store.location.display(),
        run_id,
        {k: v for k, v in os.environ.items() if k.startswith("BENCHSUITE_")},
        fingerprint.git_commit,
        fingerprint.git_dirty,
    )
