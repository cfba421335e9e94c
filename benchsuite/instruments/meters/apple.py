"""Apple silicon energy through IOReport's "Energy Model" counters, read by
``zeus-apple-silicon`` (``pip install 'benchsuite[apple]'``, macOS on an M-series chip; no sudo).

A window is one ``AppleEnergyMonitor.begin_window`` / ``end_window`` pair; the result's fields
are millijoules per subsystem: ``cpu_total_mj`` (part ``cpu``), ``gpu_mj`` and ``gpu_sram_mj``
(``gpu``), ``dram_mj`` (``dram``) and ``ane_mj``, the neural engine (``soc``). A field the chip
does not report is ``None`` and its part is left out, never read as zero. The counters are the
SoC's own energy model, from utilisation, frequency and voltage, not a shunt; Apple says as much
of ``powermetrics``. They are recorded as measured, and docs/energy.md says this.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

from benchsuite.instruments.meters.base import MEASURED, EnergyReading, Meter, MeterInfo
from benchsuite.instruments.meters.validity import WindowFacts, window_problems

RESOLUTION_S = 0.01  # 1 mJ counters; windows under ~10 ms are mostly quantisation
FIELDS = {
    "cpu": ("cpu_total_mj",),
    "gpu": ("gpu_mj", "gpu_sram_mj"),
    "dram": ("dram_mj",),
    "soc": ("ane_mj",),
}


def _load() -> tuple[ModuleType | None, str]:
    try:
        import zeus_apple_silicon
    except ImportError:
        return None, (
            "zeus-apple-silicon is not installed (pip install 'benchsuite[apple]'; macOS on "
            "Apple silicon only)"
        )
    return zeus_apple_silicon, ""


class AppleSiliconMeter(Meter):
    """CPU, GPU, DRAM and neural-engine energy of an Apple silicon SoC (see the module's doc)."""

    source = "apple"
    reads = frozenset({"cpu", "dram", "gpu", "soc"})
    kind = MEASURED
    _labels = itertools.count()

    def __init__(
        self,
        module: ModuleType | Any | None = None,
        clock: Callable[[], int] = time.perf_counter_ns,
    ) -> None:
        self.module: Any
        self.module, self._unavailable = (module, "") if module is not None else _load()
        self.clock = clock
        self._monitor: Any = None
        self._label = ""
        self._start_ns = 0

    def _open(self) -> Any:
        if self._monitor is None and self.module is not None:
            try:
                self._monitor = self.module.AppleEnergyMonitor()
            except Exception as error:  # not an Apple silicon Mac, or IOReport refused
                self._unavailable = f"IOReport could not be opened ({error})"
        return self._monitor

    def info(self) -> MeterInfo:
        if self._open() is None:
            return MeterInfo(self.source, self.kind, False, self._unavailable)
        return MeterInfo(
            self.source,
            self.kind,
            True,
            "IOReport Energy Model counters (mJ) through zeus-apple-silicon: CPU, GPU, DRAM, "
            "neural engine (the SoC's own model)",
            tuple(FIELDS),
            RESOLUTION_S,
        )

    def start(self) -> None:
        monitor = self._open()
        if monitor is None:
            raise RuntimeError(f"Apple silicon meter is unavailable: {self._unavailable}")
        self._label = f"benchsuite-{next(self._labels)}"
        self._start_ns = self.clock()
        monitor.begin_window(self._label)

    def stop(self) -> EnergyReading:
        metrics = self._monitor.end_window(self._label)
        duration_s = (self.clock() - self._start_ns) / 1e9
        parts: dict[str, float] = {}
        for part, names in FIELDS.items():
            values = [getattr(metrics, name, None) for name in names]
            known = [value for value in values if value is not None]
            if known:
                parts[part] = sum(known) / 1000.0
        energy_j = sum(parts.values())
        problems = window_problems(
            WindowFacts(self.source, duration_s, energy_j, RESOLUTION_S, counter_j=energy_j)
        )
        return EnergyReading(
            source=self.source,
            kind=self.kind,
            domains=tuple(parts),
            energy_j=energy_j,
            duration_s=duration_s,
            resolution_s=RESOLUTION_S,
            domain_energy_j=dict(parts),
            model="IOReport Energy Model counters (the SoC's own model of its energy)",
            invalid_reason="; ".join(problems),
            parts=parts,
            part_kinds=dict.fromkeys(parts, MEASURED),
        )
