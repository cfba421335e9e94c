"""The whole machine in one window: several meters read together, and the energy split by part.

A CUDA case's energy is not only the GPU's: the host's CPU and DRAM feed it. The composite meter
opens every available source for a case's device and the host (NVML for its GPUs, RAPL for the
CPU packages and DRAM) on one window: each is started and stopped back to back, GPU first (NVML
synchronises the GPU before it reads, so the host's reads come after the GPU's work is done, in
the same microseconds), so all cover the same interval.

**Parts.** Every reading, composite or not, is split into the parts people compare (CodeCarbon's
split, and more): ``cpu`` (RAPL packages, or psys; Apple's CPU; the estimate's process CPU),
``dram`` (RAPL DRAM zones; Apple's DRAM; the estimate's process memory), ``gpu`` (NVML, AMD SMI,
Intel's hwmon counter, Apple's GPU), ``soc`` (what a system on chip or a module reads as one: a
Jetson's input rail, a Grace Hopper module, Apple's neural engine) and ``platform`` (the whole
machine at its power supply: Redfish or IPMI). Each part keeps the kind and the source of the
meter that read it, and the total is ``measured`` only when every part is: an estimated part
never makes a measured total. A part no meter read is absent (a null column), and the row says
which parts the total covers (``energy_parts``).

**Nothing counts twice.** A meter whose reading includes other parts says so (``covers``: a
module's power includes its GPU, CPU and memory); a meter that reads only parts another one
covers is left out of the composite, with a note. The ``platform`` part holds every other part, so
it is never added to them: the total is the sum of the other parts (the platform's own figure
when it is the only one), and what they leave out (fans, power-supply losses, NICs, disks) is
the ``unattributed`` part, the platform less the others. Parts that add up to more than the
platform (beyond :data:`OVERLAP_TOLERANCE_REL`) make the reading invalid: a part was counted
twice, or the readings did not cover the same window.
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

PARTS = ("cpu", "dram", "gpu", "soc", "platform", "unattributed")
"""The parts a reading is split into, in the order the columns list them (``platform`` and
``unattributed`` are beside the total, not in it)."""
OUTSIDE_TOTAL = ("platform", "unattributed")
OVERLAP_TOLERANCE_REL = 0.05


def part_of(source: str, domain: str) -> str | None:
    """Which part ``domain`` of a ``source`` meter's reading belongs to; ``None`` for a domain
    that is inside another one (RAPL's core and uncore are inside their package)."""
    name = domain.rsplit("/", 1)[-1]
    if name == "platform":
        return "platform"
    if name == "soc":
        return "soc"
    if source in ("nvml", "amdsmi", "intel-gpu") or name.startswith("gpu"):
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


def without_overlap(meters: Sequence[Meter]) -> tuple[list[Meter], list[str]]:
    """``meters`` less those that read only parts another one already ``covers`` (a GPU meter
    beside a module's power), and a note for each left out."""
    kept, notes = [], []
    for meter in meters:
        coverer = next(
            (other for other in meters if other is not meter and meter.reads <= other.covers),
            None,
        )
        if coverer is not None and meter.reads:
            notes.append(
                f"{meter.source} left out: the {coverer.source} reading includes its "
                f"{', '.join(sorted(meter.reads))}"
            )
        else:
            kept.append(meter)
    return kept, notes


def with_remainder(parts: dict[str, float], kinds: dict[str, MeterKind]) -> tuple[float, str]:
    """The total of ``parts`` (all but the platform's, unless it is the only one), the
    ``unattributed`` remainder added to ``parts`` where the platform was read, and why the
    reading is invalid (an empty string when it is not)."""
    inside = [part for part in parts if part not in OUTSIDE_TOTAL]
    total = sum(parts[part] for part in inside)
    if "platform" not in parts or not inside:
        return (total if inside else parts.get("platform", 0.0)), ""
    platform = parts["platform"]
    parts["unattributed"] = platform - total
    kinds["unattributed"] = (
        MEASURED if all(kinds[p] == MEASURED for p in (*inside, "platform")) else ESTIMATED
    )
    if total > platform * (1 + OVERLAP_TOLERANCE_REL):
        return total, (
            f"the parts ({total:.4g} J) add up to more than the platform reading "
            f"({platform:.4g} J): a part counted twice, or readings of different windows"
        )
    return total, ""


class CompositeMeter(Meter):
    """Several meters on one window; the total is their sum (a meter whose parts another one
    covers is left out: :func:`without_overlap`; the platform's part is beside the total)."""

    def __init__(self, meters: Sequence[Meter]) -> None:
        if not meters:
            raise ValueError("a composite meter needs at least one meter")
        meters, self.left_out = without_overlap(meters)
        # GPU meters first: they synchronise the device, so every read follows the GPU's work
        self.meters = sorted(meters, key=lambda meter: meter.source != "nvml")
        self.reads = frozenset().union(*(meter.reads for meter in self.meters))
        self.covers = frozenset().union(*(meter.covers for meter in self.meters))
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
            "; ".join([*(f"{info.source}: {info.detail}" for info in infos), *self.left_out]),
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
        sources: dict[str, str] = {}
        for reading in readings:
            for part, (joules, kind) in split_parts(reading).items():
                parts[part] = parts.get(part, 0.0) + joules
                kinds[part] = kind if kinds.get(part, kind) == kind else ESTIMATED
                sources[part] = "+".join(filter(None, (sources.get(part), reading.source)))
        total, overlap = with_remainder(parts, kinds)
        domain_energy: dict[str, float] = {}
        per_device: dict[str, float] = {}
        for reading in readings:
            domain_energy.update(reading.domain_energy_j)
            per_device.update(reading.per_device_j)
        problems = [f"{r.source}: {r.invalid_reason}" for r in readings if r.invalid_reason]
        coverage = [r.coverage for r in readings if r.coverage is not None]
        gaps = [r.max_gap_s for r in readings if r.max_gap_s is not None]
        agreement = [r.counter_power_rel for r in readings if r.counter_power_rel is not None]
        return EnergyReading(
            source=self.source,
            kind=MEASURED if all(r.kind == MEASURED for r in readings) else ESTIMATED,
            domains=tuple(domain for reading in readings for domain in reading.domains),
            energy_j=total,
            duration_s=max(reading.duration_s for reading in readings),
            resolution_s=max(reading.resolution_s for reading in readings),
            domain_energy_j=domain_energy,
            model="; ".join(
                [*(f"{r.source}: {r.model}" for r in readings if r.model), *self.left_out]
            ),
            invalid_reason="; ".join([*problems, *([overlap] if overlap else [])]),
            parts=parts,
            part_kinds=kinds,
            coverage=min(coverage) if coverage else None,
            max_gap_s=max(gaps) if gaps else None,
            counter_power_rel=max(agreement, key=abs) if agreement else None,
            part_sources=sources,
            per_device_j=per_device,
        )
