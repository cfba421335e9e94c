from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from benchsuite import Case, EvalData, Workload
from benchsuite.errors import UsageError
from benchsuite.instruments.config import MeasureConfig
from benchsuite.instruments.energy import EnergyConfig
from benchsuite.instruments.meters import EstimateMeter
from benchsuite.instruments.timing import SamplingConfig
from benchsuite.scenarios import run_case
from benchsuite.scenarios.steps import count_flops_per_sample, count_parameters, evaluate_quality
from benchsuite.variants import get_variant
from benchsuite.workload.discovery import discover_workloads

TINY = discover_workloads(Path(__file__).parent / "data" / "tiny_workloads")["tiny-mlp"]

FAST = MeasureConfig(
    SamplingConfig(warmup_max_s=0.1, budget_s=0.1, ci_target_rel=0.05),
    EnergyConfig(windows=2, window_s=0.05, idle_s=0.05),
)


def test_flops_are_counted_not_guessed() -> None:
    prepared = get_variant("fp32").prepare(nn.Linear(16, 4), "cpu", TINY)
    # a linear layer is a (batch x 16) @ (16 x 4) matmul: 2 FLOPs per multiply-add
    assert count_flops_per_sample(prepared, torch.randn(8, 16), 8) == 2 * 16 * 4


def test_transformer_flops_include_the_fused_fast_path_and_attention() -> None:
    width, tokens, hidden = 16, 6, 32
    layer = nn.TransformerEncoderLayer(width, 2, hidden, dropout=0.0, batch_first=True)
    model = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).eval()
    prepared = get_variant("fp32").transform(model, "cpu", TINY)  # in inference mode: fast path
    per_layer = 2 * tokens * (4 * width * width + 2 * width * hidden + 2 * tokens * width)
    assert count_flops_per_sample(prepared, torch.randn(3, tokens, width), 3) == 2 * per_layer
    assert torch.backends.mha.get_fastpath_enabled()  # restored after counting


class _Untrained(Workload):
    """No quality metric: seeded random weights, fixed random inputs."""

    name = "untrained"
    quality_metric = None

    def build_model(self) -> nn.Module:
        return nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 10))

    def example_batch(self, batch_size: int) -> torch.Tensor:
        return torch.randn(batch_size, 16, generator=torch.Generator().manual_seed(3))

    def eval_data(self) -> EvalData:
        return EvalData(self.example_batch(64), labels=None)


def test_quality_of_an_untrained_model_is_output_error_not_agreement() -> None:
    workload = _Untrained()
    reference = workload.reference_model()
    fp32 = get_variant("fp32").prepare(reference, "cpu", workload)
    bf16 = get_variant("bf16").prepare(reference, "cpu", workload)
    quality = evaluate_quality(workload, bf16, fp32).columns()
    assert quality["accuracy"] is None and quality["top1_agreement"] is None
    assert 1e-5 < quality["output_rel_error"] < 0.05  # bf16 keeps about 3 significant digits
    assert quality["eval_samples"] == 64


def test_parameters_and_size() -> None:
    model = nn.Sequential(nn.Linear(16, 4), nn.BatchNorm1d(4))
    count, size = count_parameters(model)
    assert count == 16 * 4 + 4 + 4 + 4  # weights and biases, not running statistics
    # the serialised state dict holds every tensor: 84 parameters and 8 running-stat floats
    assert size > (count + 8) * 4


def test_bf16_variant_runs_in_bfloat16_and_keeps_the_reference() -> None:
    reference = nn.Linear(4, 2)
    prepared = get_variant("bf16").prepare(reference, "cpu", TINY)
    with prepared.context():
        out = prepared.module(torch.randn(3, 4))
    assert out.dtype == torch.bfloat16
    assert prepared.module is not reference
    assert reference.weight.dtype == torch.float32


def test_unknown_variant_suggests_a_name() -> None:
    with pytest.raises(UsageError, match="did you mean 'bf16'"):
        get_variant("bf61")


def test_fp16_is_unsupported_on_cpu_with_a_reason() -> None:
    assert (
        get_variant("fp16").unsupported_reason("cpu") == "variant fp16 runs on cuda only, not cpu"
    )
    assert (
        get_variant("int8").unsupported_reason("cuda") == "variant int8 runs on cpu only, not cuda"
    )
    assert get_variant("fp32").unsupported_reason("cpu") is None


def test_a_case_measured_end_to_end(tiny_workloads: Path) -> None:
    workload = TINY
    case = Case("tiny-mlp", "fp32", "cpu", "offline", 4, threads=1)
    result = run_case(case, workload, EstimateMeter(), FAST)
    row = result.row()
    assert row["accuracy"] > 0.9 and row["top1_agreement"] == 1.0
    assert row["output_rel_error"] == 0.0  # fp32 against itself
    assert row["flops_per_sample"] == 2 * (8 * 16 + 16 * 2)
    assert row["param_count"] == 8 * 16 + 16 + 16 * 2 + 2
    assert row["latency_p50_ci_low_ms"] <= row["latency_p50_ms"] <= row["latency_p50_ci_high_ms"]
    assert row["throughput_samples_per_s"] == pytest.approx(4 / (row["latency_p50_ms"] / 1e3))
    assert row["stop_reason"] in ("ci_target_met", "time_budget")
    assert row["energy_kind"] == "estimated" and row["energy_windows"] == 2
    assert (
        row["energy_per_sample_low_j"]
        <= row["energy_per_sample_j"]
        <= row["energy_per_sample_high_j"]
    )
    assert row["device_peak_allocated_bytes"] is None
    samples = result.samples_table()
    assert samples is not None and samples.num_rows == row["sample_count"] + row["warmup_calls"]
    windows = [w for w in result.energy_window_rows() if w["window"] >= 0]
    assert len(windows) == 2 and all(w["samples"] == 4 * w["calls"] for w in windows)
    assert torch.get_num_threads() >= 1  # restored after the case
