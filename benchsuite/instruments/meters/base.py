"""The meter interface: how many joules did these domains use between ``start()`` and ``stop()``.

Every reading carries its provenance, so nothing downstream can present an estimate as a
measurement: ``source`` (rapl, nvml, codecarbon, estimate), ``kind`` (measured or estimated), the
domains it covers and the meter's resolution.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

MeterKind = Literal["measured", "estimated"]
MEASURED: MeterKind = "measured"
ESTIMATED: MeterKind = "estimated"


@dataclass(frozen=True)
class MeterInfo:
    """What a meter is and whether it can be used here; ``detail`` says why not, or how it works."""

    source: str
    kind: MeterKind
    available: bool
    detail: str
    domains: tuple[str, ...] = ()
    resolution_s: float | None = None


@dataclass(frozen=True)
class EnergyReading:
    """Energy used between a meter's ``start()`` and ``stop()``.

    ``energy_j`` is the sum over ``domains`` and nothing else; ``domain_energy_j`` gives each part.
    ``domain_energy_j`` may also hold parts that overlap the total (RAPL's core inside its
    package) for information. ``model`` describes how an estimate was made, with its inputs, or
    how a measurement was derived (power integrated from polls). ``invalid_reason`` is set when
    the meter saw something that makes the figure unusable (a counter that went backwards).
    """

    source: str
    kind: MeterKind
    domains: tuple[str, ...]
    energy_j: float
    duration_s: float
    resolution_s: float
    domain_energy_j: Mapping[str, float] = field(default_factory=dict)
    model: str = ""
    invalid_reason: str = ""
    parts: Mapping[str, float] = field(default_factory=dict)
    """A composite reading's total split into cpu, dram and gpu (empty for one meter's reading:
    :func:`benchsuite.instruments.meters.composite.split_parts` works it out from the domains)."""
    part_kinds: Mapping[str, MeterKind] = field(default_factory=dict)
    """The kind of each part of ``parts``: the meter that read it."""
    coverage: float | None = None
    """The share of the window a polled source's samples covered (``None``: a counter, read at
    the window's edges)."""
    max_gap_s: float | None = None
    """The largest gap between a polled source's samples."""
    counter_power_rel: float | None = None
    """A counter against its own integrated power, where the source has both: their relative
    difference."""
    part_sources: Mapping[str, str] = field(default_factory=dict)
    """The source that read each part of ``parts`` (a composite's)."""
    per_device_j: Mapping[str, float] = field(default_factory=dict)
    """Each accelerator's own energy, by a label with its visible and physical ids
    (``cuda:0 = nvml 2``): the total is their sum, never their mean."""

    @property
    def average_power_w(self) -> float:
        return self.energy_j / self.duration_s if self.duration_s > 0 else float("nan")


class MeterWindow:
    """An open window of a meter; :attr:`reading` is set when the ``with`` block ends."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter
        self._reading: EnergyReading | None = None

    @property
    def reading(self) -> EnergyReading:
        if self._reading is None:
            raise RuntimeError("the energy window is still open: read it after the with block")
        return self._reading


class Meter(ABC):
    """One source of energy figures. Subclasses implement one vendor or model each.

    Use :meth:`window` rather than ``start``/``stop``: it closes the window (and stops a polling
    thread, for NVML) even when the measured code raises.
    """

    @contextmanager
    def window(self) -> Iterator[MeterWindow]:
        """``with meter.window() as w: work()``, then ``w.reading``; always closed."""
        window = MeterWindow(self)
        self.start()
        try:
            yield window
        finally:
            window._reading = self.stop()

    source: str
    kind: MeterKind
    reads: frozenset[str] = frozenset()
    """The parts its readings hold (``cpu``, ``dram``, ``gpu``, ``soc``, ``platform``)."""
    covers: frozenset[str] = frozenset()
    """Parts of *other* meters its reading already includes (a module's power includes its GPU,
    CPU and memory): a composite leaves out a meter that reads only such parts."""

    @abstractmethod
    def info(self) -> MeterInfo:
        """Describe the meter and whether it is available on this machine (never raises)."""

    @abstractmethod
    def start(self) -> None:
        """Begin a measurement window."""

    @abstractmethod
    def stop(self) -> EnergyReading:
        """End the window begun by :meth:`start` and return its energy."""
