"""The energy protocol (windows, idle, validity) and carbon, with scripted meter readings."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from benchsuite.errors import UsageError
from benchsuite.instruments.carbon import WORLD_AVERAGE_G_PER_KWH, grid_intensity
from benchsuite.instruments.energy import EnergyConfig, measure_energy, min_window_s
from benchsuite.instruments.meters.base import MEASURED, EnergyReading, Meter, MeterInfo


class ScriptedMeter(Meter):
    """Returns readings from a script: (energy_j, duration_s, invalid_reason) per stop()."""

    source = "scripted"
    kind = MEASURED

    def __init__(self, script: list[tuple[float, float, str]], resolution_s: float = 0.001) -> None:
        self.script: Iterator[tuple[float, float, str]] = iter(script)
        self.resolution_s = resolution_s

    def info(self) -> MeterInfo:
        return MeterInfo(self.source, self.kind, True, "scripted")

    def start(self) -> None:
        pass

    def stop(self) -> EnergyReading:
        energy, duration, invalid = next(self.script)
        return EnergyReading(
            self.source,
            self.kind,
            ("pkg",),
            energy,
            duration,
            self.resolution_s,
            invalid_reason=invalid,
        )


FAST = EnergyConfig(windows=5, window_s=0.01, idle_s=0.01)


def _run(
    script: list[tuple[float, float, str]], config: EnergyConfig = FAST, resolution_s: float = 0.001
):  # type: ignore[no-untyped-def]
    calls = []
    return measure_energy(
        lambda: calls.append(1), None, ScriptedMeter(script, resolution_s), 4, config
    )


def test_median_net_and_idle() -> None:
    idle = (10.0, 1.0, "")  # 10 W idle
    busy = [(50.0, 1.0, ""), (52.0, 1.0, ""), (48.0, 1.0, ""), (51.0, 1.0, ""), (49.0, 1.0, "")]
    result = _run([idle, *busy])
    assert result.valid, result.invalid_reason
    assert result.idle_power_w == 10.0
    samples = [w.samples for w in result.windows]
    assert all(s == 4 * w.calls for s, w in zip(samples, result.windows, strict=True))
    per_sample = sorted(e / s for (e, _, _), s in zip(busy, samples, strict=True))
    assert result.energy_per_sample_j == pytest.approx(per_sample[2])
    assert (result.energy_per_sample_low_j, result.energy_per_sample_high_j) == (
        per_sample[0],
        per_sample[-1],
    )
    assert result.interval_method == "5 windows, min-max range"
    net = sorted((e - 10.0 * d) / s for (e, d, _), s in zip(busy, samples, strict=True))
    assert result.net_energy_per_sample_j == pytest.approx(net[2])
    assert result.total_energy_j == 250.0 and result.average_power_w == 50.0


def test_six_windows_give_an_order_statistic_interval() -> None:
    result = _run(
        [(1.0, 1.0, "")] + [(30.0 + i, 1.0, "") for i in range(6)],
        EnergyConfig(windows=6, window_s=0.01, idle_s=0.01),
    )
    assert result.interval_method == "6 windows, 95% CI of median"


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        ([(1, 1, "")] + [(50, 1, "")] * 4 + [(0.0, 1, "")], "window 4 read 0 J (zero or negative)"),
        (
            [(1, 1, "")]
            + [(50, 1, "")] * 2
            + [(50, 1, "pkg counter went backwards without a wrap")]
            + [(50, 1, "")] * 2,
            "window 2: pkg counter went backwards without a wrap",
        ),
        (
            [(1, 1, "")] + [(50, 1, "")] * 4 + [(50, 0.5, "")],
            "window 4 lasted 0.5 s, shorter than the minimum 1 s",
        ),
        (
            [(1, 1, "")] + [(50, 1, "")] * 4 + [(9e4, 1, "")],
            "window 4 average power 9e+04 W is outside the plausible range",
        ),
        ([(-1, 1, "")] + [(50, 1, "")] * 5, "idle window read -1 J (negative)"),
    ],
)
def test_invalid_windows_mark_the_energy_invalid(script: list, reason: str) -> None:
    result = _run(script)
    assert not result.valid
    assert reason in result.invalid_reason


def test_fewer_than_five_windows_are_invalid() -> None:
    result = _run(
        [(1, 1, "")] + [(50, 1, "")] * 3, EnergyConfig(windows=3, window_s=0.01, idle_s=0.01)
    )
    assert result.invalid_reason == "3 energy windows, fewer than the minimum 5"


class ElapsedMeter(Meter):
    """Reads 10 W over the real elapsed time, with a coarse stated resolution."""

    source = "elapsed"
    kind = MEASURED

    def __init__(self, resolution_s: float) -> None:
        self.resolution_s = resolution_s

    def info(self) -> MeterInfo:
        return MeterInfo(self.source, self.kind, True, "elapsed")

    def start(self) -> None:
        self.started = time.perf_counter()

    def stop(self) -> EnergyReading:
        duration = time.perf_counter() - self.started
        return EnergyReading(
            self.source, self.kind, ("gpu0",), 10.0 * duration, duration, self.resolution_s
        )


def test_windows_stretch_to_a_hundred_meter_updates() -> None:
    config = EnergyConfig(windows=5, window_s=0.01, idle_s=0.01)
    result = measure_energy(lambda: time.sleep(0.001), None, ElapsedMeter(0.002), 1, config)
    assert result.window_s == pytest.approx(0.2)
    assert result.idle.duration_s >= 0.2  # the idle window was read again, long enough
    # at least 0.2 s; the upper bound only catches a window planned far too long (a stall of a
    # loaded shared machine can add tenths of a second to one real sleep)
    assert all(0.2 <= w.reading.duration_s < 0.6 for w in result.windows)
    assert result.idle_power_w == pytest.approx(10.0)
    # a meter finer than the configured window leaves the window as configured
    fine = measure_energy(lambda: None, None, ElapsedMeter(1e-6), 1, config)
    assert fine.window_s == 0.01


def test_minimum_window_follows_the_resolution() -> None:
    assert min_window_s(0.001) == 1.0
    assert min_window_s(0.05) == 5.0


def test_carbon_default_country_and_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENCHSUITE_GRID_G_CO2E_PER_KWH", raising=False)
    monkeypatch.delenv("BENCHSUITE_GRID_COUNTRY", raising=False)
    default = grid_intensity()
    assert default.g_co2e_per_kwh == WORLD_AVERAGE_G_PER_KWH and "IEA" in default.source
    # 3.6 J per sample = 1 Wh per 1,000 samples = 0.475 g at 475 g/kWh
    assert default.grams_per_1000_samples(3.6) == pytest.approx(0.475)
    assert grid_intensity(g_co2e_per_kwh=100).g_co2e_per_kwh == 100


def test_carbon_by_country_from_codecarbon(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("codecarbon", reason="country intensities come from CodeCarbon's data")
    monkeypatch.delenv("BENCHSUITE_GRID_G_CO2E_PER_KWH", raising=False)
    monkeypatch.delenv("BENCHSUITE_GRID_COUNTRY", raising=False)
    france = grid_intensity(country="FRA")
    assert france.region == "France" and "CodeCarbon" in france.source
    assert 10 < france.g_co2e_per_kwh < 200
    monkeypatch.setenv("BENCHSUITE_GRID_G_CO2E_PER_KWH", "250")
    assert grid_intensity(country="FRA").g_co2e_per_kwh == 250
    monkeypatch.setenv("BENCHSUITE_GRID_G_CO2E_PER_KWH", "")
    with pytest.raises(
        UsageError, match="grid country 'FRX' is not in CodeCarbon's data; did you mean"
    ):
        grid_intensity(country="FRX")


class PerCallMeter(Meter):
    """Reads ``joules_per_call`` x the calls made in the window, times the window's factor from
    ``noise`` (1.0 when it runs out): energy per sample is exactly what the script says."""

    source = "per-call"
    kind = MEASURED
    resolution_s = 0.001

    def __init__(self, joules_per_call: float, noise: list[float]) -> None:
        self.joules_per_call = joules_per_call
        self.noise = iter(noise)
        self.calls = 0
        self._start_calls = 0
        self._start_s = 0.0

    def info(self) -> MeterInfo:
        return MeterInfo(self.source, self.kind, True, "per call")

    def start(self) -> None:
        self._start_calls, self._start_s = self.calls, time.perf_counter()

    def stop(self) -> EnergyReading:
        calls = self.calls - self._start_calls
        factor = next(self.noise, 1.0) if calls else 1.0
        energy = max(calls, 1) * self.joules_per_call * factor
        duration = time.perf_counter() - self._start_s
        return EnergyReading(self.source, self.kind, ("pkg",), energy, duration, self.resolution_s)


def _adaptive(noise: list[float], config: EnergyConfig):  # type: ignore[no-untyped-def]
    meter = PerCallMeter(0.5, noise)

    def call() -> None:
        meter.calls += 1

    return measure_energy(call, None, meter, 1, config)


ADAPTIVE = EnergyConfig(windows=5, window_s=0.01, idle_s=0.01, min_windows=3, target_rel=0.05)


def test_adaptive_windows_stop_at_the_minimum_once_the_interval_is_tight() -> None:
    result = _adaptive([1.00, 1.01, 0.99], ADAPTIVE)
    assert len(result.windows) == 3
    assert result.energy_per_sample_j == pytest.approx(0.5)
    assert result.interval_method == "3 windows, min-max range"
    assert result.stop_reason.startswith("interval ±1.0% within the ±5% target after 3 windows")
    assert "3 to 5 windows of 0.01 s" in result.stop_reason
    assert result.columns()["energy_stop_reason"] == result.stop_reason
    assert "3 energy windows" not in result.invalid_reason  # 3 is enough once adaptive


def test_adaptive_windows_go_on_while_the_interval_is_wide_and_stop_at_the_most() -> None:
    # a min-max range only widens as windows are added, so before 6 windows (the order-statistic
    # interval) a case that is not tight after 3 runs to the most allowed
    wide = _adaptive([1.0, 1.08, 1.0, 1.01, 1.0], ADAPTIVE)
    assert len(wide.windows) == 5
    assert wide.stop_reason.startswith("5 windows, the most allowed: interval ±8.0%")
    assert "target ±5% not reached" in wide.stop_reason
    longer = EnergyConfig(windows=12, window_s=0.01, idle_s=0.01, min_windows=3, target_rel=0.05)
    settles = _adaptive([1.0, 1.3, 0.8, 1.0, 1.01, 0.99, 1.0, 1.0, 1.0], longer)
    # the order-statistic interval drops the extremes from 9 windows on: it tightens, and stops
    assert len(settles.windows) == 9
    assert settles.stop_reason.startswith("interval ±1.0% within the ±5% target after 9 windows")


def test_a_fixed_count_says_so_and_needs_five_windows_to_be_valid() -> None:
    fixed = _adaptive([], EnergyConfig(windows=5, window_s=0.01, idle_s=0.01))
    assert len(fixed.windows) == 5 and fixed.stop_reason == "5 windows (a fixed count)"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"windows": 5, "min_windows": 2}, "energy_min_windows must lie between 3 and"),
        ({"windows": 5, "min_windows": 6}, "energy_min_windows must lie between 3 and"),
        ({"min_windows": 3, "target_rel": 1.5}, "energy_target_rel must lie in (0, 1)"),
    ],
)
def test_adaptive_settings_out_of_range_are_refused(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        EnergyConfig(**fields)
