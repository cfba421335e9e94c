"""The whole machine in one window: several meters read together, and the energy split by part.

A CUDA case's energy is not only the GPU's: the host's CPU and DRAM feed it. The composite meter
opens every available source for a case's device and the host (NVML for its GPUs, RAPL for the
CPU packages and DRAM) on one window: each is started and stopped back to back, GPU first (NVML
synchronises the GPU before it reads, so the host's reads come after the GPU's work is done, in
the same microseconds), so all cover the same interval.

**Parts.** Every reading, composite or not, is split into the parts people compare (CodeCarbon's
split): ``cpu`` (RAPL packages, or psys; the estimate's process CPU), ``dram`` (RAPL DRAM zones;
the estimate's process memory) and ``gpu`` (NVML). Each part keeps the kind of the meter that read
it, and the total is ``measured`` only when every part is: an estimated part never makes a
measured total. A part no meter read is absent (a null column), and the row says which parts the
total covers (``energy_parts``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence

from benchsuite.instruments.meters.base import (
    ESTIMATED,
    MEASURED,
    EnergyReading,
    Meter,
    MeterInfo,
    MeterKind,
)

PARTS = ("cpu", "dram", "gpu")
"""The parts a total is split into, in the order the columns list them."""


def part_of(source: str, domain: str) -> str | None:
    """Which part ``domain`` of a ``source`` meter's reading belongs to; ``None`` for a domain
    that is inside another one (RAPL's core and uncore are inside their package)."""
    name = domain.rsplit("/", 1)[-1]
    if source == "nvml" or name.startswith("gpu"):
        return "gpu"
    if name in ("dram", "process-memory", "ram"):
        return "dram"
    if name.startswith("package") or name in ("psys", "process-cpu", "cpu"):
        return "cpu"
    return None


def split_parts(reading: EnergyReading) -> dict[str, tuple[float, MeterKind]]:
    """``reading``'s total split by part, each with its kind (the parts sum to the total)."""
    if reading.parts:
        return {part: (joules, reading.part_kinds[part]) for part, joules in reading.parts.items()}
    parts: dict[str, float] = {}
    for domain in reading.domains:
        part = part_of(reading.source, domain)
        if part is None:
            continue
        joules = reading.domain_energy_j.get(domain)
        if joules is None and len(reading.domains) == 1:  # one domain: the total is its figure
            joules = reading.energy_j
        if joules is not None:  # else unknown: the part stays unread, its column null
            parts[part] = parts.get(part, 0.0) + joules
    return {part: (joules, reading.kind) for part, joules in parts.items()}


def describe_parts(parts: Mapping[str, tuple[float, MeterKind]]) -> str:
    """``"cpu measured, dram measured, gpu measured"``: what a total covers, and how."""
    return ", ".join(f"{part} {parts[part][1]}" for part in PARTS if part in parts)


class CompositeMeter(Meter):
    """Several meters on one window; the total is their sum (their domains never overlap: each
    meter reads other hardware)."""

    def __init__(self, meters: Sequence[Meter]) -> None:
        if not meters:
            raise ValueError("a composite meter needs at least one meter")
        # GPU meters first: they synchronise the device, so every read follows the GPU's work
        self.meters = sorted(meters, key=lambda meter: meter.source != "nvml")
        self.source = "+".join(meter.source for meter in self.meters)
        self.kind: MeterKind = (
            MEASURED if all(meter.kind == MEASURED for meter in self.meters) else ESTIMATED
        )

    def info(self) -> MeterInfo:
        infos = [meter.info() for meter in self.meters]
        resolutions = [info.resolution_s for info in infos if info.resolution_s]
        return MeterInfo(
            self.source,
            self.kind,
            all(info.available for info in infos),
            "; ".join(f"{info.source}: {info.detail}" for info in infos),
            tuple(domain for info in infos for domain in info.domains),
            max(resolutions) if resolutions else None,
        )

    def start(self) -> None:
        """Start every part; if one fails, the parts already started are stopped again (an
        NVML poller must not go on in the background) and the error is raised."""
        started: list[Meter] = []
        try:
            for meter in self.meters:
                meter.start()
                started.append(meter)
        except BaseException:
            for meter in reversed(started):
                with contextlib.suppress(Exception):
                    meter.stop()
            raise

    def stop(self) -> EnergyReading:
        """Stop every part, even when one fails to stop; then raise the first failure."""
        readings, failures = [], []
        for meter in self.meters:
            try:
                readings.append(meter.stop())
            except Exception as error:
                failures.append(error)
        if failures:
            raise failures[0]
        parts: dict[str, float] = {}
        kinds: dict[str, MeterKind] = {}
        for reading in readings:
            for part, (joules, kind) in split_parts(reading).items():
                parts[part] = parts.get(part, 0.0) + joules
                kinds[part] = kind if kinds.get(part, kind) == kind else ESTIMATED
        domain_energy: dict[str, float] = {}
        for reading in readings:
            domain_energy.update(reading.domain_energy_j)
        return EnergyReading(
            source=self.source,
            kind=MEASURED if all(r.kind == MEASURED for r in readings) else ESTIMATED,
            domains=tuple(domain for reading in readings for domain in reading.domains),
            energy_j=sum(reading.energy_j for reading in readings),
            duration_s=max(reading.duration_s for reading in readings),
            resolution_s=max(reading.resolution_s for reading in readings),
            domain_energy_j=domain_energy,
            model="; ".join(f"{r.source}: {r.model}" for r in readings if r.model),
            invalid_reason="; ".join(
                f"{r.source}: {r.invalid_reason}" for r in readings if r.invalid_reason
            ),
            parts=parts,
            part_kinds=kinds,
        )
