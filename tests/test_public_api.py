"""The small public API: measure(), energy_window(), register_variant() and the typed result."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import benchsuite
import benchsuite.errors
from benchsuite import CaseResult, EnergyConfig, PreparedModel, SamplingConfig, register_variant
from benchsuite.instruments.meters import NvmlMeter
from benchsuite.results import ModelFacts
from benchsuite.run.runner import run_suite
from benchsuite.store.runs import ResultStore
from benchsuite.suites.load import parse_suite
from benchsuite.variants import get_variant, registry
from tests.fakes import FakeGpu, fake_nvml

QUICK = {
    "sampling": SamplingConfig(warmup_max_s=0.1, budget_s=0.1, ci_target_rel=0.05),
    "energy": EnergyConfig(windows=2, window_s=0.05, idle_s=0.05),
}


class TwoInputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(6, 3)

    def forward(self, features: torch.Tensor, scale: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"logits": self.linear(features) * scale}


def test_measure_a_module_with_named_inputs() -> None:
    batch = {"features": torch.randn(4, 6), "scale": torch.ones(4, 1)}
    result = benchsuite.measure(
        TwoInputs(), batch, batch_size=4, name="two-inputs", meter="estimate", **QUICK
    )
    assert isinstance(result, CaseResult)
    assert result.case.id == "two-inputs/as-given/cpu/offline/b4"
    assert result.model is not None and result.model.flops_per_sample == 2 * 6 * 3
    assert result.model.param_count == 6 * 3 + 3
    assert result.latency is not None and result.latency.p50_ms > 0
    assert result.latency.throughput_samples_per_s == pytest.approx(
        4 / (result.latency.p50_ms / 1e3)
    )
    assert result.energy is not None and result.energy.reading.kind == "estimated"
    row = result.row()
    assert row["energy_per_sample_j"] == result.energy.energy_per_sample_j
    assert row["batch_size"] == 4 and row["scenario"] == "offline"
    samples = result.samples_table()
    assert samples is not None and samples.num_rows == row["sample_count"] + row["warmup_calls"]


def test_measure_a_plain_function() -> None:
    calls: list[int] = []
    result = benchsuite.measure(lambda: calls.append(1), **QUICK)
    assert result.case.scenario == "single-stream" and result.model is not None
    assert result.model.param_count is None and result.model.flops_per_sample == 0
    assert len(calls) > result.row()["sample_count"]


def test_energy_window_reads_with_provenance() -> None:
    with benchsuite.energy_window(meter="estimate") as window:
        sum(range(200_000))
    reading = window.reading
    assert reading.kind == "estimated" and reading.source == "estimate"
    assert reading.energy_j > 0 and reading.model


def test_a_window_closes_when_the_measured_code_raises() -> None:
    start = time.perf_counter()
    gpu = FakeGpu(lambda: time.perf_counter() - start, lambda t: 100.0, lambda t: 100 * t, False)
    meter = NvmlMeter(nvml=fake_nvml([gpu]), poll_hz=50, sync=lambda: None)
    before = threading.active_count()
    seen_inside: list[int] = []

    def failing_work() -> None:
        seen_inside.append(threading.active_count())
        _ = 1 / 0

    with pytest.raises(ZeroDivisionError), meter.window():
        failing_work()
    assert seen_inside == [before + 1]  # NVML's power polling thread ran in the window
    assert threading.active_count() == before  # and stopped, although the block raised


def test_reading_an_open_window_is_refused() -> None:
    with benchsuite.energy_window() as window, pytest.raises(RuntimeError, match="still open"):
        _ = window.reading


def test_a_result_refuses_a_column_the_schema_lacks() -> None:
    @dataclass(frozen=True)
    class Bogus:
        def columns(self) -> dict[str, Any]:
            return {"latency_in_furlongs": 1.0}

    result = CaseResult(benchsuite.Case("w", "v", "cpu", "offline", 2), extra=(Bogus(),))
    with pytest.raises(ValueError, match="latency_in_furlongs"):
        result.row()
    typed = CaseResult(result.case, model=ModelFacts("x", param_count="many"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="param_count"):
        typed.row()


@pytest.fixture
def clean_registry() -> Any:
    saved = dict(registry._VARIANTS)
    yield
    registry._VARIANTS.clear()
    registry._VARIANTS.update(saved)
    registry._entry_points_loaded = False


def test_a_registered_variant_runs_in_a_suite(
    clean_registry: None, tmp_path: Path, tiny_workloads: Path
) -> None:
    @register_variant("half-width", recipe="weights scaled by 0.5 (a test variant)")
    def half(model: nn.Module, device: str, workload: Any) -> PreparedModel:
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.mul_(0.5)
        return PreparedModel(model.to(device).eval(), device, detail="halved")

    assert get_variant("half-width").transform is half
    with pytest.raises(benchsuite.errors.UsageError, match="already registered"):
        register_variant("half-width", recipe="another")(lambda m, d, w: half(m, d, w))
    from benchsuite.workload.discovery import discover_workloads

    suite = parse_suite(
        "[measure]\nbudget_s = 0.1\nwarmup_max_s = 0.1\nenergy_window_s = 0.05\nidle_s = 0.05\nrepeats = 1\n"
        '[[matrix]]\nworkloads = ["tiny-mlp"]\nvariants = ["half-width"]\nthreads = [1]\n',
        source="t.toml",
    )
    result = run_suite(
        suite, discover_workloads(tiny_workloads), ResultStore(tmp_path), isolate=False
    )
    (row,) = result.rows
    assert row["status"] == "ok", row["error"]
    assert row["variant_recipe"] == "weights scaled by 0.5 (a test variant)"
    assert row["variant_detail"] == "halved" and row["output_rel_error"] > 0


def test_a_package_declares_variants_by_entry_point(
    clean_registry: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "my_variants.py").write_text(
        "from benchsuite import PreparedModel, register_variant\n"
        "@register_variant('from-a-package', recipe='declared by an entry point')\n"
        "def same(model, device, workload):\n"
        "    return PreparedModel(model.to(device).eval(), device)\n"
    )
    dist = tmp_path / "my_variants-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-variants\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[benchsuite.variants]\nmine = my_variants\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "my_variants", raising=False)
    registry._entry_points_loaded = False
    assert get_variant("from-a-package").recipe == "declared by an entry point"
    assert "fp32" in registry.all_variants()
