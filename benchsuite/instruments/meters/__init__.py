"""Energy meters, one module per source, and the choice of meter for a device.

``rapl`` (CPU packages and DRAM via powercap), ``nvml`` (NVIDIA GPUs), ``amdsmi`` (AMD GPUs),
``intel-gpu`` (Intel GPUs' hwmon counter), ``apple`` (Apple silicon's CPU, GPU, DRAM and neural
engine), ``jetson`` (a Jetson's INA3221 rails), ``module`` (a Grace Hopper module's own power),
``redfish`` and ``ipmi`` (the whole machine at its power supply, from the BMC), ``codecarbon``
(optional, for comparison with CodeCarbon) and ``estimate`` (a labelled model, the fallback
everywhere). docs/energy.md has the table: what each reads, its resolution, what it needs, how it
is validated.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass

import torch

from benchsuite.errors import UsageError, did_you_mean
from benchsuite.instruments.meters.amdsmi import AmdSmiMeter
from benchsuite.instruments.meters.apple import AppleSiliconMeter
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
from benchsuite.instruments.meters.intel_gpu import IntelGpuMeter
from benchsuite.instruments.meters.ipmi import IpmiMeter
from benchsuite.instruments.meters.jetson import JetsonRailsMeter
from benchsuite.instruments.meters.module_power import ModulePowerMeter
from benchsuite.instruments.meters.nvml import NvmlMeter
from benchsuite.instruments.meters.rapl import RaplMeter
from benchsuite.instruments.meters.redfish import RedfishMeter

__all__ = [
    "ESTIMATED",
    "MEASURED",
    "METER_CHOICES",
    "AmdSmiMeter",
    "AppleSiliconMeter",
    "CodeCarbonMeter",
    "CompositeMeter",
    "EnergyReading",
    "EstimateMeter",
    "IntelGpuMeter",
    "IpmiMeter",
    "JetsonRailsMeter",
    "Meter",
    "MeterChoice",
    "MeterInfo",
    "MeterKind",
    "ModulePowerMeter",
    "NvmlMeter",
    "RaplMeter",
    "RedfishMeter",
    "all_meters",
    "choose_meter",
    "meter_for",
]

METER_CHOICES = (
    "auto",
    "rapl",
    "nvml",
    "amdsmi",
    "intel-gpu",
    "apple",
    "jetson",
    "module",
    "redfish",
    "ipmi",
    "codecarbon",
    "estimate",
)


@dataclass(frozen=True)
class MeterChoice:
    """The meter a device's cases use, and a note when it is not the one asked for."""

    meter: Meter
    note: str = ""


def all_meters() -> list[Meter]:
    """Every meter benchsuite knows, available here or not (for ``benchsuite meters``)."""
    return [meter_for(source, "cpu") for source in METER_CHOICES if source != "auto"]


def _cuda_index(device: str) -> int:
    return torch.device(device).index or 0


def _available(meters: list[Meter]) -> tuple[list[Meter], dict[str, str]]:
    """The meters that work here, and why each other one does not."""
    kept, why_not = [], {}
    for meter in meters:
        info = meter.info()
        if info.available:
            kept.append(meter)
        else:
            why_not[meter.source] = info.detail
    return kept, why_not


def _platform() -> Meter | None:
    """The BMC's reading of the whole machine, where one is configured and answers."""
    redfish = RedfishMeter()
    if redfish.settings.get("url") and redfish.info().available:
        return redfish
    ipmi = IpmiMeter()
    return ipmi if shutil.which("ipmitool") and ipmi.info().available else None


def _auto(device: str) -> MeterChoice:
    """Every measured source for ``device`` and its host, on one window: the GPU's (NVML, else
    AMD SMI) for a CUDA device; the host's CPU packages and DRAM (RAPL), a system on chip's
    (Apple silicon, a Jetson's rails), a module's own power, and the whole machine at its power
    supply (Redfish or IPMI), wherever each can be read. A part that another one includes is left
    out (:func:`~benchsuite.instruments.meters.composite.without_overlap`). The labelled estimate
    only when nothing can be measured. A host part that cannot be read is left out (and its
    column null), never filled with an estimate: an estimated part would make the total an
    estimate too."""
    host, why_not = _available(
        [RaplMeter(), AppleSiliconMeter(), JetsonRailsMeter(), ModulePowerMeter()]
    )
    gpu: Meter | None = None
    if device.startswith("cuda"):
        index = _cuda_index(device)
        gpu_why_not = {}
        for candidate in (NvmlMeter([index]), AmdSmiMeter([index])):  # AMD only without NVML
            info = candidate.info()
            if info.available:
                gpu = candidate
                break
            gpu_why_not[candidate.source] = info.detail
        if gpu is None:
            return MeterChoice(
                EstimateMeter(),
                f"no GPU energy reading ({gpu_why_not.get('nvml')}; {gpu_why_not.get('amdsmi')});"
                " the estimate covers the host process only, not the GPU",
            )
    platform = _platform()
    parts = [*([gpu] if gpu else []), *host, *([platform] if platform else [])]
    if not parts:
        return MeterChoice(EstimateMeter(), f"RAPL unavailable: {why_not['rapl']}")
    note = ""
    if gpu is not None and not host and "rapl" in why_not:
        note = (
            f"the host's CPU and DRAM are not in the total (RAPL unavailable: "
            f"{why_not['rapl']}); the GPU is"
        )
    if len(parts) == 1:
        return MeterChoice(parts[0], note)
    composite = CompositeMeter(parts)
    note = "; ".join(filter(None, (note, *composite.left_out)))
    return MeterChoice(composite, note)


def meter_for(source: str, device: str) -> Meter:
    """A new meter of ``source`` (not ``auto``) for ``device``'s cases, available or not: a case
    worker builds the very meter its parent chose, by its source."""
    if "+" in source:  # a composite, e.g. nvml+rapl
        return CompositeMeter([meter_for(part, device) for part in source.split("+")])
    index = [_cuda_index(device)] if device.startswith("cuda") else None
    makers: dict[str, Callable[[], Meter]] = {
        "rapl": RaplMeter,
        "nvml": lambda: NvmlMeter(index),
        "amdsmi": lambda: AmdSmiMeter(index),
        "intel-gpu": IntelGpuMeter,
        "apple": AppleSiliconMeter,
        "jetson": JetsonRailsMeter,
        "module": ModulePowerMeter,
        "redfish": RedfishMeter,
        "ipmi": IpmiMeter,
        "codecarbon": CodeCarbonMeter,
        "estimate": EstimateMeter,
    }
    if source not in makers:
        raise ValueError(f"no meter has source {source!r}")
    return makers[source]()


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
