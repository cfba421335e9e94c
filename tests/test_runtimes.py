"""Runtimes as variants: the standard classifiers exported to ONNX and run by ONNX Runtime and
OpenVINO (fp32 and int8), judged by the same protocol and quality as PyTorch; a model that cannot
be exported, a missing runtime and generation are skipped rows that say why."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch import nn

from benchsuite import Workload
from benchsuite.case import Case
from benchsuite.errors import VariantUnavailable
from benchsuite.run.runner import run_suite
from benchsuite.scenarios import skip_reason
from benchsuite.store.runs import ResultStore
from benchsuite.suites.load import parse_suite
from benchsuite.variants import get_variant
from benchsuite.variants.onnx_export import BatchLayout, batch_leaves, rebuild_batch
from benchsuite.workload.discovery import load_workloads

RUNTIME_VARIANTS = ["ort", "ort-int8", "ort-int8-static", "openvino", "openvino-int8"]
FAST = """name = "runtimes"
[measure]
repeats = 1
warmup_max_s = 0.2
budget_s = 0.2
ci_target_rel = 0.05
energy_windows = 5
energy_window_s = 0.1
idle_s = 0.1
"""


@pytest.mark.slow
def test_every_runtime_variant_runs_the_standard_classifiers_with_quality(tmp_path: Path) -> None:
    variants = ", ".join(f'"{name}"' for name in ["fp32", *RUNTIME_VARIANTS])
    suite = parse_suite(
        FAST + f'[[matrix]]\nworkloads = ["digits-cnn", "text-transformer"]\n'
        f'variants = [{variants}]\nscenario = "single-stream"\nthreads = [1]\n',
        source="runtimes.toml",
    )
    # in this process: the exporter and both runtimes are imported once, not once per case
    result = run_suite(suite, load_workloads(), ResultStore(tmp_path), isolate=False)
    cases = pd.read_parquet(result.folder / "cases")
    assert (cases["status"] == "ok").all(), cases[["case_id", "error"]].to_string()
    for workload, rows in cases.groupby("workload"):
        rows = rows.set_index("variant")
        fp32 = rows.loc["fp32"]
        assert fp32["runtime"] == "pytorch" and fp32["runtime_version"] == torch.__version__
        for name in RUNTIME_VARIANTS:
            row = rows.loc[name]
            expected = "onnxruntime" if name.startswith("ort") else "openvino"
            assert row["runtime"] == expected, (workload, name)
            assert row["runtime_version"] == importlib.metadata.version(expected)
            assert f"{row['runtime_version']}" in row["variant_detail"]
            assert (
                "1 intra-op thread" in row["variant_detail"] or "1 thread" in row["variant_detail"]
            )
            # FLOPs and parameters of the PyTorch model it was exported from
            assert row["flops_per_sample"] == fp32["flops_per_sample"]
            assert row["param_count"] == fp32["param_count"]
            # the same quality columns, against the same fp32 PyTorch model
            assert row["eval_samples"] == fp32["eval_samples"]
            assert abs(row["accuracy"] - fp32["accuracy"]) <= 0.02, (workload, name)
            assert row["top1_agreement"] >= 0.97, (workload, name)
            assert row["latency_p50_ms"] > 0 and row["energy_per_sample_j"] > 0
        # the fp32 export computes what PyTorch computes; int8 moves the numbers, a little
        for name in ("ort", "openvino"):
            assert rows.loc[name, "output_rel_error"] < 1e-4, (workload, name)
        for name in ("ort-int8", "ort-int8-static", "openvino-int8"):
            assert 0 < rows.loc[name, "output_rel_error"] < 0.1, (workload, name)
            # the size is the exported file's: int8 weights make it smaller than the fp32 file
            assert rows.loc[name, "model_size_bytes"] < rows.loc["ort", "model_size_bytes"]
        assert (
            "calibrated on 256 samples of the workload's training data"
            in (rows.loc["ort-int8-static", "variant_detail"])
        )


class _DataDependent(nn.Module):
    """Branches on a value computed from the input: torch.export cannot trace it."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            return self.linear(x)
        return -self.linear(x)


