"""Intel GPU energy from the energy counter that the ``xe`` and ``i915`` drivers expose in hwmon.

The counter (``energy1_input``, µJ; ``xe`` labels its counters ``card`` and ``pkg``) is read at
``start()`` and ``stop()``. The driver accumulates the hardware's 32-bit register into 64 bits,
so the file does not wrap in practice; a decrease is still unwrapped at 2^64 rather than read as
negative energy. Where the driver labels a ``card`` counter, that one is read (the whole card);
else the first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from benchsuite.instruments.meters.base import MEASURED, EnergyReading, Meter, MeterInfo
from benchsuite.instruments.meters.hwmon import (
    HWMON_ROOT,
    devices_named,
    label_of,
    read_int,
    unreadable,
)
from benchsuite.instruments.meters.validity import WindowFacts, window_problems

DRIVERS = ("xe", "i915")
COUNTER_WRAP_UJ = 2**64
UPDATE_PERIOD_S = 0.001  # the GPU's power management updates the counter about every 1 ms


def _counter(device: Path) -> Path | None:
    counters = sorted(device.glob("energy*_input"))
    for path in counters:
        if label_of(device, path.name.removesuffix("_input")) == "card":
            return path
    return counters[0] if counters else None


class IntelGpuMeter(Meter):
    """Every Intel GPU's energy counter (hwmon ``xe`` / ``i915``), summed."""

    source = "intel-gpu"
    reads = frozenset({"gpu"})
    kind = MEASURED

    def __init__(
        self, root: Path = HWMON_ROOT, clock: Callable[[], int] = time.perf_counter_ns
    ) -> None:
        self.root = root
        self.clock = clock
        self._start: dict[str, int] = {}
        self._start_ns = 0

    def _counters(self) -> dict[str, Path]:
        found = {}
        for index, device in enumerate(devices_named(DRIVERS, self.root)):
            counter = _counter(device)
            if counter is not None:
                found[f"gpu{index}"] = counter
        return found

    def info(self) -> MeterInfo:
        counters = self._counters()
        if not counters:
            return MeterInfo(
                self.source,
                self.kind,
                False,
                f"no xe or i915 hwmon device with an energy counter under {self.root}",
            )
        problems = [p for p in (unreadable(path) for path in counters.values()) if p]
        if problems:
            return MeterInfo(self.source, self.kind, False, problems[0])
        detail = ", ".join(f"{name}: {path}" for name, path in counters.items())
        return MeterInfo(
            self.source,
            self.kind,
            True,
            f"hwmon energy counters (µJ): {detail}",
            tuple(counters),
            UPDATE_PERIOD_S,
        )

    def start(self) -> None:
        self._start = {name: read_int(path) for name, path in self._counters().items()}
        if not self._start:
            raise RuntimeError(f"Intel GPU meter is unavailable: {self.info().detail}")
        self._start_ns = self.clock()

    def stop(self) -> EnergyReading:
        counters = self._counters()
        duration_s = (self.clock() - self._start_ns) / 1e9
        per_gpu, problems = {}, []
        for name, start_uj in self._start.items():
            delta = read_int(counters[name]) - start_uj
            if delta < 0:
                delta += COUNTER_WRAP_UJ
            per_gpu[name] = delta / 1e6
            problems += window_problems(
                WindowFacts(
                    f"{self.source} {name}",
                    duration_s,
                    per_gpu[name],
                    UPDATE_PERIOD_S,
                    counter_j=per_gpu[name],
                )
            )
        return EnergyReading(
            source=self.source,
            kind=self.kind,
            domains=tuple(per_gpu),
            energy_j=sum(per_gpu.values()),
            duration_s=duration_s,
            resolution_s=UPDATE_PERIOD_S,
            domain_energy_j=per_gpu,
            model="hwmon energy counter",
            invalid_reason="; ".join(problems),
            per_device_j=per_gpu,
        )
