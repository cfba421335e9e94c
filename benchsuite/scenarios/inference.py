"""The inference protocol that single-stream and offline share (they differ in batch size only).

1. build the variant from the workload's reference and judge its quality against fp32;
2. count parameters, size and FLOPs;
3. warm up until timings settle, sample per-call latency until the median is known;
4. read energy over an idle window and several busy windows;
5. read memory peaks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchsuite.batch import batch_to, call_model
from benchsuite.case import Case
from benchsuite.meters.base import Meter
from benchsuite.protocol import (
    MeasureConfig,
    count_flops_per_sample,
    count_parameters,
    evaluate_quality,
    memory_peaks,
    time_and_meter,
    torch_threads,
)
from benchsuite.results import CaseResult, ModelFacts
from benchsuite.scenarios.base import (
    Metric,
    RawSamples,
    Role,
    Scenario,
    SummaryCells,
    energy_flag,
)
from benchsuite.variants import Variant, get_variant
from benchsuite.workload import Workload

INFERENCE_METRICS = (
    Metric("latency_p50_ms", "latency p50", raw_samples=RawSamples.LATENCY),
    Metric(
        "energy_per_sample_j",
        "energy per sample",
        raw_samples=RawSamples.ENERGY,
        needs_measured_energy=True,
    ),
    Metric("accuracy", "accuracy", lower_is_better=False),
    Metric("peak_rss_bytes", "peak RSS"),
    Metric("throughput_samples_per_s", "throughput", lower_is_better=False),
)


def measure_inference(
    case: Case, workload: Workload, variant: Variant, meter: Meter, config: MeasureConfig
) -> CaseResult:
    with torch_threads(case.threads), memory_peaks(case.device) as peaks:
        reference = workload.reference_model()
        prepared = variant.prepare(reference, case.device, workload)
        fp32 = get_variant("fp32")
        baseline = prepared if variant is fp32 else fp32.prepare(reference, case.device, workload)
        quality = evaluate_quality(workload, prepared, baseline)
        del baseline
        batch = batch_to(workload.example_batch(case.batch_size), case.device)
        param_count, size_bytes = count_parameters(prepared.module)
        model = ModelFacts(
            variant_recipe=variant.recipe,
            variant_detail=prepared.detail,
            sparsity=prepared.sparsity,
            param_count=param_count,
            model_size_bytes=size_bytes,
            flops_per_sample=count_flops_per_sample(prepared, batch, case.batch_size),
        )
        module = prepared.module

        def call() -> object:
            return call_model(module, batch)

        latency, energy = time_and_meter(
            call, case.device, meter, case.batch_size, config, prepared.context
        )
        memory = peaks()
    return CaseResult(
        case, model=model, quality=quality, latency=latency, energy=energy, memory=memory
    )


class InferenceScenario(Scenario):
    """Back-to-back calls of one batch: the base of single-stream and offline."""

    role = Role.INFERENCE
    metrics = INFERENCE_METRICS

    def run(
        self,
        case: Case,
        workload: Workload,
        variant: Variant,
        meter: Meter,
        config: MeasureConfig,
    ) -> CaseResult:
        return measure_inference(case, workload, variant, meter, config)

    def summary(self, row: Mapping[str, Any]) -> SummaryCells:
        p50 = row["latency_p50_ms"]
        half = max(p50 - row["latency_p50_ci_low_ms"], row["latency_p50_ci_high_ms"] - p50)
        return SummaryCells(
            latency=f"{p50:.4g} ± {half:.2g}",
            throughput=f"{row['throughput_samples_per_s']:.4g}",
            energy=f"{row['energy_per_sample_j']:.3g}{energy_flag(row)}",
            notes=str(row["stop_reason"]),
        )