class _Untraceable(Workload):
    name = "untraceable"
    quality_metric = None

    def build_model(self) -> nn.Module:
        return _DataDependent()

    def example_batch(self, batch_size: int) -> torch.Tensor:
        return torch.ones(batch_size, 4)


@pytest.mark.parametrize("isolate", [True, False])
def test_a_model_the_exporter_cannot_trace_is_a_skipped_row_with_its_reason(
    tmp_path: Path, isolate: bool
) -> None:
    suite = parse_suite(
        FAST + '[[matrix]]\nworkloads = ["untraceable"]\nvariants = ["fp32", "ort"]\n'
        'scenario = "single-stream"\nthreads = [1]\n',
        source="untraceable.toml",
    )
    result = run_suite(
        suite, {"untraceable": _Untraceable()}, ResultStore(tmp_path), isolate=isolate
    )
    rows = pd.read_parquet(result.folder / "cases").set_index("variant")
    assert rows.loc["fp32", "status"] == "ok"  # the case beside it is measured
    assert rows.loc["ort", "status"] == "skipped"
    assert rows.loc["ort", "error"].startswith("torch.onnx.export could not export this model: ")
    assert "data-dependent" in rows.loc["ort", "error"].lower()


def test_a_missing_runtime_is_a_skipped_row_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    find_spec = importlib.util.find_spec
    missing = {"onnxruntime", "openvino", "nncf"}
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name in missing else find_spec(name, *a),
    )
    workload = _Untraceable()
    for name, extra in [
        ("ort", "benchsuite[onnx]"),
        ("ort-int8-static", "benchsuite[onnx]"),
        ("openvino", "benchsuite[openvino]"),
        ("openvino-int8", "benchsuite[openvino]"),
    ]:
        reason = skip_reason(Case("untraceable", name, "cpu", "single-stream", 1), workload)
        assert reason is not None and extra in reason, (name, reason)


def test_openvino_runs_on_the_cpu_only_and_ort_on_cuda_needs_its_provider() -> None:
    assert get_variant("openvino").unsupported_reason("cuda") == (
        "variant openvino runs on cpu only, not cuda"
    )
    assert get_variant("ort").unsupported_reason("cuda") is None
    import onnxruntime

    from benchsuite.variants.onnx_runtime import _providers

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        with pytest.raises(VariantUnavailable, match="install onnxruntime-gpu"):
            _providers("cuda")
    assert _providers("cpu") == ["CPUExecutionProvider"]


def test_generation_with_an_exported_runtime_is_a_skipped_row() -> None:
    llama = load_workloads()["tiny-llama"]
    case = Case("tiny-llama", "ort", "cpu", "generation", 1, 1, prompt_tokens=8, output_tokens=4)
    reason = skip_reason(case, llama)
    assert reason is not None and "KV cache" in reason and "onnxruntime" in reason


@pytest.mark.parametrize(
    "batch",
    [
        torch.zeros(2, 3),
        {"input_ids": torch.zeros(2, 5, dtype=torch.long), "attention_mask": torch.ones(2, 5)},
        (torch.zeros(2, 3), torch.ones(2)),
        ({"input_ids": torch.zeros(2, 5, dtype=torch.long)},),
    ],
)
def test_a_batch_of_any_shape_maps_to_named_inputs_and_back(batch: object) -> None:
    layout = BatchLayout.of(batch)  # type: ignore[arg-type]
    leaves = batch_leaves(batch)  # type: ignore[arg-type]
    assert layout.names == tuple(name for name, _ in leaves)
    assert len(set(layout.names)) == len(layout.names)
    rebuilt = rebuild_batch(batch, iter(tensor for _, tensor in leaves))
    assert type(rebuilt) is type(batch) or isinstance(batch, dict)
    if isinstance(batch, torch.Tensor):
        args, kwargs = (batch,), {}
    elif isinstance(batch, dict):
        args, kwargs = (), batch
    else:
        args, kwargs = tuple(batch), {}  # type: ignore[arg-type]
    called = layout.tensors_of_call(args, kwargs)
    assert [t.data_ptr() for t in called] == [t.data_ptr() for _, t in leaves]
