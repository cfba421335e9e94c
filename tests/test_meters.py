from __future__ import annotations

import time

import pytest

from benchsuite.errors import UsageError
from benchsuite.meters import ESTIMATED, EstimateMeter, all_meters, meter_for_device


def _busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_estimate_is_labelled_and_follows_its_model() -> None:
    meter = EstimateMeter(cpu_w_per_core=10.0, memory_w_per_gib=0.0)
    meter.start()
    _busy(0.2)
    reading = meter.stop()
    assert reading.kind == ESTIMATED
    assert reading.source == "estimate"
    assert "cpu_w_per_core=10" in reading.model
    # one busy thread for 0.2 s at 10 W/core: about 2 J
    assert reading.energy_j == pytest.approx(2.0, rel=0.25)
    assert reading.domain_energy_j["process-memory"] == 0.0


def test_idle_costs_only_memory() -> None:
    meter = EstimateMeter(cpu_w_per_core=10.0, memory_w_per_gib=1.0)
    meter.start()
    time.sleep(0.2)
    reading = meter.stop()
    assert reading.domain_energy_j["process-cpu"] < 0.05
    assert reading.domain_energy_j["process-memory"] > 0


def test_bad_environment_override_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCHSUITE_CPU_W_PER_CORE", "lots")
    with pytest.raises(
        UsageError, match="BENCHSUITE_CPU_W_PER_CORE='lots' is not a positive number"
    ):
        EstimateMeter()


def test_this_machine_falls_back_to_the_estimate() -> None:
    assert all(meter.info().source for meter in all_meters())
    assert meter_for_device("cpu").kind in ("measured", "estimated")
