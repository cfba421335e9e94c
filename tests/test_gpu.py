"""Tests that use the real CUDA device and the real NVML: marked ``gpu``, skipped where there is
none, and run by ``benchmarks/gpu_check.py`` (``pytest -m gpu``) on a GPU machine."""

from __future__ import annotations

import pytest
import torch

from benchsuite import Case
from benchsuite.instruments.config import MeasureConfig
from benchsuite.instruments.energy import EnergyConfig
from benchsuite.instruments.meters import choose_meter
from benchsuite.instruments.meters.nvml import NvmlMeter
from benchsuite.instruments.timing import SamplingConfig
from benchsuite.scenarios import run_case
from benchsuite.workload.discovery import load_workloads

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_nvml_reads_a_busy_gpu_window_as_measured_energy() -> None:
    meter = NvmlMeter([0])
    assert meter.info().available, meter.info().detail
    a = torch.randn(4096, 4096, device="cuda", dtype=torch.float16)
    with meter.window() as window:
        for _ in range(200):
            a @ a
        torch.cuda.synchronize()
    reading = window.reading
    assert reading.kind == "measured" and reading.source == "nvml"
    assert 10 < reading.average_power_w < 2000  # a GPU's board power, not mW or kW


def test_a_cuda_case_is_measured_by_the_gpus_own_meter() -> None:
    choice = choose_meter("cuda")
    quick = MeasureConfig(
        SamplingConfig(warmup_max_s=0.5, budget_s=0.5),
        EnergyConfig(windows=3, window_s=1.0, idle_s=1.0),
    )
    case = Case("digits-cnn", "fp16", "cuda", "single-stream", 1)
    row = run_case(case, load_workloads()["digits-cnn"], choice.meter, quick).row()
    assert row["energy_kind"] == "measured" and "nvml" in row["energy_source"]
    assert row["device_peak_allocated_bytes"] > 0
