"""What a scenario is: one measurement protocol that turns a case into a typed result.

A scenario declares the metrics it produces (:class:`Metric`), so the gate's rules, the report's
columns and the run summary learn them from it; nothing outside a scenario's own module asks a
scenario for its name. Add one by subclassing :class:`Scenario` and passing an instance to
:func:`benchsuite.scenarios.register_scenario`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from benchsuite.case import Case
from benchsuite.instruments.config import MeasureConfig
from benchsuite.instruments.meters.base import Meter
from benchsuite.results import CaseResult
from benchsuite.variants import Variant
from benchsuite.workload.base import Workload


class Role(StrEnum):
    """What a scenario's cost is a cost of: serving inferences, or training a model."""

    INFERENCE = "inference"
    TRAINING = "training"


class RawSamples(StrEnum):
    """Which raw data the gate decides a metric on (its interval needs the distribution)."""

    LATENCY = "latency_ns"  # the samples table, per call
    ENERGY = "energy_per_sample_j"  # the energy table, per window


@dataclass(frozen=True)
class Metric:
    """A column a scenario produces, which way is better, and what the gate decides it on."""

    column: str
    label: str
    lower_is_better: bool = True
    raw_samples: RawSamples | None = None
    """``None``: the gate compares the row's value directly."""
    needs_measured_energy: bool = False
    """An estimate cannot gate this metric (it follows the estimate's model, not the machine)."""
    interval: tuple[str, str] | None = None
    """The row's columns of the value's interval: the gate compares the two sides' intervals
    (a ratio to fp32 paired within each run has no raw samples of its own)."""


@dataclass(frozen=True)
class SummaryCells:
    """What the end-of-run table shows for one row, as text."""

    latency: str = ""
    throughput: str = ""
    energy: str = ""
    notes: str = ""


def energy_flag(row: Mapping[str, Any]) -> str:
    """`` meas.`` or `` est.`` (measured or estimated), and `` invalid`` when it is: beside every
    energy figure in the terminal summary (short: it must fit 80 columns)."""
    kind = {"measured": "meas.", "estimated": "est."}.get(str(row["energy_kind"]), "?")
    return f" {kind}" + ("" if row["energy_valid"] else " invalid")


class Scenario(ABC):
    """One protocol. Subclasses set the class attributes and implement :meth:`run`."""

    name: str
    description: str
    role: Role
    metrics: tuple[Metric, ...]
    single_batch: bool = False
    """True: batch size 1 only (a suite that asks for more is refused)."""
    token_axes: bool = False
    """True: its cases have prompt_tokens and output_tokens (a suite must give them)."""
    load_axis: bool = False
    """True: its cases have a load_pct, the offered load (a suite must give it)."""
    in_rounds: bool = False
    """True: a suite run measures its cases in rounds, interleaved with the other variants of
    their comparison group (:mod:`benchsuite.run.comparison`, :mod:`benchsuite.run.held_case`)."""

    def check_case(self, case: Case, workload: Workload) -> None:
        """Raise :class:`~benchsuite.errors.UsageError` when the case cannot make sense for this
        workload (checked for every case before a run starts: bad input, not a skipped row).
        The default accepts every case."""
        return None

    def unsupported_reason(self, case: Case, workload: Workload, variant: Variant) -> str | None:
        """Why this workload and variant cannot run here, or ``None`` (a ``skipped`` row)."""
        return workload.variant_unsupported_reason(
            variant, case.device
        ) or variant.unsupported_reason(case.device, workload)

    @abstractmethod
    def run(
        self,
        case: Case,
        workload: Workload,
        variant: Variant,
        meter: Meter,
        config: MeasureConfig,
    ) -> CaseResult:
        """Measure one runnable case and return its result."""

    @abstractmethod
    def summary(self, row: Mapping[str, Any]) -> SummaryCells:
        """The run summary's cells for one ``ok`` row of this scenario."""

    def __repr__(self) -> str:
        return f"<scenario {self.name}>"
