"""What every case of one run shares, fixed when the run starts and handed down whole.

The runner makes one :class:`RunContext`; one case, a comparison group and a fleet job all take
it instead of a bundle of loose values, as pyperf's ``Runner`` holds its arguments once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from benchsuite.instruments.carbon import GridIntensity
from benchsuite.instruments.config import MeasureConfig
from benchsuite.instruments.meters.base import EnergyReading
from benchsuite.run.fingerprint import Fingerprint


@dataclass(frozen=True)
class RunContext:
    suite: str
    """The suite's name, on every row."""
    measure: MeasureConfig
    fingerprint: Fingerprint
    """The machine and code of the process that measures (a fleet node puts its own)."""
    grid: GridIntensity
    """The grid carbon intensity the run's carbon columns use."""
    meter: str = "auto"
    """The meter asked for (:func:`benchsuite.instruments.meters.choose_meter`)."""
    isolate: bool = True
    """Each case in its own worker process; ``False`` runs it in this one (debugging)."""

    def with_run_idle(self, device: str, idle: EnergyReading) -> RunContext:
        """The context once the run's idle power on ``device`` is read (once per run)."""
        measure = dataclasses.replace(
            self.measure, run_idle={**self.measure.run_idle, device: idle}
        )
        return dataclasses.replace(self, measure=measure)
