"""Energy meters, one module per source, and the choice of meters for a device."""

from __future__ import annotations

from benchsuite.meters.base import (
    ESTIMATED,
    MEASURED,
    EnergyReading,
    Meter,
    MeterInfo,
    MeterKind,
)
from benchsuite.meters.estimate import EstimateMeter

__all__ = [
    "ESTIMATED",
    "MEASURED",
    "EnergyReading",
    "EstimateMeter",
    "Meter",
    "MeterInfo",
    "MeterKind",
    "all_meters",
    "meter_for_device",
]


def all_meters() -> list[Meter]:
    """Every meter benchsuite knows, available here or not (for ``benchsuite meters``)."""
    return [EstimateMeter()]


def meter_for_device(device: str) -> Meter:
    """The best available meter for a case on ``device``: a counter when one exists, else the
    labelled estimate."""
    for meter in all_meters():
        if meter.info().available and meter.kind == MEASURED:
            return meter
    return EstimateMeter()
