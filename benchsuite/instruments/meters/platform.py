"""The whole machine at its power supply, from its BMC: what the Redfish and IPMI meters share.

Both poll a power reading at the BMC's own rate (``period_s``, 1 s unless configured:
:mod:`benchsuite.instruments.meters.bmc_config`) and integrate it; that period is the reading's
stated resolution, so a window needs 100 of them to count
(:func:`benchsuite.instruments.energy.min_window_s`). The reading is part ``platform``: it holds
every other part, and what the others leave out (fans, power-supply losses, NICs, disks) is the
``unattributed`` remainder (:mod:`benchsuite.instruments.meters.composite`).
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Callable
from typing import Any

from benchsuite.instruments.meters.base import MEASURED, EnergyReading, Meter
from benchsuite.instruments.meters.bmc_config import bmc_settings
from benchsuite.instruments.meters.polling import PolledWindow, PowerPoller
from benchsuite.instruments.meters.validity import WindowFacts, window_problems

DEFAULT_PERIOD_S = 1.0


class PlatformMeter(Meter):
    """A BMC's power reading of the whole machine, polled and integrated."""

    kind = MEASURED
    reads = frozenset({"platform"})
    table: str
    """Its settings' table (``redfish`` or ``ipmi``)."""

    def __init__(
        self,
        settings: dict[str, Any] | None = None,
        clock: Callable[[], int] = time.perf_counter_ns,
    ) -> None:
        self._settings = settings
        self.clock = clock
        self._poller: PowerPoller | None = None

    @property
    def settings(self) -> dict[str, Any]:
        if self._settings is None:
            self._settings = bmc_settings(self.table)
        return self._settings

    @property
    def period_s(self) -> float:
        return float(self.settings.get("period_s", DEFAULT_PERIOD_S))

    @abstractmethod
    def read_w(self) -> float:
        """The machine's power now, in W, as the BMC reports it."""

    @abstractmethod
    def describe(self) -> str:
        """What is read, for the reading's ``model``."""

    def prepare(self) -> None:
        """Make ready to read, or raise why not (before the window opens)."""

    def start(self) -> None:
        self.prepare()
        self._poller = PowerPoller(self.read_w, self.period_s, self.clock, f"{self.source}-power")
        self._poller.start()

    def stop(self) -> EnergyReading:
        assert self._poller is not None
        return platform_reading(
            self.source,
            self._poller.stop(),
            self.period_s,
            self.settings.get("max_power_w"),
            self.describe(),
        )


def platform_reading(
    source: str, window: PolledWindow, period_s: float, max_power_w: float | None, what: str
) -> EnergyReading:
    """A BMC's polled window as a reading of part ``platform``, checked."""
    problems = window_problems(
        WindowFacts(source, window.duration_s, window.energy_j, period_s, window, None, max_power_w)
    )
    return EnergyReading(
        source=source,
        kind=MEASURED,
        domains=("platform",),
        energy_j=window.energy_j,
        duration_s=window.duration_s,
        resolution_s=period_s,
        domain_energy_j={"platform": window.energy_j},
        model=f"{what} polled every {period_s:g} s ({window.samples} samples), integrated",
        invalid_reason="; ".join(problems),
        coverage=window.coverage,
        max_gap_s=window.max_gap_s,
        parts={"platform": window.energy_j},
        part_kinds={"platform": MEASURED},
    )
