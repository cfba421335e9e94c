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

from benchsuite import units
from benchsuite.case import Case
from benchsuite.instruments.config import MeasureConfig
from benchsuite.instruments.meters.base import Meter
from benchsuite.results import CaseResult, ModelFacts
from benchsuite.scenarios.base import (
    Metric,
    RawSamples,
    Role,
    Scenario,
    SummaryCells,
    energy_flag,
)
from benchsuite.scenarios.steps import (
    count_flops_per_sample,
    count_parameters,
    evaluate_quality,
    fp32_twin,
    memory_peaks,
    time_and_meter,
    torch_threads,
)
from benchsuite.variants import PreparedModel, Variant
from benchsuite.variants.base import pytorch_runtime
from benchsuite.workload.base import Workload
from benchsuite.workload.batch import Batch, batch_to, bound_call

INFERENCE_METRICS = (
    Metric("latency_p50_ms", "latency p50", raw_samples=RawSamples.LATENCY),
    Metric(
        "energy_per_sample_j",
        "energy per sample",
        raw_samples=RawSamples.ENERGY,
        needs_measured_energy=True,
    ),
    # each variant against the fp32 of its comparison group, paired round by round in one run:
    # tonight's machine being slower than last night's cancels out (benchsuite.run.comparison)
    Metric(
        "latency_ratio", "latency vs fp32", interval=("latency_ratio_low", "latency_ratio_high")
    ),
    Metric(
        "energy_ratio",
        "energy vs fp32",
        needs_measured_energy=True,
        interval=("energy_ratio_low", "energy_ratio_high"),
    ),
    Metric("accuracy", "accuracy", lower_is_better=False),
    Metric("peak_rss_bytes", "peak RSS"),
    Metric("throughput_samples_per_s", "throughput", lower_is_better=False),
)


def model_facts(
    variant: Variant, prepared: PreparedModel, batch: Batch, batch_size: int
) -> ModelFacts:
    """Parameters, size and FLOPs: counted by torch, or as the model's wrapper states them."""
    stated = prepared.stated
    if stated is not None:
        param_count, size_bytes = stated.param_count, stated.model_size_bytes
        flops, note = stated.flops_per_sample, stated.flops_note
    else:
        # a model in another runtime has no torch parameters: count the model it was exported from
        counted = prepared.module
        if prepared.runtime is not None and prepared.flops_module is not None:
            counted = prepared.flops_module
        param_count, size_bytes = count_parameters(counted)
        flops, note = count_flops_per_sample(prepared, batch, batch_size), ""
    runtime = prepared.runtime or pytorch_runtime()
    if runtime.artifact_bytes is not None:
        size_bytes = runtime.artifact_bytes
    return ModelFacts(
        variant_recipe=variant.recipe,
        variant_detail=prepared.detail,
        sparsity=prepared.sparsity,
        param_count=param_count,
        model_size_bytes=size_bytes,
        flops_per_sample=flops,
        flops_note=note,
        runtime=runtime.name,
        runtime_version=runtime.version,
        variant_backend=prepared.kernel_path(),
    )


def measure_inference(
    case: Case, workload: Workload, variant: Variant, meter: Meter, config: MeasureConfig
) -> CaseResult:
    with torch_threads(case.threads), memory_peaks(case.device) as peaks:
        prepared = workload.prepare_variant(variant, case.device)
        quality = evaluate_quality(workload, prepared, fp32_twin(workload, variant, prepared))
        batch = batch_to(workload.example_batch(case.batch_size), case.device)
        model = model_facts(variant, prepared, batch, case.batch_size)
        call = bound_call(prepared.module, batch)
        latency, energy = time_and_meter(
            call, case.device, meter, case.batch_size, config, prepared.context
        )
        memory = peaks()
    source = workload.source_facts()
    return CaseResult(
        case,
        model=model,
        quality=quality,
        latency=latency,
        energy=energy,
        memory=memory,
        extra=(source,) if source is not None else (),
    )


class InferenceScenario(Scenario):
    """Back-to-back calls of one batch: the base of single-stream and offline."""

    role = Role.INFERENCE
    metrics = INFERENCE_METRICS
    in_rounds = True

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
        return SummaryCells(
            latency=units.duration_ms(
                row["latency_p50_ms"], row["latency_p50_ci_low_ms"], row["latency_p50_ci_high_ms"]
            ),
            throughput=units.rate(row["throughput_samples_per_s"]),
            energy=units.energy_per_1000(
                row["energy_per_sample_j"],
                row.get("energy_per_sample_low_j"),
                row.get("energy_per_sample_high_j"),
            )
            + energy_flag(row),
            notes=str(row["stop_reason"]),
        )
