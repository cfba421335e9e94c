"""Runs a suite: expands its cases, measures each, and writes every row as soon as it is known.

A case that cannot run here (no such device, a variant that does not support the device) is a
``skipped`` row with the reason; a case that raises is a ``failed`` row with the error; the run
goes on either way.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from benchsuite.carbon import GridIntensity, carbon_columns, grid_intensity
from benchsuite.case import Case
from benchsuite.environment import Fingerprint, capture_fingerprint
from benchsuite.errors import RunInterrupted, VariantUnavailable
from benchsuite.meters import MeterChoice, choose_meter
from benchsuite.results import CaseResult
from benchsuite.scenarios import get_scenario, run_case, skip_reason
from benchsuite.schema import STATUS_FAILED, STATUS_OK, STATUS_SKIPPED
from benchsuite.store import ResultStore
from benchsuite.suite import Suite
from benchsuite.worker import run_in_worker, workload_origin
from benchsuite.workload import Workload


class CaseFailed(Exception):
    """A case's worker reported a failure (its message is the row's error)."""

    def __init__(self, message: str, where: str | None) -> None:
        super().__init__(message)
        self.where = where


class RunObserver(Protocol):
    """Told about progress; the CLI draws a progress bar with it. Library code never prints."""

    def case_started(self, index: int, total: int, case: Case) -> None: ...

    def case_finished(self, index: int, total: int, case: Case, row: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class RunResult:
    run_id: str
    folder: Path
    rows: tuple[Mapping[str, Any], ...]

    def count(self, status: str) -> int:
        return sum(1 for row in self.rows if row["status"] == status)


def _now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def run_suite(
    suite: Suite,
    workloads: Mapping[str, Workload],
    store: ResultStore,
    observer: RunObserver | None = None,
    fingerprint: Fingerprint | None = None,
    meter: str = "auto",
    isolate: bool = True,
    resume: str | None = None,
    **meta: Any,
) -> RunResult:
    """Measure every case of ``suite`` into a new run of ``store`` (``meter``: see
    :func:`benchsuite.meters.choose_meter`).

    With ``isolate`` each case runs in its own worker process (:mod:`benchsuite.worker`); without
    it, in this process (for debugging). ``resume`` continues an earlier run of the same suite:
    only its missing cases are measured, into the same run. ``meta`` goes into the manifest.
    """
    suite.check_workloads(workloads)
    cases = suite.cases()
    for case in cases:  # a case that makes no sense is bad input: refused before measuring
        get_scenario(case.scenario).check_case(case, workloads[case.workload])
    grid = grid_intensity(suite.carbon_country, suite.carbon_g_co2e_per_kwh)
    meters: dict[str, MeterChoice] = {}
    fingerprint = fingerprint or capture_fingerprint()
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
    rows: list[Mapping[str, Any]] = []
    state = "interrupted"
    try:
        for index, case in enumerate(cases):
            if observer is not None:
                observer.case_started(index, len(cases), case)
            if case.device not in meters and skip_reason(case) is None:
                meters[case.device] = choose_meter(case.device, meter)
            row, result = _run_one(
                case,
                workloads[case.workload],
                suite,
                fingerprint,
                meters.get(case.device),
                grid,
                isolate,
            )
            writer.add_case(
                row,
                result.samples_table() if result else None,
                result.energy_window_rows() if result else (),
            )
            rows.append(row)
            if observer is not None:
                observer.case_finished(index, len(cases), case, row)
        state = "complete"
    except KeyboardInterrupt:
        raise RunInterrupted(writer.run_id) from None
    finally:
        writer.finish(state)
    return RunResult(writer.run_id, writer.folder, tuple(rows))


def _run_one(
    case: Case,
    workload: Workload,
    suite: Suite,
    fingerprint: Fingerprint,
    meter: MeterChoice | None,
    grid: GridIntensity,
    isolate: bool = False,
) -> tuple[dict[str, Any], CaseResult | None]:
    started_at = _now_utc()
    start = time.perf_counter()
    row: dict[str, Any] = {
        "suite": suite.name,
        **case.as_columns(),
        "started_at_utc": started_at,
    }
    result: CaseResult | None = None
    try:
        reason = skip_reason(case, workload)
        if reason is not None:
            row.update(status=STATUS_SKIPPED, error=reason)
        else:
            assert meter is not None, "the runner chooses a meter for every device that can run"
            origin = workload_origin(workload) if isolate else None
            if origin is None:
                result = run_case(case, workload, meter.meter, suite.measure)
            else:
                outcome = run_in_worker(
                    origin, case, suite.measure, meter.meter.source, suite.measure.case_timeout_s
                )
                if outcome.skipped is not None:
                    raise VariantUnavailable(outcome.skipped)
                if outcome.error is not None:
                    raise CaseFailed(outcome.error, outcome.traceback)
                result = outcome.result
            assert result is not None
            row.update(result.row(), status=STATUS_OK, error=None)
            row.update(carbon_columns(row, grid), energy_meter_note=meter.note or None)
    except VariantUnavailable as reason:  # the variant cannot be built for this model
        result = None
        row.update(status=STATUS_SKIPPED, error=str(reason))
    except CaseFailed as error:  # already described by the worker
        row.update(status=STATUS_FAILED, error=str(error), error_traceback=error.where)
    except Exception as error:  # a failing case is a row, and the run goes on
        row.update(
            status=STATUS_FAILED,
            error=f"{type(error).__name__}: {error}",
            error_traceback=traceback.format_exc(),
        )
    row["finished_at_utc"] = _now_utc()
    row["case_wall_s"] = time.perf_counter() - start
    row.update(fingerprint.as_columns())
    return row, result
