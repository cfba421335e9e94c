"""One case on this machine, start to finish: its outcome, whatever the case does.

The local runner calls :func:`measure_one` for each case in turn; a fleet node calls it for the
case it was sent (:mod:`benchsuite.run.fleet.job`). A case that cannot run here is ``skipped``
with the reason, a case that raises or whose worker dies is ``failed`` with the error; the row
is made from the outcome by :func:`benchsuite.run.rows.case_row`.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections.abc import Callable, Sequence

from benchsuite.case import Case
from benchsuite.errors import VariantUnavailable
from benchsuite.instruments.meters import MeterChoice
from benchsuite.instruments.meters.base import EnergyReading
from benchsuite.results import CaseResult
from benchsuite.run.affinity import CpuSet
from benchsuite.run.comparison import CaseRounds, run_rounds
from benchsuite.run.context import RunContext
from benchsuite.run.pooling import Drift, drift_of, pooled_result, reference_of
from benchsuite.run.rows import CaseOutcome, now_utc
from benchsuite.run.worker import SessionWorker, WorkloadOrigin, run_in_worker, workload_origin
from benchsuite.scenarios import run_case, skip_reason
from benchsuite.store.schema import Status
from benchsuite.workload.base import Workload


class CaseFailed(Exception):
    """A case's worker reported a failure (its message is the row's error)."""

    def __init__(self, message: str, where: str | None) -> None:
        super().__init__(message)
        self.where = where


@dataclasses.dataclass(frozen=True)
class GroupOutcome:
    """A comparison group measured in rounds: an outcome per case, in the group's order, and
    the drift of its reference (``None`` when it had none to read)."""

    outcomes: tuple[CaseOutcome, ...]
    drift: Drift | None


def measure_group(
    cases: Sequence[Case],
    workload: Workload,
    context: RunContext,
    meter: MeterChoice | None,
    on_start: Callable[[Case], None] = lambda case: None,
) -> GroupOutcome:
    """Measure one comparison group in rounds (:mod:`benchsuite.run.comparison`), each case in
    its own worker processes. Never raises for what a case does."""
    origin = workload_origin(workload)
    assert origin is not None, "the runner measures a group in rounds only when it can"
    started = {case: now_utc() for case in cases}
    skipped = {case: skip_reason(case, workload) for case in cases}
    runnable = [case for case in cases if skipped[case] is None]
    measure = context.measure
    states: dict[Case, CaseRounds] = {}
    if runnable:
        assert meter is not None, "the runner chooses a meter for every device that can run"
        chosen = meter
        energy = measure.energy
        plan = measure.rounds if len(runnable) > 1 else measure.rounds.alone()
        rounds = plan.fitted(
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
    fitted = dataclasses.replace(context, measure=measure)
    outcomes = []
    for case in cases:
        base = CaseOutcome(
            case,
            Status.SKIPPED,
            started[case],
            started[case],
            0.0,
            error=skipped[case],
            fingerprint=context.fingerprint,
            meter_note=meter.note if meter is not None else None,
        )
        state = states.get(case)
        ended = _rounds_ended(base, state, fitted, reference, drift) if state else base
        outcomes.append(dataclasses.replace(ended, finished_at_utc=now_utc()))
    return GroupOutcome(tuple(outcomes), drift)


def _rounds_ended(
    base: CaseOutcome,
    state: CaseRounds,
    context: RunContext,
    reference: CaseRounds | None,
    drift: Drift | None,
) -> CaseOutcome:
    """How one case of a group ended after its rounds: pooled into a result, or why not."""
    base = dataclasses.replace(base, wall_s=state.busy_s)
    if state.skipped is not None:
        return dataclasses.replace(base, error=state.skipped)
    if not state.ok:
        return dataclasses.replace(
            base, status=Status.FAILED, error=state.error, error_traceback=state.error_where
        )
    try:
        result = pooled_result(state, context.measure, reference, drift)
    except Exception as error:  # a failing case is a row, and the group goes on
        return _failed(base, error)
    return dataclasses.replace(base, status=Status.OK, error=None, result=result)


def measure_one(
    case: Case,
    workload: Workload,
    context: RunContext,
    meter: MeterChoice | None,
    origin: WorkloadOrigin | None = None,
) -> CaseOutcome:
    """Measure one case on this machine (in a worker process when the context isolates, which
    rebuilds the workload from ``origin``, by default the workload's own file or spec): its
    outcome, with its result when it ran. Never raises for what the case does."""
    started = time.perf_counter()
    base = CaseOutcome(
        case,
        Status.OK,
        now_utc(),
        now_utc(),
        None,
        fingerprint=context.fingerprint,
        meter_note=meter.note if meter is not None else None,
    )
    try:
        reason = skip_reason(case, workload)
        if reason is not None:
            ended = dataclasses.replace(base, status=Status.SKIPPED, error=reason)
        else:
            assert meter is not None, "the runner chooses a meter for every device that can run"
            result = _run(case, workload, context, meter, origin)
            ended = dataclasses.replace(base, result=result)
    except VariantUnavailable as reason:  # the variant cannot be built for this model
        ended = dataclasses.replace(base, status=Status.SKIPPED, error=str(reason))
    except CaseFailed as error:  # already described by the worker
        ended = dataclasses.replace(
            base, status=Status.FAILED, error=str(error), error_traceback=error.where
        )
    except Exception as error:  # a failing case is a row, and the run goes on
        ended = _failed(base, error)
    return dataclasses.replace(
        ended, finished_at_utc=now_utc(), wall_s=time.perf_counter() - started
    )


def _run(
    case: Case,
    workload: Workload,
    context: RunContext,
    meter: MeterChoice,
    origin: WorkloadOrigin | None,
) -> CaseResult:
    """The case's result, measured here or in a worker process; raises what stopped it."""
    origin = (origin or workload_origin(workload)) if context.isolate else None
    if origin is None:
        return run_case(case, workload, meter.meter, context.measure)
    outcome = run_in_worker(
        origin, case, context.measure, meter.meter.source, context.measure.case_timeout_s
    )
    if outcome.skipped is not None:
        raise VariantUnavailable(outcome.skipped)
    if outcome.error is not None:
        raise CaseFailed(outcome.error, outcome.traceback)
    assert outcome.result is not None
    return outcome.result


def _failed(base: CaseOutcome, error: Exception) -> CaseOutcome:
    """A case that raised here: the error and where it was raised."""
    return dataclasses.replace(
        base,
        status=Status.FAILED,
        result=None,
        error=f"{type(error).__name__}: {error}",
        error_traceback=traceback.format_exc(),
    )
