"""A meter read in consecutive parts of one window, while the work runs in the foreground.

A load window is one long stretch of work that cannot be cut into calls the way an in-process
model's windows are. Its energy per output token still has a spread, and the windows's parts
show it: a background thread closes the meter's window every ``part_s`` and opens the next at
once, so the parts tile the whole window (their energies add up to the window's). Each part's
figure (its energy over the tokens that arrived in it) is a batch mean, and the interval over
them is the level's interval. Parts are never shorter than the meter's shortest valid window.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from benchsuite.instruments.meters.base import EnergyReading, Meter

T = TypeVar("T")


@dataclass(frozen=True)
class Part:
    """One part of a split window: its span on ``time.perf_counter_ns`` and its reading."""

    start_ns: int
    end_ns: int
    reading: EnergyReading


def summed(readings: Sequence[EnergyReading], what: str = "parts") -> EnergyReading:
    """One reading for consecutive ones: energies and durations added, the first's provenance,
    the first problem any of them had."""
    first = readings[0]
    return dataclasses.replace(
        first,
        energy_j=sum(reading.energy_j for reading in readings),
        duration_s=sum(reading.duration_s for reading in readings),
        domain_energy_j={
            domain: sum(reading.domain_energy_j.get(domain, 0.0) for reading in readings)
            for domain in first.domain_energy_j
        },
        parts={
            part: sum(reading.parts.get(part, 0.0) for reading in readings) for part in first.parts
        },
        model=f"{len(readings)} {what} summed; the first: {first.model}"
        if len(readings) > 1
        else first.model,
        invalid_reason=next((r.invalid_reason for r in readings if r.invalid_reason), ""),
    )


def read_in_parts(meter: Meter, part_s: float, work: Callable[[], T]) -> tuple[T, list[Part]]:
    """Run ``work()`` while ``meter`` reads consecutive parts of ``part_s`` (the last one ends
    with the work, and is merged into the one before when it is shorter than half a part)."""
    parts: list[Part] = []
    done = threading.Event()

    def split() -> None:
        start = time.perf_counter_ns()
        meter.start()
        while not done.wait(part_s):
            reading = meter.stop()
            end = time.perf_counter_ns()
            meter.start()
            parts.append(Part(start, end, reading))
            start = end
        end = time.perf_counter_ns()
        parts.append(Part(start, end, meter.stop()))

    splitter = threading.Thread(target=split, name="benchsuite-split-window", daemon=True)
    splitter.start()
    try:
        result = work()
    finally:
        done.set()
        splitter.join()
    if len(parts) > 1 and parts[-1].reading.duration_s < part_s / 2:
        last, before = parts.pop(), parts.pop()
        merged = summed([before.reading, last.reading])
        parts.append(Part(before.start_ns, last.end_ns, merged))
    return result, parts
