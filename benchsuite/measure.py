"""The measurement protocol of one case, in the order DESIGN.md gives:

1. build the variant from the workload's trained reference and judge its quality;
2. count FLOPs, parameters and size;
3. warm up until timings settle, then sample per-call latency until the median is known;
4. read energy over an idle window and several busy windows;
5. read memory peaks.

It returns plain values (a row, raw samples, energy windows); the runner stores them.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import torch
from torch import nn

from benchsuite import devices, memory
from benchsuite.case import Case
from benchsuite.energy import EnergyConfig, EnergyResult, measure_energy, min_window_s
from benchsuite.flops import count_flops
from benchsuite.meters.base import Meter
from benchsuite.stats import Summary, summarize
from benchsuite.timing import SamplingConfig, SamplingResult, Timer, WarmupResult
from benchsuite.variants import VARIANTS, PreparedModel, Variant
from benchsuite.workload import Workload

EVAL_BATCH_SIZE = 256
FP32 = VARIANTS["fp32"]


@dataclass(frozen=True)
class MeasureConfig:
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    energy: EnergyConfig = field(default_factory=EnergyConfig)
    case_timeout_s: float = 900.0
    """A case's worker is killed after this long and its row says so."""


@dataclass(frozen=True)
class CaseMeasurement:
    """What one case produced: its row (without run-level columns) and raw data."""

    row: dict[str, Any]
    samples: pa.Table | None = None
    energy_windows: tuple[dict[str, Any], ...] = ()


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run with ``threads`` intra-op threads, restoring torch's setting afterwards."""
    if threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


_RUNNING_STATS = ("running_mean", "running_var", "num_batches_tracked")


def _tensors(value: object) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, tuple | list):
        return [t for item in value for t in _tensors(item)]
    return []


def count_parameters(module: nn.Module) -> tuple[int, int]:
    """Parameter count and model size in bytes, from the state dict, so int8 packed weights count.

    The count covers weights and biases (not BatchNorm running statistics); the size is what the
    state dict takes serialised, every tensor included.
    """
    module = getattr(module, "_orig_mod", module)  # torch.compile wraps the model
    state = module.state_dict()
    count = sum(
        t.numel()
        for key, value in state.items()
        if not key.endswith(_RUNNING_STATS)
        for t in _tensors(value)
    )
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return count, buffer.getbuffer().nbytes


def count_flops_per_sample(prepared: PreparedModel, inputs: torch.Tensor) -> int:
    """FLOPs of one call (see ``benchsuite.flops``), divided by the batch size. For int8 and
    compiled variants it counts the eager fp32 model, which does the same operations."""
    module = prepared.flops_module or prepared.module
    with prepared.context():
        return count_flops(lambda: module(inputs)) // inputs.shape[0]


def _outputs(prepared: PreparedModel, inputs: torch.Tensor) -> torch.Tensor:
    outputs = []
    with prepared.context():
        for start in range(0, len(inputs), EVAL_BATCH_SIZE):
            batch = inputs[start : start + EVAL_BATCH_SIZE].to(prepared.device)
            outputs.append(prepared.module(batch).float().cpu())
    return torch.cat(outputs)


def evaluate_quality(
    workload: Workload, prepared: PreparedModel, reference: PreparedModel
) -> dict[str, Any]:
    """Held-out accuracy (where the workload has labels), top-1 agreement with the fp32 model
    (where the workload is a trained classifier) and the relative L2 error of the outputs.

    An untrained model's logits can be nearly equal for every class (the random MobileNetV2
    here: mean top-1/top-2 logit gap 2e-5, measured on its 32 eval images), so its arg-max is
    decided by rounding and agreement would be noise; its output error still says how far a
    variant moves the numbers.
    """
    data = workload.eval_data()
    if data is None:
        return {
            "quality_metric": None,
            "accuracy": None,
            "top1_agreement": None,
            "output_rel_error": None,
            "eval_samples": None,
        }
    outputs = _outputs(prepared, data.inputs)
    reference_outputs = _outputs(reference, data.inputs)
    predicted = outputs.argmax(dim=1)
    accuracy = None
    if data.labels is not None and workload.quality_metric == "accuracy":
        accuracy = float((predicted == data.labels).float().mean())
    agreement = None
    if workload.quality_metric is not None:
        agreement = float((predicted == reference_outputs.argmax(dim=1)).float().mean())
    error = torch.linalg.vector_norm(outputs - reference_outputs) / torch.linalg.vector_norm(
        reference_outputs
    )
    return {
        "quality_metric": workload.quality_metric,
        "accuracy": accuracy,
        "top1_agreement": agreement,
        "output_rel_error": float(error),
        "eval_samples": len(data.inputs),
    }


def latency_summary_columns(summary: Summary, batch_size: int) -> dict[str, Any]:
    """Latency columns from a summary of per-call times in ns; throughput is derived from the
    median call: ``batch_size`` samples per p50 latency."""
    ms = 1e-6
    return {
        "sample_count": summary.count,
        "latency_p50_ms": summary.median.median * ms,
        "latency_p50_ci_low_ms": summary.median.low * ms,
        "latency_p50_ci_high_ms": summary.median.high * ms,
        "latency_p90_ms": summary.p90 * ms,
        "latency_p99_ms": summary.p99 * ms,
        "latency_mean_ms": summary.mean * ms,
        "latency_std_ms": summary.std * ms,
        "latency_iqr_ms": summary.iqr * ms,
        "latency_min_ms": summary.minimum * ms,
        "latency_max_ms": summary.maximum * ms,
        "throughput_samples_per_s": batch_size / (summary.median.median * 1e-9),
    }


