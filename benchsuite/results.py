"""The typed result of one case: frozen parts, converted to store columns in one place.

A scenario returns a :class:`CaseResult` made of parts (model facts, quality, latency, energy,
memory, training, and any part a plug-in scenario adds). Each part knows its own columns;
:meth:`CaseResult.row` merges them and checks every name and type against
:mod:`benchsuite.store.schema`, so a column no reader knows about fails where it is made, not in a
report weeks later. The same result comes back from ``benchsuite.measure()``, a suite case and
the pytest plugin.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pyarrow as pa
import torch

from benchsuite.case import Case
from benchsuite.instruments.energy import EnergyResult
from benchsuite.instruments.stats import Summary, summarize
from benchsuite.instruments.timing import SamplingResult, WarmupResult
from benchsuite.store.schema import check_row

_MS_PER_NS = 1e-6


@runtime_checkable
class ResultPart(Protocol):
    """One part of a case's result: it knows its store columns."""

    def columns(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ModelFacts:
    """What was measured: the variant's recipe and the model's size and arithmetic."""

    variant_recipe: str
    variant_detail: str = ""
    sparsity: float | None = None
    param_count: int | None = None
    model_size_bytes: int | None = None
    flops_per_sample: int | None = None
    flops_note: str = ""
    """How FLOPs were obtained when not counted by torch, or why there is no figure."""
    runtime: str = "pytorch"
    runtime_version: str = field(default_factory=lambda: torch.__version__)
    variant_backend: str = ""
    """The kernel path that ran the calls (:meth:`PreparedModel.kernel_path`)."""
    threads_used: int = field(default_factory=torch.get_num_threads)
    """Intra-op threads torch ran the calls with: the case's ``threads``, or torch's default
    where the case named none (read where the facts are made, inside the case's thread
    setting)."""

    def columns(self) -> dict[str, Any]:
        return {
            "variant_backend": self.variant_backend or None,
            "threads_used": self.threads_used,
            "runtime": self.runtime,
            "runtime_version": self.runtime_version,
            "flops_note": self.flops_note or None,
            "variant_recipe": self.variant_recipe,
            "variant_detail": self.variant_detail or None,
            "sparsity": self.sparsity,
            "param_count": self.param_count,
            "model_size_bytes": self.model_size_bytes,
            "flops_per_sample": self.flops_per_sample,
        }


QUALITY_COLUMNS = (
    "accuracy",
    "top1_agreement",
    "output_rel_error",
    "cosine_similarity",
    "token_agreement",
    "perplexity",
)


@dataclass(frozen=True)
class QualityResult:
    """Quality metric values by name (see :mod:`benchsuite.instruments.quality`) on
    ``eval_samples``; ``headline`` names the one a person reads first (``None``: not applicable)."""

    headline: str | None
    values: Mapping[str, float] = field(default_factory=dict)
    eval_samples: int | None = None

    def columns(self) -> dict[str, Any]:
        return {
            "quality_metric": self.headline,
            **{name: self.values.get(name) for name in QUALITY_COLUMNS},
            "eval_samples": self.eval_samples,
        }


@dataclass(frozen=True)
class LatencyResult:
    """Per-call timings of ``batch_size`` samples: warm-up (recorded, not hidden) and samples."""

    sampling: SamplingResult
    batch_size: int
    ci_target_rel: float | None
    confidence: float = 0.95
    warmup: WarmupResult | None = None

    @cached_property
    def summary(self) -> Summary:
        """Computed once: ``p50_ms``, throughput and ``columns()`` all read it."""
        return summarize(self.sampling.samples_ns, self.confidence)

    @property
    def p50_ms(self) -> float:
        return self.summary.median.median * _MS_PER_NS

    @property
    def throughput_samples_per_s(self) -> float:
        return self.batch_size / (self.summary.median.median * 1e-9)

    def columns(self) -> dict[str, Any]:
        summary = self.summary
        half_width = self.sampling.ci_half_width_rel
        columns: dict[str, Any] = {
            "sampling_s": self.sampling.duration_s,
            "stop_reason": self.sampling.stop_reason,
            "ci_target_rel": self.ci_target_rel,
            "ci_half_width_rel": half_width if math.isfinite(half_width) else None,
            "sample_count": summary.count,
            "latency_p50_ms": summary.median.median * _MS_PER_NS,
            "latency_p50_ci_low_ms": summary.median.low * _MS_PER_NS,
            "latency_p50_ci_high_ms": summary.median.high * _MS_PER_NS,
            "latency_interval_method": (
                f"95% CI of the median of {summary.count} calls in one process"
            ),
            "latency_p90_ms": summary.p90 * _MS_PER_NS,
            "latency_p99_ms": summary.p99 * _MS_PER_NS,
            "latency_mean_ms": summary.mean * _MS_PER_NS,
            "latency_std_ms": summary.std * _MS_PER_NS,
            "latency_iqr_ms": summary.iqr * _MS_PER_NS,
            "latency_min_ms": summary.minimum * _MS_PER_NS,
            "latency_max_ms": summary.maximum * _MS_PER_NS,
            "throughput_samples_per_s": self.throughput_samples_per_s,
        }
        if self.warmup is not None:
            columns.update(
                warmup_calls=self.warmup.calls,
                warmup_s=self.warmup.duration_s,
                warmup_settled=self.warmup.settled,
            )
        return columns

    def samples_table(self, case_id: str) -> pa.Table:
        """Every timed call, warm-up included, for the store's samples table."""
        warmup_ns = self.warmup.samples_ns if self.warmup is not None else np.empty(0, np.int64)
        sampled_ns = self.sampling.samples_ns
        count = warmup_ns.size + sampled_ns.size
        return pa.table(
            {
                "run_id": pa.nulls(count, pa.string()),
                "case_id": pa.array([case_id] * count, pa.string()),
                "phase": pa.array(["warmup"] * warmup_ns.size + ["sample"] * sampled_ns.size),
                "index": pa.array(
                    np.concatenate([np.arange(warmup_ns.size), np.arange(sampled_ns.size)]),
                    pa.int64(),
                ),
                "latency_ns": pa.array(
                    np.concatenate([warmup_ns, sampled_ns]).astype(np.int64), pa.int64()
                ),
            }
        )


@dataclass(frozen=True)
class MemoryResult:
    """Peaks over the case: host resident set (reset first where the OS allows) and the device
    allocator's (CUDA only)."""

    peak_rss_bytes: int
    peak_rss_reset: bool
    device_peak_allocated_bytes: int | None = None

    def columns(self) -> dict[str, Any]:
        return {
            "peak_rss_bytes": self.peak_rss_bytes,
            "peak_rss_reset": self.peak_rss_reset,
            "device_peak_allocated_bytes": self.device_peak_allocated_bytes,
        }


@dataclass(frozen=True)
class TrainingOutcome:
    """How one training run to a target ended (``workload.trainer.train_classifier``)."""

    epochs: int
    samples: int
    duration_s: float
    accuracy: float
    reached_target: bool
    stop_reason: str  # "target_reached", "max_epochs" or "time_budget"


@dataclass(frozen=True)
class TrainingResult:
    """One training run to a target: how it ended and what it cost (energy per run divides the
    window's energy by the back-to-back repeats needed to fill the meter's minimum window)."""

    outcome: TrainingOutcome
    target_accuracy: float
    repeats: int
    energy_per_run_j: float

    def columns(self) -> dict[str, Any]:
        outcome = self.outcome
        return {
            "train_target_accuracy": self.target_accuracy,
            "train_reached_target": outcome.reached_target,
            "train_stop_reason": outcome.stop_reason,
            "train_epochs": outcome.epochs,
            "train_samples": outcome.samples,
            "train_time_s": outcome.duration_s,
            "train_samples_per_s": outcome.samples / outcome.duration_s,
            "train_repeats": self.repeats,
            "train_energy_j": self.energy_per_run_j,
            "train_energy_per_sample_j": self.energy_per_run_j / outcome.samples,
        }


@dataclass(frozen=True)
class SourceFacts:
    """Where a model named by the user came from, and what fed it."""

    model_source: str
    model_task: str
    model_revision: str
    model_library: str
    model_library_versions: str
    input_note: str

    def columns(self) -> dict[str, Any]:
        return {
            "model_source": self.model_source,
            "model_task": self.model_task,
            "model_revision": self.model_revision,
            "model_library": self.model_library,
            "model_library_versions": self.model_library_versions,
            "input_note": self.input_note,
        }


@dataclass(frozen=True)
class CaseResult:
    """Everything one case measured. Never changed once made; :meth:`row` is its store row."""

    case: Case
    model: ModelFacts | None = None
    quality: QualityResult | None = None
    latency: LatencyResult | None = None
    energy: EnergyResult | None = None
    memory: MemoryResult | None = None
    training: TrainingResult | None = None
    extra: tuple[ResultPart, ...] = ()
    """Parts a plug-in scenario adds; their columns must be in the schema too."""

    def parts(self) -> tuple[ResultPart, ...]:
        named = (self.model, self.quality, self.latency, self.energy, self.memory, self.training)
        return (*(part for part in named if part is not None), *self.extra)

    def row(self) -> dict[str, Any]:
        """The case's identity and measured columns (the runner adds run-level ones), checked
        against the schema."""
        row: dict[str, Any] = self.case.as_columns()
        for part in self.parts():
            row.update(part.columns())
        check_row(row)
        return row

    def samples_table(self) -> pa.Table | None:
        return self.latency.samples_table(self.case.id) if self.latency is not None else None

    def energy_window_rows(self) -> tuple[dict[str, Any], ...]:
        return self.energy.window_rows(self.case.id) if self.energy is not None else ()
