"""One case as plain data, measured and written by whichever process receives it.

A fleet node gets a :class:`CaseJob`, rebuilds the workload from its origin (the same workload
file or model spec as the driver's), measures the case in a worker process of its own exactly as
a local run does (:func:`benchsuite.run.one_case.measure_one`), and writes the row, samples and
energy windows straight into the shared store under a name no other writer uses. Only the row
travels back to the driver, for progress and the summary.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from dataclasses import dataclass
from functools import cache
from typing import Any

from benchsuite.case import Case
from benchsuite.instruments.meters import MeterChoice, choose_meter
from benchsuite.run.context import RunContext
from benchsuite.run.fingerprint import Fingerprint, capture_fingerprint
from benchsuite.run.one_case import measure_one
from benchsuite.run.rows import CaseOutcome, case_row, now_utc
from benchsuite.run.worker import WorkloadOrigin
from benchsuite.scenarios import skip_reason
from benchsuite.store.location import StoreLocation
from benchsuite.store.runs import write_case
from benchsuite.store.schema import Status


@dataclass(frozen=True)
class CaseJob:
    case: Case
    position: int
    """The case's 1-based place in the suite: the first part of its files' names."""
    origin: WorkloadOrigin
    context: RunContext
    """The driver's run context; a node measures with its own fingerprint but the driver's
    code version (the code under test is the driver's checkout, whatever a node's working
    folder holds)."""
    store: str
    """The results store's path or URI, as every node reaches it."""
    run_id: str
    environment: dict[str, str]
    """The driver's ``BENCHSUITE_*`` variables (cache folder, ...), set on the node too."""

    def file_name(self) -> str:
        """Unique per attempt: the case's place plus a random token, so a re-run of the case
        (``--resume`` after a lost node) never overwrites or collides with another writer."""
        return f"{self.position:04d}-{secrets.token_hex(4)}"


@cache
def _fingerprint() -> Fingerprint:
    return capture_fingerprint()


_meters: dict[tuple[str, str], MeterChoice] = {}


def _meter(device: str, requested: str) -> MeterChoice:
    if (device, requested) not in _meters:
        _meters[device, requested] = choose_meter(device, requested)
    return _meters[device, requested]


def run_job(job: CaseJob, node: str | None) -> dict[str, Any]:
    """Measure ``job`` here and write it to the store; returns the row written."""
    os.environ.update(job.environment)
    driver = job.context.fingerprint
    context = dataclasses.replace(
        job.context,
        fingerprint=dataclasses.replace(
            _fingerprint(), git_commit=driver.git_commit, git_dirty=driver.git_dirty
        ),
        isolate=True,
    )
    workload = job.origin.build()
    meter = _meter(job.case.device, context.meter) if skip_reason(job.case) is None else None
    outcome = dataclasses.replace(measure_one(job.case, workload, context, meter), node=node)
    row = case_row(outcome, context)
    result = outcome.result
    write_case(
        StoreLocation(job.store),
        job.run_id,
        job.file_name(),
        row,
        result.samples_table() if result else None,
        result.energy_window_rows() if result else (),
    )
    return row


def lost_row(job: CaseJob, status: Status, reason: str, node: str | None = None) -> dict[str, Any]:
    """The row of a case that no node measured: none could take it (``skipped``), or its node
    was lost (``failed``). No machine measured it, so the row has no fingerprint."""
    now = now_utc()
    outcome = CaseOutcome(job.case, status, now, now, None, error=reason, node=node)
    return case_row(outcome, job.context)