def _latency_columns(
    case: Case, warmup: WarmupResult, sampling: SamplingResult, config: SamplingConfig
) -> dict[str, Any]:
    summary = summarize(sampling.samples_ns, config.confidence)
    return {
        "warmup_calls": warmup.calls,
        "warmup_s": warmup.duration_s,
        "warmup_settled": warmup.settled,
        "sampling_s": sampling.duration_s,
        "stop_reason": sampling.stop_reason,
        "ci_target_rel": config.ci_target_rel,
        "ci_half_width_rel": sampling.ci_half_width_rel
        if math.isfinite(sampling.ci_half_width_rel)
        else None,
        **latency_summary_columns(summary, case.batch_size),
    }


def energy_columns(energy: EnergyResult) -> dict[str, Any]:
    first = energy.windows[0].reading
    return {
        "energy_source": first.source,
        "energy_kind": first.kind,
        "energy_domains": ",".join(first.domains),
        "energy_model": _model_description(energy) or None,
        "energy_windows": len(energy.windows),
        "energy_window_s": energy.window_s,
        "energy_interval_method": energy.interval_method,
        "energy_per_sample_j": energy.energy_per_sample_j,
        "energy_per_sample_low_j": energy.energy_per_sample_low_j,
        "energy_per_sample_high_j": energy.energy_per_sample_high_j,
        "energy_net_per_sample_j": energy.net_energy_per_sample_j,
        "energy_total_j": energy.total_energy_j,
        "idle_power_w": energy.idle_power_w,
        "average_power_w": energy.average_power_w,
        "energy_valid": energy.valid,
        "energy_invalid_reason": energy.invalid_reason or None,
        "energy_min_window_s": min_window_s(first.resolution_s),
    }


def _model_description(energy: EnergyResult) -> str:
    """For estimates: the model with the inputs of the median window; empty for measurements."""
    ordered = sorted(energy.windows, key=lambda window: window.energy_per_sample_j)
    return ordered[len(ordered) // 2].reading.model


def energy_window_rows(case: Case, energy: EnergyResult) -> tuple[dict[str, Any], ...]:
    def row(index: int, calls: int, samples: int, reading: Any, net: float | None) -> dict:
        return {
            "case_id": case.id,
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

    rows = [row(-1, 0, 0, energy.idle, None)]
    rows += [row(w.index, w.calls, w.samples, w.reading, w.net_energy_j) for w in energy.windows]
    return tuple(rows)


def _samples_table(case: Case, warmup: WarmupResult, sampling: SamplingResult) -> pa.Table:
    phases = np.concatenate(
        [
            np.full(warmup.samples_ns.size, "warmup", dtype=object),
            np.full(sampling.samples_ns.size, "sample", dtype=object),
        ]
    )
    indexes = np.concatenate(
        [np.arange(warmup.samples_ns.size), np.arange(sampling.samples_ns.size)]
    )
    latencies = np.concatenate([warmup.samples_ns, sampling.samples_ns])
    return pa.table(
        {
            "run_id": pa.nulls(latencies.size, pa.string()),
            "case_id": pa.array([case.id] * latencies.size, pa.string()),
            "phase": pa.array(phases, pa.string()),
            "index": pa.array(indexes, pa.int64()),
            "latency_ns": pa.array(latencies, pa.int64()),
        }
    )


def measure_case(
    case: Case,
    workload: Workload,
    variant: Variant,
    meter: Meter,
    config: MeasureConfig,
) -> CaseMeasurement:
    """Measure one supported case (the runner turns unsupported ones into skipped rows)."""
    with torch_threads(case.threads):
        peak_reset = memory.reset_peak_rss()
        devices.reset_device_peak_memory(case.device)
        reference_module = workload.reference_model()
        prepared = variant.prepare(reference_module, case.device, workload)
        baseline = (
            prepared
            if variant.name == "fp32"
            else FP32.prepare(reference_module, case.device, workload)
        )
        row: dict[str, Any] = {
            "variant_recipe": variant.recipe,
            "variant_detail": prepared.detail or None,
            "sparsity": prepared.sparsity,
        }
        row.update(evaluate_quality(workload, prepared, baseline))

        inputs = workload.example_batch(case.batch_size).to(case.device)
        row["param_count"], row["model_size_bytes"] = count_parameters(prepared.module)
        row["flops_per_sample"] = count_flops_per_sample(prepared, inputs)

        module = prepared.module

        def call() -> object:
            return module(inputs)

        sync = devices.synchronizer(case.device)
        timer = Timer(call, sync)
        with prepared.context():
            warmup = timer.warm_up(config.sampling)
            typical_ns = float(np.median(warmup.samples_ns[-max(1, warmup.calls // 4) :]))
            sampling = timer.sample(config.sampling, typical_ns)
            energy = measure_energy(call, sync, meter, case.batch_size, config.energy)

        row.update(_latency_columns(case, warmup, sampling, config.sampling))
        row.update(energy_columns(energy))
        row["peak_rss_bytes"] = memory.peak_rss_bytes()
        row["peak_rss_reset"] = peak_reset
        row["device_peak_allocated_bytes"] = devices.device_peak_memory_bytes(case.device)
    return CaseMeasurement(
        row=row,
        samples=_samples_table(case, warmup, sampling),
        energy_windows=energy_window_rows(case, energy),
    )
