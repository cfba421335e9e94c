"""An energy *estimate* for machines with no energy counter. Its readings are always ``estimated``.

Model (documented in docs/energy.md):

    energy_j = cpu_time_s × cpu_w_per_core + rss_gib × memory_w_per_gib × wall_s

* ``cpu_time_s`` is the process's CPU time over the window (all its threads, user + system), read
  from ``time.process_time_ns``: busy cores cost power, idle ones are not charged to the case.
* ``cpu_w_per_core`` is the power of one fully busy core. Default 10 W: a server CPU's TDP divided
  by its core count lies between about 4 and 12 W (for example 280 W / 64 cores = 4.4 W,
  205 W / 24 cores = 8.5 W). Set ``BENCHSUITE_CPU_W_PER_CORE`` to your processor's TDP / cores.
* memory is charged 0.375 W per GiB of the process's resident set (CodeCarbon's figure, 3 W per
  8 GB), override with ``BENCHSUITE_MEMORY_W_PER_GIB``.

The model ignores the rest of the platform (uncore, fans, PSU losses) and frequency scaling, so it
is a rough figure for comparing variants on one machine, never a measurement.
"""

from __future__ import annotations

import os
import time

from benchsuite.errors import UsageError
from benchsuite.instruments.memory import current_rss_bytes
from benchsuite.instruments.meters.base import ESTIMATED, EnergyReading, Meter, MeterInfo

DEFAULT_CPU_W_PER_CORE = 10.0
DEFAULT_MEMORY_W_PER_GIB = 0.375
CPU_W_PER_CORE_ENV = "BENCHSUITE_CPU_W_PER_CORE"
MEMORY_W_PER_GIB_ENV = "BENCHSUITE_MEMORY_W_PER_GIB"
_GIB = 1024**3


def _positive_float_from_env(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise UsageError(
            f"environment variable {name}={raw!r} is not a positive number of watts; "
            f"set it to e.g. {default} or unset it"
        )
    return value


class EstimateMeter(Meter):
    """CPU-time × per-core power plus resident memory × per-GiB power, for the whole process."""

    source = "estimate"
    reads = frozenset({"cpu", "dram"})
    kind = ESTIMATED
    domains = ("process-cpu", "process-memory")
    resolution_s = 1e-6  # process_time_ns resolution on Linux is far finer; 1 µs is stated

    def __init__(self, cpu_w_per_core: float | None = None, memory_w_per_gib: float | None = None):
        self.cpu_w_per_core = (
            cpu_w_per_core
            if cpu_w_per_core is not None
            else _positive_float_from_env(CPU_W_PER_CORE_ENV, DEFAULT_CPU_W_PER_CORE)
        )
        self.memory_w_per_gib = (
            memory_w_per_gib
            if memory_w_per_gib is not None
            else _positive_float_from_env(MEMORY_W_PER_GIB_ENV, DEFAULT_MEMORY_W_PER_GIB)
        )
        self._start_cpu_ns: int | None = None
        self._start_wall_ns = 0

    def info(self) -> MeterInfo:
        return MeterInfo(
            source=self.source,
            kind=self.kind,
            available=True,
            detail=(
                f"estimate: process CPU time x {self.cpu_w_per_core:g} W/core + "
                f"RSS x {self.memory_w_per_gib:g} W/GiB (no hardware counter read)"
            ),
            domains=self.domains,
            resolution_s=self.resolution_s,
        )

    def charge(self, cpu_s: float, rss_gib: float, wall_s: float) -> tuple[float, float]:
        """The model: (CPU joules, memory joules) for ``cpu_s`` of CPU time and ``rss_gib``
        resident over ``wall_s``; a server's process tree is charged by the same model."""
        return cpu_s * self.cpu_w_per_core, rss_gib * self.memory_w_per_gib * wall_s

    def start(self) -> None:
        self._start_wall_ns = time.perf_counter_ns()
        self._start_cpu_ns = time.process_time_ns()

    def stop(self) -> EnergyReading:
        cpu_ns = time.process_time_ns()
        wall_ns = time.perf_counter_ns()
        if self._start_cpu_ns is None:
            raise RuntimeError("EstimateMeter.stop() called before start()")
        cpu_s = (cpu_ns - self._start_cpu_ns) / 1e9
        wall_s = (wall_ns - self._start_wall_ns) / 1e9
        self._start_cpu_ns = None
        rss_gib = current_rss_bytes() / _GIB
        cpu_j, memory_j = self.charge(cpu_s, rss_gib, wall_s)
        return EnergyReading(
            source=self.source,
            kind=self.kind,
            domains=self.domains,
            energy_j=cpu_j + memory_j,
            duration_s=wall_s,
            resolution_s=self.resolution_s,
            domain_energy_j={"process-cpu": cpu_j, "process-memory": memory_j},
            model=(
                f"cpu_time_s={cpu_s:.4f} x cpu_w_per_core={self.cpu_w_per_core:g}"
                f" + rss_gib={rss_gib:.3f} x memory_w_per_gib={self.memory_w_per_gib:g}"
                f" x wall_s={wall_s:.4f}"
            ),
        )
