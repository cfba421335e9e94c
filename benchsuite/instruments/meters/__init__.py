"""Energy meters, one module per source, and the choice of meter for a device.

``rapl`` (CPU packages and DRAM via powercap), ``nvml`` (NVIDIA GPUs), ``codecarbon`` (optional,
for comparison with CodeCarbon) and ``estimate`` (a labelled model, the fallback everywhere).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from benchsuite.errors import UsageError, did_you_mean
from benchsuite.instruments.meters.base import (
    ESTIMATED,
    MEASURED,
    EnergyReading,
    Meter,
    MeterInfo,
    MeterKind,
)
from benchsuite.instruments.meters.codecarbon import CodeCarbonMeter
from benchsuite.instruments.meters.composite import CompositeMeter
from benchsuite.instruments.meters.estimate import EstimateMeter
from benchsuite.instruments.meters.nvml import NvmlMeter
from benchsuite.instruments.meters.rapl import RaplMeter

__all__ = [
    "ESTIMATED",
    "MEASURED",
    "METER_CHOICES",
    "CodeCarbonMeter",
    "CompositeMeter",
    "EnergyReading",
    "EstimateMeter",
    "Meter",
    "MeterChoice",
    "MeterInfo",
    "MeterKind",
    "NvmlMeter",
    "RaplMeter",
    "all_meters",
    "choose_meter",
    "meter_for",
]

METER_CHOICES = ("auto", "rapl", "nvml", "codecarbon", "estimate")


@dataclass(frozen=True)
class MeterChoice:
    """The meter a device's cases use, and a note when it is not the one asked for."""

    meter: Meter
    note: str = ""


def all_meters() -> list[Meter]:
    """Every meter benchsuite knows, available here or not (for ``benchsuite meters``)."""
    return [RaplMeter(), NvmlMeter(), CodeCarbonMeter(), EstimateMeter()]


def _cuda_index(device: str) -> int:
    return torch.device(device).index or 0


def _auto(device: str) -> MeterChoice:
    """Every measured source for ``device`` and its host, on one window: NVML for a CUDA
    device's GPU plus RAPL for the host's packages and DRAM where each can be read; the labelled
    estimate only when nothing can be measured. A host part that cannot be read is left out (and
    its column null), never filled with an estimate: an estimated part would make the total an
    estimate too."""
    rapl = RaplMeter()
    rapl_info = rapl.info()
    if device.startswith("cuda"):
        nvml = NvmlMeter([_cuda_index(device)])
        info = nvml.info()
        if info.available and rapl_info.available:
            return MeterChoice(CompositeMeter([nvml, rapl]))
        if info.available:
            return MeterChoice(
                nvml,
                f"the host's CPU and DRAM are not in the total (RAPL unavailable: "
                f"{rapl_info.detail}); the GPU is",
            )
        return MeterChoice(
            EstimateMeter(),
            f"no GPU energy reading ({info.detail}); the "
            "estimate covers the host process only, not the GPU",
        )
    if rapl_info.available:
        return MeterChoice(rapl)
    return MeterChoice(EstimateMeter(), f"RAPL unavailable: {rapl_info.detail}")


def meter_for(source: str, device: str) -> Meter:
    """A new meter of ``source`` (not ``auto``) for ``device``'s cases, available or not: a case
    worker builds the very meter its parent chose, by its source."""
    if "+" in source:  # a composite, e.g. nvml+rapl
        return CompositeMeter([meter_for(part, device) for part in source.split("+")])
    if source == "rapl":
        return RaplMeter()
    if source == "nvml":
        return NvmlMeter([_cuda_index(device)] if device.startswith("cuda") else None)
    if source == "codecarbon":
        return CodeCarbonMeter()
    if source == "estimate":
        return EstimateMeter()
    raise ValueError(f"no meter has source {source!r}")


def choose_meter(device: str, requested: str = "auto") -> MeterChoice:
    """The meter for cases on ``device``: ``requested`` when it works here, else the best
    available one with a note that says why (measurement goes on with what there is)."""
    if requested not in METER_CHOICES:
        raise UsageError(
            f"--meter {requested}: unknown meter{did_you_mean(requested, METER_CHOICES)}"
            f"; choose one of {', '.join(METER_CHOICES)}"
        )
    if requested == "auto":
        return _auto(device)
    meter = meter_for(requested, device)
    info = meter.info()
    if info.available:
        return MeterChoice(meter)
    fallback = _auto(device)
    note = (
        f"--meter {requested} is unavailable ({info.detail}); measured with "
        f"{fallback.meter.source} instead"
    )
    return MeterChoice(fallback.meter, note + (f"; {fallback.note}" if fallback.note else ""))
