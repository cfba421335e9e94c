"""One case on this machine, start to finish: its row, whatever the case does.

The local runner calls :func:`measure_one` for each case in turn; a fleet node calls it for the
case it was sent (:mod:`benchsuite.fleet.job`). A case that cannot run here is a ``skipped`` row
with the reason, a case that raises or whose worker dies is a ``failed`` row with the error.
"""

from __future__ import annotations

import time
import traceback
from datetime import UTC, datetime
from typing import Any

from benchsuite.carbon import GridIntensity, carbon_columns
from benchsuite.case import Case
from benchsuite.environment import Fingerprint
from benchsuite.errors import VariantUnavailable
from benchsuite.meters import MeterChoice
from benchsuite.protocol import MeasureConfig
from benchsuite.results import CaseResult
from benchsuite.scenarios import run_case, skip_reason
from benchsuite.schema import STATUS_FAILED, STATUS_OK, STATUS_SKIPPED
from benchsuite.worker import run_in_worker, workload_origin
from benchsuite.workload import Workload


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
