from __future__ import annotations

import time

import pytest

from benchsuite.errors import UsageError
from benchsuite.instruments.meters import (
    ESTIMATED,
    METER_CHOICES,
    CodeCarbonMeter,
    EstimateMeter,
    all_meters,
    choose_meter,
)


def _busy(seconds: float) -> None:
    """Spin until this thread has used ``seconds`` of CPU time (not wall time: on a loaded
    machine a wall-clock spin gets less CPU than it asks for)."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_estimate_is_labelled_and_follows_its_model() -> None:
    meter = EstimateMeter(cpu_w_per_core=10.0, memory_w_per_gib=0.0)
    cpu_before_s = time.process_time()
    meter.start()
    _busy(0.2)
    reading = meter.stop()
    cpu_s = time.process_time() - cpu_before_s
    assert reading.kind == ESTIMATED
    assert reading.source == "estimate"
    assert "cpu_w_per_core=10" in reading.model
    # 10 W per core-second of this process's CPU time: at least the busy thread's 0.2 s (2 J),
    # plus whatever other threads of the process (a thread pool spinning down) used meanwhile
    assert reading.energy_j == pytest.approx(10.0 * cpu_s, rel=0.05)
    assert reading.energy_j >= 10.0 * 0.2 * 0.9
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


def test_every_meter_is_listed_with_a_reason() -> None:
    infos = {meter.info().source: meter.info() for meter in all_meters()}
    assert set(infos) == set(METER_CHOICES) - {"auto"}  # every source is listed
    assert all(info.detail for info in infos.values())
    assert infos["estimate"].available and infos["estimate"].kind == ESTIMATED


def test_cpu_without_counters_uses_the_estimate_and_says_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("BENCHSUITE_POWERCAP_ROOT", str(tmp_path))
    choice = choose_meter("cpu")
    assert choice.meter.source == "estimate"
    assert choice.note.startswith("RAPL unavailable: no RAPL zones under")


def test_unknown_meter_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--meter rpal: unknown meter; did you mean 'rapl'"):
        choose_meter("cpu", "rpal")


def test_codecarbon_reading_is_estimated_when_it_models_any_part() -> None:
    pytest.importorskip("codecarbon")
    meter = CodeCarbonMeter(country_iso_code="FRA")
    info = meter.info()
    assert info.available, info.detail
    meter.start()
    _busy(1.2)
    reading = meter.stop()
    assert reading.source == "codecarbon"
    # RAM is always a model in CodeCarbon, so a reading that includes it cannot be "measured"
    assert "ram" in reading.domains
    assert reading.kind == ESTIMATED
    assert "ram: estimated" in reading.model
    assert reading.energy_j > 0
    assert reading.energy_j == pytest.approx(sum(reading.domain_energy_j.values()), rel=1e-6)
