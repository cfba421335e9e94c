"""The whole machine on one window: a fake powercap tree and a fake NVML read together, the
total split by part, and each part's kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchsuite.instruments.energy import EnergyWindow, summarize_windows
from benchsuite.instruments.meters import MEASURED, CompositeMeter, NvmlMeter, RaplMeter
from benchsuite.instruments.meters.composite import split_parts
from benchsuite.instruments.meters.estimate import EstimateMeter
from tests.conftest import FakeClock
from tests.fakes import FakeGpu, FakePowercap, fake_nvml

# the injected profile: two CPU packages with their DRAM, and a GPU ramping 60 W by 40 W/s
PACKAGES_W = {"intel-rapl:0": 48.0, "intel-rapl:1": 31.0}
DRAM_W = {"intel-rapl:0:2": 6.5, "intel-rapl:1:2": 4.25}
CORE_W = {"intel-rapl:0:0": 30.0}  # inside package-0: never added to the total


@pytest.fixture
def machine(tmp_path: Path, fake_clock: FakeClock) -> tuple[FakePowercap, FakeGpu]:
    tree = FakePowercap(tmp_path / "powercap")
    tree.add_zone("intel-rapl:0", "package-0", energy_uj=5_000_000)
    tree.add_zone("intel-rapl:0:0", "core")
    tree.add_zone("intel-rapl:0:2", "dram")
    tree.add_zone("intel-rapl:1", "package-1", energy_uj=9_000_000)
    tree.add_zone("intel-rapl:1:2", "dram")
    gpu = FakeGpu(lambda: fake_clock() / 1e9, lambda t: 60 + 40 * t, lambda t: 60 * t + 20 * t * t)
    return tree, gpu


def _advance(tree: FakePowercap, clock: FakeClock, seconds: float, scale: float) -> None:
    watts = {zone: w * scale for zone, w in {**PACKAGES_W, **DRAM_W, **CORE_W}.items()}
    tree.advance(seconds, watts)
    clock.advance(int(seconds * 1e9))


def test_each_part_recovers_the_injected_profile_within_half_a_percent(
    machine: tuple[FakePowercap, FakeGpu], fake_clock: FakeClock
) -> None:
    tree, gpu = machine
    rapl = RaplMeter(tree.root, clock=fake_clock)
    nvml = NvmlMeter(nvml=fake_nvml([gpu]), clock=fake_clock, sync=lambda: None)
    meter = CompositeMeter([rapl, nvml])
    assert meter.source == "nvml+rapl"  # the GPU's meter first: it synchronises the device
    assert meter.info().available
    t0 = fake_clock() / 1e9
    meter.start()
    _advance(tree, fake_clock, 1.5, 1.0)  # full load, then a lighter phase
    _advance(tree, fake_clock, 0.5, 0.25)
    reading = meter.stop()
    t1 = fake_clock() / 1e9
    cpu = sum(PACKAGES_W.values()) * (1.5 + 0.5 * 0.25)
    dram = sum(DRAM_W.values()) * (1.5 + 0.5 * 0.25)
    gpu_j = gpu.energy_of(t1) - gpu.energy_of(t0)
    parts = split_parts(reading)
    assert parts["cpu"][0] == pytest.approx(cpu, rel=0.005)
    assert parts["dram"][0] == pytest.approx(dram, rel=0.005)
    assert parts["gpu"][0] == pytest.approx(gpu_j, rel=0.005)
    assert reading.energy_j == pytest.approx(cpu + dram + gpu_j, rel=0.005)
    assert {kind for _, kind in parts.values()} == {MEASURED}
    assert reading.kind == MEASURED


def test_the_parts_become_per_sample_columns_and_say_what_the_total_covers(
    machine: tuple[FakePowercap, FakeGpu], fake_clock: FakeClock
) -> None:
    tree, gpu = machine
    meter = CompositeMeter(
        [
            RaplMeter(tree.root, clock=fake_clock),
            NvmlMeter(nvml=fake_nvml([gpu]), clock=fake_clock, sync=lambda: None),
        ]
    )
    meter.start()
    _advance(tree, fake_clock, 1.0, 0.1)
    idle = meter.stop()
    windows = []
    for index in range(5):
        meter.start()
        _advance(tree, fake_clock, 1.0, 1.0)
        windows.append(EnergyWindow(index, 100, 1000, meter.stop(), idle.average_power_w))
    columns = summarize_windows(idle, tuple(windows), 1.0).columns()
    assert columns["energy_parts"] == "cpu measured, dram measured, gpu measured"
    assert columns["energy_per_sample_cpu_j"] == pytest.approx(79.0 / 1000, rel=0.005)
    assert columns["energy_per_sample_dram_j"] == pytest.approx(10.75 / 1000, rel=0.005)
    parts = sum(columns[f"energy_per_sample_{p}_j"] for p in ("cpu", "dram", "gpu"))
    assert parts == pytest.approx(columns["energy_per_sample_j"], rel=0.01)
    # a CPU-only meter reads no GPU: that column is null, not zero
    rapl_only = RaplMeter(tree.root, clock=fake_clock)
    rapl_only.start()
    _advance(tree, fake_clock, 1.0, 1.0)
    one = rapl_only.stop()
    columns = summarize_windows(one, (EnergyWindow(0, 1, 10, one, 0.0),), 1.0).columns()
    assert columns["energy_per_sample_gpu_j"] is None
    assert columns["energy_parts"] == "cpu measured, dram measured"


def test_an_estimated_part_never_makes_a_measured_total(
    machine: tuple[FakePowercap, FakeGpu], fake_clock: FakeClock
) -> None:
    _, gpu = machine
    meter = CompositeMeter(
        [NvmlMeter(nvml=fake_nvml([gpu]), clock=fake_clock, sync=lambda: None), EstimateMeter()]
    )
    assert meter.kind == "estimated"
    meter.start()
    fake_clock.advance(1_000_000_000)
    reading = meter.stop()
    parts = split_parts(reading)
    assert parts["gpu"][1] == "measured"
    assert parts["cpu"][1] == parts["dram"][1] == "estimated"
    assert reading.kind == "estimated"


def test_a_part_that_fails_to_start_stops_the_parts_already_running(
    machine: tuple[FakePowercap, FakeGpu], fake_clock: FakeClock
) -> None:
    import threading

    tree, _ = machine
    # a GPU without an energy counter: NVML polls its power in a thread while a window is open
    gpu = FakeGpu(lambda: fake_clock() / 1e9, lambda t: 60.0, lambda t: 60 * t, has_counter=False)
    nvml = NvmlMeter(nvml=fake_nvml([gpu]), clock=fake_clock, sync=lambda: None, poll_hz=100)
    rapl = RaplMeter(tree.root, clock=fake_clock)
    rapl.zones()  # found while the tree is whole; then a zone's counter disappears
    (tree.root / "intel-rapl:0" / "energy_uj").unlink()
    meter = CompositeMeter([rapl, nvml])  # NVML starts first: it synchronises the device

    def pollers() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "nvml-power-poll" and t.is_alive()]

    before = len(pollers())
    with pytest.raises(FileNotFoundError), meter.window():
        pass
    assert len(pollers()) == before  # NVML's poller was stopped with the failed start
