"""CPU and DRAM energy from RAPL counters, read through the Linux powercap interface.

Zones live under ``$BENCHSUITE_POWERCAP_ROOT`` (default ``/sys/class/powercap``)::

    intel-rapl:0/        name=package-0   energy_uj  max_energy_range_uj
    intel-rapl:0:0/      name=core        (inside package-0's figure)
    intel-rapl:0:1/      name=uncore      (inside package-0's figure)
    intel-rapl:0:2/      name=dram        (NOT inside package-0's figure)
    intel-rapl:1/        name=package-1 | psys

AMD hosts expose their package counters under the same ``intel-rapl`` names. The reading's total
is every package plus every dram zone: core and uncore are parts of their package and psys (the
whole SoC) overlaps the packages, so those are kept per domain for information and not added. With
no package zone but a psys zone, psys is the total. ``intel-rapl-mmio`` zones duplicate the MSR
packages and are ignored.

Counters wrap at ``max_energy_range_uj``; a counter lower at the end of a window than at its
start is taken as one wrap, unless the energy that implies is impossible for the window
(above ``MAX_PLAUSIBLE_ZONE_POWER_W``), in which case the counter went backwards (a reset) and the
reading is marked invalid. A window must be shorter than one full wrap (minutes at full power).

pyRAPL is not used: it reads these same files, has had no release since 2019, and does not
handle wrap-around, so it would add a dependency and a bug (see docs/energy.md).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchsuite.instruments.meters.base import MEASURED, EnergyReading, Meter, MeterInfo

POWERCAP_ROOT_ENV = "BENCHSUITE_POWERCAP_ROOT"
DEFAULT_POWERCAP_ROOT = "/sys/class/powercap"
RESOLUTION_S = 0.001  # RAPL updates its counters about every millisecond
MAX_PLAUSIBLE_ZONE_POWER_W = 2_000.0  # per zone; far above any CPU socket or DRAM channel
_ZONE = re.compile(r"^intel-rapl:(\d+)(?::(\d+))?$")

PERMISSION_FIX = (
    "energy_uj is readable by root only on Linux >= 5.10 (CVE-2020-8694): run as root, or "
    "`sudo chmod o+r /sys/class/powercap/intel-rapl:*/energy_uj "
    "/sys/class/powercap/intel-rapl:*:*/energy_uj` (until reboot), or add a udev rule / "
    "systemd-tmpfiles entry that does the same at boot"
)


@dataclass(frozen=True)
class RaplZone:
    path: Path
    domain: str  # "package-0", "package-0/dram", "psys"
    name: str  # the zone's own name file: "package-0", "dram", "core", "psys"
    max_energy_range_uj: int

    @property
    def counted_in_total(self) -> bool:
        return self.name.startswith("package") or self.name == "dram"

    def read_uj(self) -> int:
        return int((self.path / "energy_uj").read_text().strip())


def powercap_root() -> Path:
    return Path(os.environ.get(POWERCAP_ROOT_ENV) or DEFAULT_POWERCAP_ROOT)


def discover_zones(root: Path) -> list[RaplZone]:
    """Every RAPL zone under ``root`` that has an energy counter, packages first."""
    if not root.is_dir():
        return []
    names: dict[str, str] = {}
    zones = []
    for path in sorted(root.iterdir(), key=lambda p: p.name):
        match = _ZONE.match(path.name)
        if match is None or not (path / "energy_uj").exists():
            continue
        name = (path / "name").read_text().strip()
        names[match.group(1)] = names.get(match.group(1), name) if match.group(2) else name
        zones.append((match, path, name))
    result = []
    for match, path, name in zones:
        parent = match.group(1)
        domain = f"{names.get(parent, 'package-' + parent)}/{name}" if match.group(2) else name
        max_range = int((path / "max_energy_range_uj").read_text().strip())
        result.append(RaplZone(path, domain, name, max_range))
    return result


class RaplMeter(Meter):
    """Reads every RAPL zone at ``start()`` and ``stop()``; see the module docstring for scope."""

    source = "rapl"
    reads = frozenset({"cpu", "dram"})
    kind = MEASURED

    def __init__(self, root: Path | None = None, clock: Callable[[], int] = time.perf_counter_ns):
        self.root = root or powercap_root()
        self.clock = clock
        self._zones: list[RaplZone] | None = None
        self._start: tuple[int, dict[str, int]] | None = None

    def zones(self) -> list[RaplZone]:
        if self._zones is None:
            self._zones = discover_zones(self.root)
        return self._zones

    def _total_domains(self) -> tuple[str, ...]:
        counted = tuple(z.domain for z in self.zones() if z.counted_in_total)
        return counted or tuple(z.domain for z in self.zones() if z.name == "psys")

    def info(self) -> MeterInfo:
        try:
            zones = self.zones()
        except OSError as error:
            return MeterInfo(
                self.source, self.kind, False, f"cannot list RAPL zones under {self.root}: {error}"
            )
        if not zones:
            return MeterInfo(
                self.source,
                self.kind,
                False,
                f"no RAPL zones under {self.root}: not an Intel/AMD host with the powercap "
                "driver (modprobe intel_rapl_common), or a VM that does not expose RAPL",
            )
        denied = []
        for zone in zones:
            try:
                zone.read_uj()
            except PermissionError:
                denied.append(zone.path.name)
        if denied:
            return MeterInfo(
                self.source,
                self.kind,
                False,
                f"permission denied reading {self.root}/{denied[0]}/energy_uj"
                f"{f' and {len(denied) - 1} more' if len(denied) > 1 else ''}; {PERMISSION_FIX}",
                tuple(z.domain for z in zones),
                RESOLUTION_S,
            )
        return MeterInfo(
            self.source,
            self.kind,
            True,
            f"RAPL via powercap at {self.root}; total = {' + '.join(self._total_domains())}",
            self._total_domains(),
            RESOLUTION_S,
        )

    def start(self) -> None:
        readings = {zone.domain: zone.read_uj() for zone in self.zones()}
        self._start = (self.clock(), readings)

    def stop(self) -> EnergyReading:
        end_readings = {zone.domain: zone.read_uj() for zone in self.zones()}
        end_ns = self.clock()
        if self._start is None:
            raise RuntimeError("RaplMeter.stop() called before start()")
        start_ns, start_readings = self._start
        self._start = None
        duration_s = (end_ns - start_ns) / 1e9
        per_domain: dict[str, float] = {}
        problems = []
        for zone in self.zones():
            delta_uj = end_readings[zone.domain] - start_readings[zone.domain]
            if delta_uj < 0:
                delta_uj += zone.max_energy_range_uj
                implied_w = delta_uj / 1e6 / duration_s if duration_s > 0 else float("inf")
                if implied_w > MAX_PLAUSIBLE_ZONE_POWER_W:
                    problems.append(
                        f"{zone.domain} counter went backwards without a wrap "
                        f"({start_readings[zone.domain]} -> {end_readings[zone.domain]} uJ)"
                    )
            per_domain[zone.domain] = delta_uj / 1e6
        domains = self._total_domains()
        return EnergyReading(
            source=self.source,
            kind=self.kind,
            domains=domains,
            energy_j=sum(per_domain[d] for d in domains),
            duration_s=duration_s,
            resolution_s=RESOLUTION_S,
            domain_energy_j=per_domain,
            invalid_reason="; ".join(problems),
        )
