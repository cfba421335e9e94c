"""A case's store row, made in one place from what became of the case and the run's context.

Every path that ends a case (measured, skipped, failed in its worker, lost with its fleet node)
describes it as a :class:`CaseOutcome`; :func:`case_row` is the only conversion to columns, so
carbon, the idle policy and the meter's note are computed from the typed result, never read back
from a half-built row.
"""

from __future__ import annotations

import dataclasses
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from benchsuite.case import Case
from benchsuite.instruments.carbon import carbon_columns
from benchsuite.results import CaseResult
from benchsuite.run.context import RunContext
from benchsuite.run.fingerprint import Fingerprint
from benchsuite.store.schema import Status


def now_utc() -> str:
    """A row's wall-clock timestamp, in UTC (durations come from the monotonic clock)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class CaseOutcome:
    """What became of one case. ``result`` only when it ran (``Status.OK``)."""

    case: Case
    status: Status
    started_at_utc: str
    finished_at_utc: str
    wall_s: float | None
    """Seconds the case held its process; ``None`` when no process measured it (a lost node)."""
    result: CaseResult | None = None
    error: str | None = None
    """The error of a failed case, or the reason a case was skipped."""
    error_traceback: str | None = None
    fingerprint: Fingerprint | None = None
    """The machine that measured (or skipped) it; ``None`` when none did."""
    node: str | None = None
    """The fleet node it ran on, when an executor sent it to one."""
    meter_note: str | None = None
    """What the meter chosen for the case's device says of itself (``MeterChoice.note``)."""


def case_row(outcome: CaseOutcome, context: RunContext) -> dict[str, Any]:
    """The row of ``outcome``: identity, what it measured, carbon, and where it ran."""
    row: dict[str, Any] = {
        "suite": context.suite,
        **outcome.case.as_columns(),
        "started_at_utc": outcome.started_at_utc,
        "finished_at_utc": outcome.finished_at_utc,
        "status": outcome.status,
        "error": outcome.error,
        "error_traceback": outcome.error_traceback,
        "case_wall_s": outcome.wall_s,
        "executor_node": outcome.node,
    }
    result = outcome.result
    if result is not None:
        try:
            measured = result.row()
        except Exception as error:  # a result the schema refuses fails its case, not the run
            failed = dataclasses.replace(
                outcome,
                status=Status.FAILED,
                result=None,
                error=f"{type(error).__name__}: {error}",
                error_traceback=traceback.format_exc(),
            )
            return case_row(failed, context)
        row.update(measured)
        # what the case said of its meter (an endpoint: whose processes it charged), then what
        # the run said of its choice
        notes = (measured.get("energy_meter_note"), outcome.meter_note)
        row.update(
            _carbon(result, context),
            energy_meter_note="; ".join(note for note in notes if note) or None,
        )
        if result.energy is not None:
            row["energy_stop_reason"] = _stop_reason(result, context)
    if outcome.fingerprint is not None:
        row.update(outcome.fingerprint.as_columns())
    return row


def _carbon(result: CaseResult, context: RunContext) -> dict[str, Any]:
    energy = result.energy
    per_sample = energy.energy_per_sample_j if energy is not None and energy.per_sample else None
    training = result.training.energy_per_run_j if result.training is not None else None
    return carbon_columns(per_sample, training, context.grid)


def _stop_reason(result: CaseResult, context: RunContext) -> str | None:
    """The energy windows' stop reason, and the idle policy when the run read idle once."""
    assert result.energy is not None
    device = result.case.device
    shared = context.measure.idle_for(device)
    policy = (
        f"idle power read once for the run on {device} ({shared.average_power_w:.3g} W) "
        "and again at its end"
        if shared is not None
        else None
    )
    return "; ".join(part for part in (result.energy.stop_reason, policy) if part) or None
