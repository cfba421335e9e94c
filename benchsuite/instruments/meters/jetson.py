"""NVIDIA Jetson energy from the INA3221 power monitors on the module, through sysfs.

JetPack 5 and later expose each INA3221 as a hwmon device (``name`` = ``ina3221``) with three
channels: ``inN_label`` (the rail: ``VDD_IN``, ``VDD_CPU_GPU_CV``, ``VDD_SOC``...), ``inN_input``
(bus voltage, mV) and ``currN_input`` (current, mA). Every rail's power (V x I) is polled in a
thread and integrated.

**The total.** The module's input rail (``VDD_IN``, or ``VIN_SYS_5V0`` / ``POM_5V_IN`` on older
boards) already holds the others: when it is there, it is the total, and the other rails are kept
beside it for information, never added to it. Without an input rail, the rails read are summed.
Either way the total is part ``soc``: the module's CPU, GPU and memory share its rails.
"""

from __future__ import annotations

import functools
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
from benchsuite.instruments.meters.polling import PowerPoller
from benchsuite.instruments.meters.validity import WindowFacts, window_problems

INPUT_RAILS = ("VDD_IN", "VIN_SYS_5V0", "POM_5V_IN", "VIN")
DEFAULT_POLL_HZ = 20.0


def _rails(root: Path) -> dict[str, tuple[Path, Path]]:
    """Each rail's (voltage, current) files, by the rail's label."""
    rails = {}
    for device in devices_named(("ina3221",), root):
        for voltage in sorted(device.glob("in[0-9]*_input")):
            channel = voltage.name.removesuffix("_input").removeprefix("in")
            current = device / f"curr{channel}_input"
            if current.exists():
                rails[label_of(device, f"in{channel}")] = (voltage, current)
    return rails


def _rail_watts(voltage: Path, current: Path) -> float:
    return read_int(voltage) * read_int(current) / 1e6  # mV x mA


class JetsonRailsMeter(Meter):
    """The Jetson module's INA3221 rails, polled and integrated (see the module's doc)."""

    source = "jetson"
    reads = frozenset({"soc"})
    kind = MEASURED

    def __init__(
        self,
        root: Path = HWMON_ROOT,
        poll_hz: float = DEFAULT_POLL_HZ,
        clock: Callable[[], int] = time.perf_counter_ns,
    ) -> None:
        self.root = root
        self.poll_hz = poll_hz
        self.clock = clock
        self._pollers: dict[str, PowerPoller] = {}

    def _total_rail(self, rails: dict[str, tuple[Path, Path]]) -> str | None:
        return next((name for name in INPUT_RAILS if name in rails), None)

    def info(self) -> MeterInfo:
        rails = _rails(self.root)
        if not rails:
            return MeterInfo(
                self.source, self.kind, False, f"no ina3221 hwmon device under {self.root}"
            )
        problems = [p for files in rails.values() for p in map(unreadable, files) if p]
        if problems:
            return MeterInfo(self.source, self.kind, False, problems[0])
        total = self._total_rail(rails)
        how = f"the input rail {total} is the total" if total else "the rails summed"
        return MeterInfo(
            self.source,
            self.kind,
            True,
            f"INA3221 rails {', '.join(rails)} polled at {self.poll_hz:g} Hz; {how}",
            tuple(rails),
            1.0 / self.poll_hz,
        )

    def start(self) -> None:
        rails = _rails(self.root)
        if not rails:
            raise RuntimeError(f"Jetson meter is unavailable: {self.info().detail}")
        self._pollers = {}
        for name, (voltage, current) in rails.items():
            poller = PowerPoller(
                functools.partial(_rail_watts, voltage, current),
                1.0 / self.poll_hz,
                self.clock,
                f"jetson-{name}",
            )
            poller.start()
            self._pollers[name] = poller

    def stop(self) -> EnergyReading:
        windows = {name: poller.stop() for name, poller in self._pollers.items()}
        per_rail = {name: window.energy_j for name, window in windows.items()}
        total = self._total_rail({name: (Path(), Path()) for name in windows})
        counted = [total] if total else list(windows)
        duration_s = max(window.duration_s for window in windows.values())
        problems = [
            p
            for name in counted
            for p in window_problems(
                WindowFacts(
                    f"{self.source} {name}",
                    duration_s,
                    per_rail[name],
                    1.0 / self.poll_hz,
                    windows[name],
                )
            )
        ]
        energy_j = sum(per_rail[name] for name in counted)
        return EnergyReading(
            source=self.source,
            kind=self.kind,
            domains=tuple(counted),
            energy_j=energy_j,
            duration_s=duration_s,
            resolution_s=1.0 / self.poll_hz,
            domain_energy_j={f"rail/{name}": j for name, j in per_rail.items()},
            model=f"INA3221 rails polled at {self.poll_hz:g} Hz, trapezoid-integrated"
            + (f"; {total} is the total, the other rails are inside it" if total else ""),
            invalid_reason="; ".join(problems),
            coverage=min(windows[name].coverage for name in counted),
            max_gap_s=max(windows[name].max_gap_s for name in counted),
            parts={"soc": energy_j},
            part_kinds={"soc": MEASURED},
        )
