"""The energy protocol of one case: an idle window, then several windows of back-to-back calls.

Each window runs calls until it has lasted ``window_s``; the meter reads the whole window, so its
resolution is spread over many calls. A suite cannot know which meter ``auto`` will pick, so the
idle and busy windows are stretched to at least 100 update periods of the meter in use (10 s for
NVML's energy counter, which a GPU updates every 100 ms); the lengths used are stored. Idle
power is read by the same meter, and each window's net energy subtracts it. The case reports the
median energy per sample across windows with an interval (order statistics when there are 6 or
more windows, else the min-max range, which is labelled as such).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from benchsuite.meters.base import EnergyReading, Meter
from benchsuite.stats import median_interval

MIN_WINDOWS_FOR_CI = 6
MIN_WINDOWS = 5
MIN_WINDOW_S = 1.0
WINDOW_RESOLUTION_FACTOR = 100  # a window lasts at least 100 meter update periods
MAX_PLAUSIBLE_POWER_W = 5_000.0  # a reading above this for one case's domains is broken


def resolution_window_s(resolution_s: float) -> float:
    """What a meter's resolution needs of a window: 100 update periods."""
    return WINDOW_RESOLUTION_FACTOR * resolution_s


def min_window_s(resolution_s: float) -> float:
    """The shortest valid window for a meter: 100 update periods, and never under 1 s."""
    return max(MIN_WINDOW_S, resolution_window_s(resolution_s))


@dataclass(frozen=True)
class EnergyConfig:
    windows: int = 5
    window_s: float = 1.0
    idle_s: float = 1.0

    def __post_init__(self) -> None:
        if self.windows < 1:
            raise ValueError(f"energy windows must be at least 1, got {self.windows}")
        if self.window_s <= 0 or self.idle_s <= 0:
            raise ValueError("energy window_s and idle_s must be positive")


@dataclass(frozen=True)
class EnergyWindow:
    index: int
    calls: int
    samples: int
    reading: EnergyReading
    idle_power_w: float

    @property
    def energy_per_sample_j(self) -> float:
        return self.reading.energy_j / self.samples

    @property
    def net_energy_j(self) -> float:
        return self.reading.energy_j - self.idle_power_w * self.reading.duration_s

    @property
    def net_energy_per_sample_j(self) -> float:
        return self.net_energy_j / self.samples


@dataclass(frozen=True)
class EnergyResult:
    idle: EnergyReading
    windows: tuple[EnergyWindow, ...]
    window_s: float  # the busy window length used: the configured one, or stretched
    energy_per_sample_j: float
    energy_per_sample_low_j: float
    energy_per_sample_high_j: float
    interval_method: str
    net_energy_per_sample_j: float
    valid: bool
    invalid_reason: str

    @property
    def idle_power_w(self) -> float:
        return self.idle.average_power_w

    @property
    def total_energy_j(self) -> float:
        return sum(window.reading.energy_j for window in self.windows)

    @property
    def average_power_w(self) -> float:
        duration = sum(window.reading.duration_s for window in self.windows)
        return self.total_energy_j / duration if duration > 0 else float("nan")


def _validity(idle: EnergyReading, windows: tuple[EnergyWindow, ...]) -> str:
    """An empty string when every window is usable, else the first reason it is not."""
    if idle.invalid_reason:
        return f"idle window: {idle.invalid_reason}"
    if idle.energy_j < 0:
        return f"idle window read {idle.energy_j:g} J (negative)"
    if len(windows) < MIN_WINDOWS:
        return f"{len(windows)} energy windows, fewer than the minimum {MIN_WINDOWS}"
    for window in windows:
        reading = window.reading
        shortest = min_window_s(reading.resolution_s)
        if reading.invalid_reason:
            return f"window {window.index}: {reading.invalid_reason}"
        if reading.energy_j <= 0:
            return f"window {window.index} read {reading.energy_j:g} J (zero or negative)"
        if reading.duration_s < shortest:
            return (
                f"window {window.index} lasted {reading.duration_s:.3g} s, shorter than the "
                f"minimum {shortest:g} s for a meter of {reading.resolution_s:g} s resolution"
            )
        if not 0 < reading.average_power_w <= MAX_PLAUSIBLE_POWER_W:
            return (
                f"window {window.index} average power {reading.average_power_w:.4g} W is "
                f"outside the plausible range (0, {MAX_PLAUSIBLE_POWER_W:g}] W"
            )
    return ""


def _idle_reading(meter: Meter, idle_s: float) -> EnergyReading:
    meter.start()
    time.sleep(idle_s)
    return meter.stop()


def read_idle(meter: Meter, idle_s: float) -> EnergyReading:
    """An idle window of ``idle_s``, read again for longer when the meter's resolution needs it
    (100 update periods; the first reading tells the meter's resolution)."""
    idle = _idle_reading(meter, idle_s)
    needed_s = resolution_window_s(idle.resolution_s)
    if idle.duration_s < needed_s:
        idle = _idle_reading(meter, needed_s)
    return idle


def measure_energy(
    call: Callable[[], object],
    sync: Callable[[], None] | None,
    meter: Meter,
    samples_per_call: int,
    config: EnergyConfig,
) -> EnergyResult:
    """Run the idle window and ``config.windows`` busy windows of back-to-back calls."""
    idle = read_idle(meter, config.idle_s)
    idle_power_w = idle.average_power_w
    window_s = max(config.window_s, resolution_window_s(idle.resolution_s))
    window_ns = int(window_s * 1e9)
    windows = []
    for index in range(config.windows):
        calls = 0
        meter.start()
        start = time.perf_counter_ns()
        while time.perf_counter_ns() - start < window_ns:
            call()
            calls += 1
        if sync is not None:
            sync()
        reading = meter.stop()
        windows.append(EnergyWindow(index, calls, calls * samples_per_call, reading, idle_power_w))
    measured = tuple(windows)

    per_sample = [window.energy_per_sample_j for window in measured]
    if len(per_sample) >= MIN_WINDOWS_FOR_CI:
        interval = median_interval(per_sample)
        low, high, method = (
            interval.low,
            interval.high,
            f"{len(per_sample)} windows, 95% CI of median",
        )
    else:
        low, high = min(per_sample), max(per_sample)
        method = f"{len(per_sample)} windows, min-max range"
    reason = _validity(idle, measured)
    return EnergyResult(
        idle=idle,
        windows=measured,
        window_s=window_s,
        energy_per_sample_j=median_interval(per_sample).median,
        energy_per_sample_low_j=low,
        energy_per_sample_high_j=high,
        interval_method=method,
        net_energy_per_sample_j=median_interval(
            [window.net_energy_per_sample_j for window in measured]
        ).median,
        valid=not reason,
        invalid_reason=reason,
    )
