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

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchsuite.instruments.meters.base import EnergyReading, Meter
from benchsuite.instruments.meters.composite import PARTS, describe_parts, split_parts
from benchsuite.instruments.stats import median_interval

MIN_WINDOWS_FOR_CI = 6
MIN_WINDOWS = 5
MIN_WINDOW_S = 1.0
WINDOW_RESOLUTION_FACTOR = 100  # a window lasts at least 100 meter update periods
MAX_PLAUSIBLE_CASE_POWER_W = 5_000.0  # a reading above this for one case's domains is broken
REWARM_S = 0.2
"""Calls run unmetered between the idle window and the first busy window, so that the first
window does not pay for waking the core from the idle sleep (docs/measurement.md, "Readings
behind rules in the code")."""


def resolution_window_s(resolution_s: float) -> float:
    """What a meter's resolution needs of a window: 100 update periods."""
    return WINDOW_RESOLUTION_FACTOR * resolution_s


def min_window_s(resolution_s: float) -> float:
    """The shortest valid window for a meter: 100 update periods, and never under 1 s."""
    return max(MIN_WINDOW_S, resolution_window_s(resolution_s))


ADAPTIVE_MIN_WINDOWS = 3  # an adaptive case never stops with fewer windows than this


@dataclass(frozen=True)
class EnergyConfig:
    """``windows`` busy windows per case; with ``min_windows`` set, windows stop early once the
    interval of the median energy per sample is within ``target_rel`` of it (at least
    ``min_windows`` windows, at most ``windows``), as latency sampling stops once its interval
    is tight."""

    windows: int = 5
    window_s: float = 1.0
    idle_s: float = 1.0
    min_windows: int | None = None
    """``None``: exactly ``windows`` windows (no early stop)."""
    target_rel: float = 0.05
    """The interval's half-width, relative to the median, at which adaptive windows stop."""

    def __post_init__(self) -> None:
        if self.windows < 1:
            raise ValueError(f"energy windows must be at least 1, got {self.windows}")
        if self.window_s <= 0 or self.idle_s <= 0:
            raise ValueError("energy window_s and idle_s must be positive")
        if self.min_windows is not None and not (
            ADAPTIVE_MIN_WINDOWS <= self.min_windows <= self.windows
        ):
            raise ValueError(
                f"energy_min_windows must lie between {ADAPTIVE_MIN_WINDOWS} and energy_windows "
                f"({self.windows}), got {self.min_windows}"
            )
        if not 0 < self.target_rel < 1:
            raise ValueError(f"energy_target_rel must lie in (0, 1), got {self.target_rel}")

    @property
    def fewest_windows(self) -> int:
        """The fewest windows a case takes, and the fewest a valid energy figure rests on."""
        return MIN_WINDOWS if self.min_windows is None else self.min_windows

    def policy(self) -> str:
        if self.min_windows is None:
            return f"{self.windows} windows of {self.window_s:g} s"
        return (
            f"{self.min_windows} to {self.windows} windows of {self.window_s:g} s, stopping once "
            f"the interval is within ±{self.target_rel:.0%} of the median"
        )


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
    per_sample: bool = True
    """False for a training window: its samples are training samples, so the inference
    per-sample columns stay null (training has its own)."""
    stop_reason: str = ""
    """Why the windows stopped where they did: the policy and the interval reached."""
    shortest_window_s: float | None = None
    """The shortest valid window when not the usual (rounds: 100 meter update periods)."""

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

    @property
    def reading(self) -> EnergyReading:
        """The first busy window's reading: its provenance is every window's."""
        return self.windows[0].reading

    def columns(self) -> dict[str, Any]:
        """The store's energy columns (units in the names)."""
        first = self.reading
        columns: dict[str, Any] = {
            "energy_source": first.source,
            "energy_kind": first.kind,
            "energy_domains": ",".join(first.domains),
            "energy_model": self._model_description() or None,
            "energy_windows": len(self.windows),
            "energy_window_s": self.window_s,
            "energy_total_j": self.total_energy_j,
            "idle_power_w": self.idle_power_w,
            "average_power_w": self.average_power_w,
            "energy_valid": self.valid,
            "energy_invalid_reason": self.invalid_reason or None,
            "energy_min_window_s": (
                self.shortest_window_s
                if self.shortest_window_s is not None
                else min_window_s(first.resolution_s)
            ),
            "energy_stop_reason": self.stop_reason or None,
        }
        parts = split_parts(first)
        columns["energy_parts"] = describe_parts(parts) or None
        columns.update(self._checks(), energy_part_sources=_sources(first) or None)
        devices = self.per_device_per_sample_j()
        columns["energy_per_device_j"] = json.dumps(devices) if devices else None
        if self.per_sample:
            for part in PARTS:
                columns[f"energy_per_sample_{part}_j"] = self.part_per_sample_j(part)
            columns.update(
                energy_interval_method=self.interval_method,
                energy_per_sample_j=self.energy_per_sample_j,
                energy_per_sample_low_j=self.energy_per_sample_low_j,
                energy_per_sample_high_j=self.energy_per_sample_high_j,
                energy_net_per_sample_j=self.net_energy_per_sample_j,
            )
        return columns

    def _checks(self) -> dict[str, float | None]:
        """The windows' validity figures, the worst of each (:mod:`.meters.validity`)."""
        readings = [window.reading for window in self.windows]
        coverage = [r.coverage for r in readings if r.coverage is not None]
        gaps = [r.max_gap_s for r in readings if r.max_gap_s is not None]
        agreement = [r.counter_power_rel for r in readings if r.counter_power_rel is not None]
        return {
            "energy_coverage": min(coverage) if coverage else None,
            "energy_max_gap_s": max(gaps) if gaps else None,
            "energy_counter_power_rel": max(agreement, key=abs) if agreement else None,
        }

    def per_device_per_sample_j(self) -> dict[str, float]:
        """Each accelerator's own energy per sample (the median over windows), by its visible
        and physical ids; the total holds their sum."""
        if not self.per_sample:
            return {}
        labels = self.windows[0].reading.per_device_j.keys()
        return {
            label: float(
                median_interval(
                    [w.reading.per_device_j.get(label, math.nan) / w.samples for w in self.windows]
                ).median
            )
            for label in labels
        }

    def part_per_sample_j(self, part: str) -> float | None:
        """The median over windows of ``part``'s energy per sample; ``None`` when no meter read
        that part."""
        values = []
        for window in self.windows:
            split = split_parts(window.reading)
            if part not in split or window.samples <= 0:
                return None
            values.append(split[part][0] / window.samples)
        return float(median_interval(values).median) if values else None

    def _model_description(self) -> str:
        """For estimates: the model with the inputs of the median window; empty otherwise."""
        ordered = sorted(self.windows, key=lambda window: window.energy_per_sample_j)
        return ordered[len(ordered) // 2].reading.model

    def window_rows(self, case_id: str) -> tuple[dict[str, Any], ...]:
        """One row per window for the store's energy table; the idle window is window -1."""

        def row(index: int, calls: int, samples: int, reading: EnergyReading, net: float | None):
            return {
                "case_id": case_id,
                "window": index,
                "calls": calls,
                "samples": samples,
                "duration_s": reading.duration_s,
                "energy_j": reading.energy_j,
                "net_energy_j": net,
                "source": reading.source,
                "kind": reading.kind,
                "domains": ",".join(reading.domains),
                "model": reading.model,
            }

        rows = [row(-1, 0, 0, self.idle, None)]
        rows += [row(w.index, w.calls, w.samples, w.reading, w.net_energy_j) for w in self.windows]
        return tuple(rows)


def _sources(reading: EnergyReading) -> str:
    """``"cpu: rapl, gpu: nvml"``: the meter that read each part."""
    if reading.part_sources:
        return ", ".join(f"{part}: {source}" for part, source in reading.part_sources.items())
    return ", ".join(f"{part}: {reading.source}" for part in split_parts(reading))


def validity(
    idle: EnergyReading,
    windows: tuple[EnergyWindow, ...],
    min_windows: int,
    min_total_s: float | None = None,
) -> str:
    """An empty string when the idle window and every busy window are usable, else the first
    reason one is not. Inference and training cases are checked by this one function.

    With ``min_total_s`` (a case measured in rounds, :mod:`benchsuite.run.comparison`), a window
    needs only 100 update periods of its meter, and the windows together at least
    ``min_total_s``: many short windows, paired round by round, rather than a few long ones."""
    if idle.invalid_reason:
        return f"idle window: {idle.invalid_reason}"
    if idle.energy_j < 0:
        return f"idle window read {idle.energy_j:g} J (negative)"
    if len(windows) < min_windows:
        return f"{len(windows)} energy windows, fewer than the minimum {min_windows}"
    if min_total_s is not None:
        total_s = sum(window.reading.duration_s for window in windows)
        if total_s < min_total_s:
            return (
                f"the {len(windows)} windows lasted {total_s:.3g} s together, under the "
                f"minimum {min_total_s:g} s"
            )
    for window in windows:
        reading = window.reading
        if min_total_s is None:
            shortest = min_window_s(reading.resolution_s)
        else:
            shortest = resolution_window_s(reading.resolution_s)
        if reading.invalid_reason:
            return f"window {window.index}: {reading.invalid_reason}"
        if reading.energy_j <= 0:
            return f"window {window.index} read {reading.energy_j:g} J (zero or negative)"
        if reading.duration_s < shortest:
            return (
                f"window {window.index} lasted {reading.duration_s:.3g} s, shorter than the "
                f"minimum {shortest:g} s for a meter of {reading.resolution_s * 1e3:.4g} ms "
                "resolution"
            )
        if not 0 < reading.average_power_w <= MAX_PLAUSIBLE_CASE_POWER_W:
            return (
                f"window {window.index} average power {reading.average_power_w:.4g} W is "
                f"outside the plausible range (0, {MAX_PLAUSIBLE_CASE_POWER_W:g}] W"
            )
    return ""


def _idle_reading(meter: Meter, idle_s: float) -> EnergyReading:
    with meter.window() as window:
        time.sleep(idle_s)
    return window.reading


def one_window(idle: EnergyReading, window: EnergyWindow, note: str = "") -> EnergyResult:
    """A load window as the store's energy columns: one window, checked, with no interval (a
    server's and an endpoint's level are each one window)."""
    problem = validity(idle, (window,), 1)
    return EnergyResult(
        idle=idle,
        windows=(window,),
        window_s=window.reading.duration_s,
        energy_per_sample_j=window.energy_per_sample_j,
        energy_per_sample_low_j=math.nan,
        energy_per_sample_high_j=math.nan,
        interval_method="one load window: no interval",
        net_energy_per_sample_j=window.net_energy_per_sample_j,
        valid=not problem,
        invalid_reason=problem,
        stop_reason=note,
    )


def read_idle(meter: Meter, idle_s: float) -> EnergyReading:
    """An idle window of ``idle_s``, read again for longer when the meter's resolution needs it
    (100 update periods; the first reading tells the meter's resolution)."""
    idle = _idle_reading(meter, idle_s)
    needed_s = resolution_window_s(idle.resolution_s)
    if idle.duration_s < needed_s:
        idle = _idle_reading(meter, needed_s)
    return idle


@dataclass(frozen=True)
class WindowInterval:
    """The median of per-window figures with its interval: order statistics from 6 windows,
    else the min-max range (which covers the median with probability 1 - 2 x 0.5^n)."""

    median: float
    low: float
    high: float
    method: str

    @classmethod
    def of(cls, values: list[float]) -> WindowInterval:
        median = median_interval(values).median
        if len(values) >= MIN_WINDOWS_FOR_CI:
            interval = median_interval(values)
            return cls(
                median, interval.low, interval.high, f"{len(values)} windows, 95% CI of median"
            )
        method = f"{len(values)} windows, min-max range"
        return cls(median, min(values), max(values), method)

    @property
    def half_width_rel(self) -> float:
        if self.median <= 0:
            return float("inf")
        return max(self.median - self.low, self.high - self.median) / self.median


def summarize_windows(
    idle: EnergyReading,
    windows: tuple[EnergyWindow, ...],
    window_s: float,
    min_windows: int = MIN_WINDOWS,
    per_sample: bool = True,
    stop_reason: str = "",
    min_total_s: float | None = None,
) -> EnergyResult:
    """The case's energy from its windows: the median per sample with its interval (see
    :class:`WindowInterval`) and its validity (``min_total_s``: see :func:`validity`)."""
    interval = WindowInterval.of([window.energy_per_sample_j for window in windows])
    reason = validity(idle, windows, min_windows, min_total_s)
    return EnergyResult(
        idle=idle,
        windows=windows,
        window_s=window_s,
        energy_per_sample_j=interval.median,
        energy_per_sample_low_j=interval.low,
        energy_per_sample_high_j=interval.high,
        interval_method=interval.method,
        net_energy_per_sample_j=median_interval(
            [window.net_energy_per_sample_j for window in windows]
        ).median,
        valid=not reason,
        invalid_reason=reason,
        per_sample=per_sample,
        stop_reason=stop_reason,
        shortest_window_s=(
            None if min_total_s is None else resolution_window_s(windows[0].reading.resolution_s)
        ),
    )


def measure_energy(
    call: Callable[[], object],
    sync: Callable[[], None] | None,
    meter: Meter,
    samples_per_call: int,
    config: EnergyConfig,
    idle: EnergyReading | None = None,
) -> EnergyResult:
    """Run the idle window (unless ``idle`` was just read by this meter), then busy windows of
    back-to-back calls: ``config.windows`` of them, or with ``config.min_windows`` set, until the
    interval of the median energy per sample is within ``config.target_rel`` of it."""
    if idle is None:
        idle = read_idle(meter, config.idle_s)
        _run_for(call, REWARM_S)  # unmetered: the core wakes from the idle sleep here
    idle_power_w = idle.average_power_w
    window_s = max(config.window_s, resolution_window_s(idle.resolution_s))
    window_ns = int(window_s * 1e9)
    windows: list[EnergyWindow] = []
    stop_reason = f"{config.windows} windows (a fixed count)"
    for index in range(config.windows):
        calls = 0
        with meter.window() as window:
            start = time.perf_counter_ns()
            while time.perf_counter_ns() - start < window_ns:
                call()
                calls += 1
            if sync is not None:
                sync()
        windows.append(
            EnergyWindow(index, calls, calls * samples_per_call, window.reading, idle_power_w)
        )
        if config.min_windows is not None and len(windows) >= config.min_windows:
            stop_reason = _adaptive_stop(windows, config)
            if stop_reason.startswith("interval"):
                break
    return summarize_windows(
        idle, tuple(windows), window_s, config.fewest_windows, stop_reason=stop_reason
    )


def _run_for(call: Callable[[], object], seconds: float) -> None:
    end_ns = time.perf_counter_ns() + int(seconds * 1e9)
    while time.perf_counter_ns() < end_ns:
        call()


def _adaptive_stop(windows: list[EnergyWindow], config: EnergyConfig) -> str:
    """Why adaptive windows stop here ("interval ..."), or would stop at the cap otherwise."""
    half = WindowInterval.of([window.energy_per_sample_j for window in windows]).half_width_rel
    if half <= config.target_rel:
        return (
            f"interval ±{half:.1%} within the ±{config.target_rel:.0%} target after "
            f"{len(windows)} windows ({config.policy()})"
        )
    return (
        f"{len(windows)} windows, the most allowed: interval ±{half:.1%}, target "
        f"±{config.target_rel:.0%} not reached ({config.policy()})"
    )


IDLE_DRIFT_WARN_REL = 0.10
"""The run's idle power, read again at its end, moving more than this is a warning: the run's
net energy figures rest on the first reading."""


def run_level_idle(meter: Meter, idle_s: float) -> EnergyReading | None:
    """The idle reading a whole run can share, or ``None`` when each case must read its own.

    A meter that reads the whole machine (RAPL packages, NVML's GPU: every source but the
    process-local estimate) sees the same idle power whichever process reads it, so the runner
    reads it once per device at the start of the run, and again at the end to check for drift
    (:func:`idle_drift`), instead of spending an idle window on every case (10 s per case on a
    GPU). The estimate models the case process itself (its resident memory counts), so its
    idle is read in each case's own process."""
    if "estimate" in meter.source.split("+") or "codecarbon" in meter.source.split("+"):
        return None
    return read_idle(meter, idle_s)


def idle_drift(first: EnergyReading, last: EnergyReading) -> dict[str, float | bool]:
    """How far the idle power moved between the run's start and end."""
    before, after = first.average_power_w, last.average_power_w
    change = (after - before) / before if before > 0 else float("inf")
    return {
        "idle_power_start_w": before,
        "idle_power_end_w": after,
        "idle_drift_rel": change,
        "idle_drift_warning": abs(change) > IDLE_DRIFT_WARN_REL,
    }
