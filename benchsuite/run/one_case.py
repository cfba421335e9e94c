"""One case on this machine, start to finish: its row, whatever the case does.

The local runner calls :func:`measure_one` for each case in turn; a fleet node calls it for the
case it was sent (:mod:`benchsuite.run.fleet.job`). A case that cannot run here is a ``skipped`` row
with the reason, a case that raises or whose worker dies is a ``failed`` row with the error.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from benchsuite.case import Case
from benchsuite.errors import VariantUnavailable
from benchsuite.instruments.carbon import GridIntensity, carbon_columns
from benchsuite.instruments.meters import MeterChoice
from benchsuite.instruments.meters.base import EnergyReading
from benchsuite.results import CaseResult
from benchsuite.run.affinity import CpuSet
from benchsuite.run.comparison import (
    CaseRounds,
    Drift,
    drift_of,
    pooled_result,
    reference_of,
    run_rounds,
)
from benchsuite.run.fingerprint import Fingerprint
from benchsuite.run.worker import SessionWorker, run_in_worker, workload_origin
from benchsuite.scenarios import run_case, skip_reason
from benchsuite.scenarios.steps import MeasureConfig
from benchsuite.store.schema import STATUS_FAILED, STATUS_OK, STATUS_SKIPPED
from benchsuite.workload.base import Workload


class CaseFailed(Exception):
    """A case's worker reported a failure (its message is the row's error)."""

    def __init__(self, message: str, where: str | None) -> None:
        super().__init__(message)
        self.where = where


def _now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def failed_row(case: Case, suite: str, error: str, node: str | None = None) -> dict[str, Any]:
    """The row of a case that produced none of its own (its node or worker was lost)."""
    now = _now_utc()
    return {
        "suite": suite,
        **case.as_columns(),
        "started_at_utc": now,
        "finished_at_utc": now,
        "status": STATUS_FAILED,
        "error": error,
        "executor_node": node,
    }


def skipped_row(case: Case, suite: str, reason: str) -> dict[str, Any]:
    """The row of a case that no node can run (no node has its device)."""
    return {**failed_row(case, suite, reason), "status": STATUS_SKIPPED}


def add_result(
    row: dict[str, Any],
    result: CaseResult,
    measure: MeasureConfig,
    meter: MeterChoice,
    grid: GridIntensity,
) -> None:
    """Fill ``row`` with what the case measured, the idle policy, carbon and the meter's note."""
    case = result.case
    row.update(result.row(), status=STATUS_OK, error=None)
    shared = measure.idle_for(case.device)
    if shared is not None and row.get("energy_source"):  # the policy, on the row
        row["energy_stop_reason"] = "; ".join(
            part
            for part in (
                row.get("energy_stop_reason"),
                f"idle power read once for the run on {case.device} "
                f"({shared.average_power_w:.3g} W) and again at its end",
            )
            if part
        )
    row.update(carbon_columns(row, grid), energy_meter_note=meter.note or None)


def measure_group(
    cases: Sequence[Case],
    workload: Workload,
    suite: str,
    measure: MeasureConfig,
    fingerprint: Fingerprint,
    meter: MeterChoice | None,
    grid: GridIntensity,
    on_start: Callable[[Case], None] = lambda case: None,
) -> tuple[list[tuple[dict[str, Any], CaseResult | None]], Drift | None]:
    """Measure one comparison group in rounds (:mod:`benchsuite.run.comparison`), each case in its
    own worker processes: a row per case, in ``cases``' order, and the drift of the group's
    reference. Never raises for what a case does."""
    origin = workload_origin(workload)
    assert origin is not None, "the runner measures a group in rounds only when it can"
    runnable = []
    rows: dict[Case, dict[str, Any]] = {}
    for case in cases:
        rows[case] = {"suite": suite, **case.as_columns(), "started_at_utc": _now_utc()}
        reason = skip_reason(case, workload)
        if reason is not None:
            rows[case].update(status=STATUS_SKIPPED, error=reason, case_wall_s=0.0)
        else:
            runnable.append(case)
    states: dict[Case, CaseRounds] = {}
    if runnable:
        assert meter is not None, "the runner chooses a meter for every device that can run"
        chosen = meter
        energy = measure.energy
        rounds = measure.rounds.fitted(
            energy.fewest_windows, energy.window_s, meter.meter.info().resolution_s
        )
        measure = dataclasses.replace(measure, rounds=rounds)

        def start(case: Case, idle: EnergyReading | None, cpus: CpuSet | None) -> SessionWorker:
            config = measure
            if idle is not None and measure.idle_for(case.device) is None:
                config = dataclasses.replace(measure, run_idle={case.device: idle})
            return SessionWorker(origin, case, config, chosen.meter.source, idle is None, cpus)

        states = run_rounds(runnable, start, measure.rounds, on_start)
    reference = reference_of(list(states.values()))
    drift = drift_of(reference) if reference is not None else None
    results: dict[Case, CaseResult | None] = {}
    for case, state in states.items():
        row = rows[case]
        row["case_wall_s"] = state.busy_s
        results[case] = None
        if state.skipped is not None:
            row.update(status=STATUS_SKIPPED, error=state.skipped)
        elif not state.ok:
            row.update(status=STATUS_FAILED, error=state.error, error_traceback=state.error_where)
        else:
            try:
                result = pooled_result(state, measure, reference, drift)
                assert meter is not None, "a case that ran had a meter"
                add_result(row, result, measure, meter, grid)
                results[case] = result
            except Exception as error:  # a failing case is a row, and the group goes on
                row.update(
                    status=STATUS_FAILED,
                    error=f"{type(error).__name__}: {error}",
                    error_traceback=traceback.format_exc(),
                )
    measured = []
    for case in cases:
        row = rows[case]
        row["finished_at_utc"] = _now_utc()
        row.update(fingerprint.as_columns())
        measured.append((row, results.get(case)))
    return measured, drift


def measure_one(
    case: Case,
    workload: Workload,
    suite: str,
    measure: MeasureConfig,
    fingerprint: Fingerprint,
    meter: MeterChoice | None,
    grid: GridIntensity,
    isolate: bool = False,
) -> tuple[dict[str, Any], CaseResult | None]:
    """Measure one case on this machine (in a worker process with ``isolate``): its row, and
    its result when it ran. Never raises for what the case does."""
    started_at = _now_utc()
    start = time.perf_counter()
    row: dict[str, Any] = {
        "suite": suite,
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
                result = run_case(case, workload, meter.meter, measure)
            else:
                outcome = run_in_worker(
                    origin, case, measure, meter.meter.source, measure.case_timeout_s
                )
                if outcome.skipped is not None:
                    raise VariantUnavailable(outcome.skipped)
                if outcome.error is not None:
                    raise CaseFailed(outcome.error, outcome.traceback)
                result = outcome.result
            assert result is not None
            add_result(row, result, measure, meter, grid)
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
