"""A module's own power meter, where the platform exposes one: NVIDIA Grace Hopper and Grace
Blackwell modules report through ACPI power meters in hwmon (``name`` = ``power_meter``), each
with ``power1_oem_info`` saying what it covers ("Module Power Socket 0", "Grace Power Socket 0",
"CPU Power Socket 0", "SysIO Power Socket 0") and ``power1_average`` (µW, averaged over
``power1_average_interval`` ms).

The **module** readings are the total: each covers its module's GPU, CPU and memory. They are
part ``soc``, and the composite meter leaves out any GPU or CPU meter of the same machine
(:attr:`COVERS`), so that nothing is counted twice. The other readings are inside a module's and
are kept beside it for information. Power is polled at the meter's own averaging interval and
integrated.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path

from benchsuite.instruments.meters.base import MEASURED, EnergyReading, Meter, MeterInfo
from benchsuite.instruments.meters.hwmon import HWMON_ROOT, devices_named, read_int, unreadable
from benchsuite.instruments.meters.polling import PowerPoller
from benchsuite.instruments.meters.validity import WindowFacts, window_problems

COVERS = frozenset({"gpu", "cpu", "dram"})
"""The parts a module reading includes: another meter of these parts is not added to it."""
DEFAULT_INTERVAL_S = 0.05


def _meters(root: Path) -> dict[str, Path]:
    """Each power meter's folder, by what it covers (its ``power1_oem_info``)."""
    found = {}
    for device in devices_named(("power_meter",), root):
        try:
            what = (device / "power1_oem_info").read_text().strip()
        except OSError:
            what = device.name
        found[what] = device
    return found


def _watts(path: Path) -> float:
    return read_int(path) / 1e6  # µW


def _modules(meters: dict[str, Path]) -> list[str]:
    return [what for what in meters if what.lower().startswith("module power")]


class ModulePowerMeter(Meter):
    """The modules' own power meters, polled and integrated (see the module's doc)."""

    source = "module"
    reads = frozenset({"soc"})
    kind = MEASURED
    covers = COVERS

    def __init__(
        self, root: Path = HWMON_ROOT, clock: Callable[[], int] = time.perf_counter_ns
    ) -> None:
        self.root = root
        self.clock = clock
        self._pollers: dict[str, tuple[PowerPoller, float]] = {}

    def _interval_s(self, device: Path) -> float:
        try:
            return max(read_int(device / "power1_average_interval") / 1000.0, 0.001)
        except (OSError, ValueError):
            return DEFAULT_INTERVAL_S

    def info(self) -> MeterInfo:
        meters = _meters(self.root)
        modules = _modules(meters)
        if not modules:
            return MeterInfo(
                self.source,
                self.kind,
                False,
                f"no module power meter (hwmon power_meter, 'Module Power ...') under {self.root}",
            )
        problem = next((p for m in modules if (p := unreadable(meters[m] / "power1_average"))), "")
        if problem:
            return MeterInfo(self.source, self.kind, False, problem)
        interval = max(self._interval_s(meters[m]) for m in modules)
        return MeterInfo(
            self.source,
            self.kind,
            True,
            f"{', '.join(modules)}: module power (GPU, CPU and memory) polled every "
            f"{interval:g} s; also read: {', '.join(m for m in meters if m not in modules)}",
            tuple(modules),
            interval,
        )

    def start(self) -> None:
        meters = _meters(self.root)
        if not _modules(meters):
            raise RuntimeError(f"module power meter is unavailable: {self.info().detail}")
        self._pollers = {}
        for what, device in meters.items():
            interval = self._interval_s(device)
            path = device / "power1_average"
            poller = PowerPoller(functools.partial(_watts, path), interval, self.clock, what)
            poller.start()
            self._pollers[what] = (poller, interval)

    def stop(self) -> EnergyReading:
        windows = {
            what: (poller.stop(), period) for what, (poller, period) in self._pollers.items()
        }
        modules = _modules({what: Path() for what in windows})
        duration_s = max(window.duration_s for window, _ in windows.values())
        problems = [
            p
            for what in modules
            for p in window_problems(
                WindowFacts(
                    f"{self.source} {what}",
                    duration_s,
                    windows[what][0].energy_j,
                    windows[what][1],
                    windows[what][0],
                )
            )
        ]
        energy_j = sum(windows[what][0].energy_j for what in modules)
        return EnergyReading(
            source=self.source,
            kind=self.kind,
            domains=tuple(modules),
            energy_j=energy_j,
            duration_s=duration_s,
            resolution_s=max(period for _, period in windows.values()),
            domain_energy_j={what: window.energy_j for what, (window, _) in windows.items()},
            model="module power meters polled at their averaging interval, integrated; the "
            "module reading includes its GPU, CPU and memory",
            invalid_reason="; ".join(problems),
            coverage=min(windows[what][0].coverage for what in modules),
            max_gap_s=max(windows[what][0].max_gap_s for what in modules),
            parts={"soc": energy_j},
            part_kinds={"soc": MEASURED},
        )
