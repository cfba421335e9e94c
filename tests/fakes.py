"""Fakes of hardware this machine lacks, imitating the real interfaces.

``FakePowercap`` is a folder laid out like /sys/class/powercap, with ``name``, ``energy_uj`` and
``max_energy_range_uj`` files that a test advances by a known power profile (wrapping like the
kernel's counters). ``fake_nvml`` is ``pynvml`` itself under ``mock.create_autospec``, so every
call the meter makes must exist in the real binding with the same signature; its devices return
energy in mJ and power in mW as NVML does.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import pynvml


class FakePowercap:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        (root / "intel-rapl").mkdir(exist_ok=True)  # the control type folder, no counter
        self.zones: dict[str, tuple[Path, int]] = {}

    def add_zone(
        self, zone_id: str, name: str, max_range_uj: int = 262_143_328_850, energy_uj: int = 0
    ) -> None:
        folder = self.root / zone_id
        folder.mkdir()
        (folder / "name").write_text(name + "\n")
        (folder / "max_energy_range_uj").write_text(f"{max_range_uj}\n")
        (folder / "energy_uj").write_text(f"{energy_uj}\n")
        self.zones[zone_id] = (folder, max_range_uj)

    def energy_uj(self, zone_id: str) -> int:
        return int((self.zones[zone_id][0] / "energy_uj").read_text())

    def set_energy_uj(self, zone_id: str, value: int) -> None:
        """Replace the counter whole, as the kernel's sysfs read never sees half a value (a
        test may advance counters from a thread while the meter reads them)."""
        folder = self.zones[zone_id][0]
        temporary = folder / ".energy_uj.tmp"
        temporary.write_text(f"{value}\n")
        os.replace(temporary, folder / "energy_uj")

    def advance(self, seconds: float, watts: dict[str, float]) -> None:
        """Add ``watts[zone] × seconds`` to each zone's counter, wrapping at its max range."""
        for zone_id, power_w in watts.items():
            _, max_range = self.zones[zone_id]
            added = round(power_w * seconds * 1e6)
            self.set_energy_uj(zone_id, (self.energy_uj(zone_id) + added) % max_range)


class FakeGpu:
    """A GPU whose board power follows ``power_w(t_s)``; energy is its exact integral."""

    def __init__(
        self,
        clock_s: Callable[[], float],
        power_w: Callable[[float], float],
        energy_of: Callable[[float], float],
        has_counter: bool = True,
        uuid: str = "GPU-00000000",
    ) -> None:
        self.clock_s = clock_s
        self.power_w = power_w
        self.energy_of = energy_of  # integral of power_w from 0 to t, in J
        self.has_counter = has_counter
        self.uuid = uuid


def fake_nvml(gpus: list[FakeGpu], driver: str = "550.54.15") -> mock.MagicMock:
    nvml = mock.create_autospec(pynvml, instance=False)
    nvml.NVMLError = pynvml.NVMLError
    nvml.NVMLError_NotSupported = pynvml.NVMLError_NotSupported
    nvml.nvmlInit.return_value = None
    nvml.nvmlDeviceGetCount.return_value = len(gpus)
    nvml.nvmlDeviceGetHandleByIndex.side_effect = lambda index: gpus[index]
    nvml.nvmlDeviceGetHandleByUUID.side_effect = lambda uuid: next(
        g for g in gpus if g.uuid == uuid
    )
    nvml.nvmlSystemGetDriverVersion.return_value = driver

    def total_energy_mj(gpu: FakeGpu) -> int:
        if not gpu.has_counter:
            raise pynvml.NVMLError_NotSupported()
        return round(gpu.energy_of(gpu.clock_s()) * 1000)

    nvml.nvmlDeviceGetTotalEnergyConsumption.side_effect = total_energy_mj
    nvml.nvmlDeviceGetPowerUsage.side_effect = lambda gpu: round(gpu.power_w(gpu.clock_s()) * 1000)
    return nvml
