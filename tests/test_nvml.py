"""The NVML meter against the real pynvml module, autospecced, with fake devices."""

from __future__ import annotations

import time

import pynvml
import pytest
import torch

from benchsuite.instruments.meters import MEASURED, NvmlMeter
from benchsuite.instruments.meters.nvml import visible_gpu_ids
from tests.conftest import FakeClock
from tests.fakes import FakeGpu, fake_nvml


def _ramp_gpu(clock_s, has_counter: bool = True, uuid: str = "GPU-00000000") -> FakeGpu:  # type: ignore[no-untyped-def]
    # power ramps from 60 W by 40 W/s: P(t) = 60 + 40 t, E(t) = 60 t + 20 t²
    return FakeGpu(clock_s, lambda t: 60 + 40 * t, lambda t: 60 * t + 20 * t * t, has_counter, uuid)


def test_energy_counter_is_read_in_mj_and_converted(fake_clock: FakeClock) -> None:
    gpu = _ramp_gpu(lambda: fake_clock() / 1e9)
    syncs: list[int] = []
    nvml = fake_nvml([gpu])
    meter = NvmlMeter(nvml=nvml, clock=fake_clock, sync=lambda: syncs.append(1))
    info = meter.info()
    assert info.available and info.domains == ("gpu0",)
    assert "energy counter (mJ)" in info.detail
    meter.start()
    fake_clock.advance(2_000_000_000)
    reading = meter.stop()
    assert reading.kind == MEASURED and reading.source == "nvml"
    assert reading.energy_j == pytest.approx(60 * 2 + 20 * 4, rel=0.005)
    assert reading.duration_s == 2.0
    assert syncs == [1, 1]  # the GPU is synchronised before each read
    nvml.nvmlDeviceGetTotalEnergyConsumption.assert_called_with(gpu)


def test_without_a_counter_power_is_polled_and_integrated() -> None:
    start = time.perf_counter()
    gpu = _ramp_gpu(lambda: time.perf_counter() - start, has_counter=False)
    meter = NvmlMeter(nvml=fake_nvml([gpu]), poll_hz=20, sync=lambda: None)
    assert "power polled at 20 Hz, integrated" in meter.info().detail
    # the window's true ends lie between the clock reads around start() and around stop(): on a
    # busy machine the poller's first and last samples can come milliseconds late, so the check
    # brackets them instead of guessing one instant (a linear ramp integrates exactly)
    before_start = time.perf_counter() - start
    meter.start()
    after_start = time.perf_counter() - start
    time.sleep(0.6)
    before_stop = time.perf_counter() - start
    reading = meter.stop()
    after_stop = time.perf_counter() - start
    inner = gpu.energy_of(before_stop) - gpu.energy_of(after_start)
    outer = gpu.energy_of(after_stop) - gpu.energy_of(before_start)
    assert inner * 0.999 <= reading.energy_j <= outer * 1.001
    assert reading.energy_j == pytest.approx((inner + outer) / 2, rel=0.02)
    assert "power samples at 20 Hz, trapezoid-integrated" in reading.model
    samples = int(reading.model.split(": ")[1].split()[0])
    assert samples >= 0.6 * 10  # at least 10 Hz


def test_cuda_visible_devices_maps_cuda_indexes_to_nvml(
    monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock
) -> None:
    gpus = [_ramp_gpu(lambda: fake_clock() / 1e9, uuid=f"GPU-{i}") for i in range(4)]
    nvml = fake_nvml(gpus)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,GPU-3")
    meter = NvmlMeter([1], nvml=nvml, clock=fake_clock, sync=lambda: None)
    assert meter.info().domains == ("gpu1",)
    nvml.nvmlDeviceGetHandleByUUID.assert_called_with("GPU-3")
    assert not NvmlMeter([2], nvml=fake_nvml(gpus), sync=lambda: None).info().available


@pytest.mark.parametrize(
    ("value", "ids"),
    [("0,1", ["0", "1"]), ("1,x,0", ["1"]), ("", []), ("GPU-ab, 3", ["GPU-ab", "3"])],
)
def test_visible_gpu_ids(value: str, ids: list[str]) -> None:
    assert visible_gpu_ids({"CUDA_VISIBLE_DEVICES": value}) == ids
    assert visible_gpu_ids({}) is None


def test_no_driver_is_unavailable_with_the_reason() -> None:
    nvml = fake_nvml([])
    nvml.nvmlInit.side_effect = pynvml.NVMLError_LibraryNotFound()
    info = NvmlMeter(nvml=nvml).info()
    assert not info.available
    assert "NVML could not start" in info.detail and "no NVIDIA driver" in info.detail


def test_this_machines_nvml_says_what_it_found_or_why_not() -> None:
    """The real binding on this machine: a driver with a device (a GPU server, or the second
    test pass's fake) is available with its GPUs as domains; no driver says why."""
    info = NvmlMeter().info()
    if info.available:
        assert info.kind == "measured" and info.domains
        assert all(domain.startswith("gpu") for domain in info.domains), info.domains
    else:
        assert not torch.cuda.is_available()
        assert (
            "NVML could not start" in info.detail
            or "nvidia-ml-py is not installed" in info.detail
            or "NVML found no GPU" in info.detail
        )
