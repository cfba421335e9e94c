"""Scenario ``generation``: text generation by a causal language model, per request and per token.

A request is a batch of prompts of ``prompt_tokens`` tokens, each continued by exactly
``output_tokens`` tokens, greedily, with the KV cache
(:mod:`benchsuite.instruments.greedy_decode`). The protocol:

1. quality: greedy-token agreement with the fp32 model over the generated tokens of four fixed
   prompts, and perplexity over a fixed token stream;
2. warm-up until request times settle, then requests until the median's interval is tight (each
   request's time to first token is kept beside its end-to-end time);
3. energy: windows of back-to-back requests, then windows of prefills alone (the prompt's forward
   pass and its first token); decode is the difference, with the interval
   [full low - prefill high, full high - prefill low];
4. memory peaks, KV cache included (the device allocator on CUDA).

Per-sample columns count requests: ``energy_per_sample_j`` is energy per request, and
``throughput_samples_per_s`` requests per second.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from benchsuite import units
from benchsuite.case import Case
from benchsuite.errors import UsageError
from benchsuite.instruments import devices
from benchsuite.instruments.config import MeasureConfig
from benchsuite.instruments.energy import EnergyResult, measure_energy
from benchsuite.instruments.greedy_decode import (
    CacheFactory,
    greedy_generate,
    mean_negative_log_likelihood,
    prefill,
    static_cache_factory,
)
from benchsuite.instruments.meters.base import Meter
from benchsuite.instruments.timing import Timer
from benchsuite.results import CaseResult, LatencyResult, ModelFacts, QualityResult
from benchsuite.scenarios.base import (
    Metric,
    RawSamples,
    Role,
    Scenario,
    SummaryCells,
    energy_flag,
)
from benchsuite.scenarios.flops import count_flops
from benchsuite.scenarios.steps import count_parameters, fp32_twin, memory_peaks, torch_threads
from benchsuite.variants import PreparedModel, Variant
from benchsuite.workload.base import Workload

QUALITY_PROMPTS = 4
PERPLEXITY_TOKENS = 128
SEED = 0
_MS = 1e-6


def context_length(model: object) -> int | None:
    """The longest sequence the model takes (its config's ``max_position_embeddings``)."""
    config = getattr(model, "config", None)
    length = getattr(config, "max_position_embeddings", None)
    return int(length) if isinstance(length, int) else None


def prompt_ids(workload: Workload, batch_size: int, prompt_tokens: int) -> torch.Tensor:
    """The workload's prompts (its ``generation_prompt`` when it has one), else seeded random
    token ids over the model's vocabulary."""
    own = workload.generation_prompt(batch_size, prompt_tokens)
    if own is not None:
        return own
    config = getattr(workload.reference_model(), "config", None)
    vocabulary = int(getattr(config, "vocab_size", 0) or 0)
    if vocabulary < 1:
        raise ValueError(f"workload {workload.name}: no vocab_size to draw prompt tokens from")
    generator = torch.Generator().manual_seed(SEED)
    return torch.randint(0, vocabulary, (batch_size, prompt_tokens), generator=generator)


def _percentiles_ms(values_ns: np.ndarray) -> tuple[float, float, float]:
    p50, p90, p99 = np.percentile(values_ns, [50, 90, 99])
    return p50 * _MS, p90 * _MS, p99 * _MS


EAGER_PERPLEXITY_NOTE = (
    "; perplexity scored by the same model uncompiled (the stream is a third shape: compiling "
    "it would cost the case about 11 s more on two cores; greedy tokens and timings are the "
    "compiled graph's)"
)


def perplexity_model(prepared: PreparedModel, cache: CacheFactory | None) -> nn.Module:
    """What scores the perplexity stream: the variant itself, except for a model specialised to
    fixed shapes (``cache`` set), whose eager twin computes the same function without compiling
    a graph for the stream's length."""
    if cache is not None and prepared.flops_module is not None:
        return prepared.flops_module
    return prepared.module


@dataclass(frozen=True)
class GenerationResult:
    """What one generation case measured beyond a request's end-to-end latency."""

    batch_size: int
    prompt_tokens: int
    output_tokens: int
    ttft_ns: np.ndarray
    e2e_ns: np.ndarray
    full: EnergyResult
    prefill: EnergyResult

    def columns(self) -> dict[str, Any]:
        ttft = _percentiles_ms(self.ttft_ns)
        columns: dict[str, Any] = {
            "ttft_p50_ms": ttft[0],
            "ttft_p90_ms": ttft[1],
            "ttft_p99_ms": ttft[2],
            "output_tokens_per_s": self.batch_size
            * self.output_tokens
            / (float(np.median(self.e2e_ns)) * 1e-9),
            "prefill_tokens_per_s": self.batch_size * self.prompt_tokens / (ttft[0] * 1e-3),
            "energy_per_request_j": self.full.energy_per_sample_j,
            "energy_per_output_token_j": self.full.energy_per_sample_j / self.output_tokens,
            "energy_prefill_per_request_j": self.prefill.energy_per_sample_j,
            "energy_prefill_per_request_low_j": self.prefill.energy_per_sample_low_j,
            "energy_prefill_per_request_high_j": self.prefill.energy_per_sample_high_j,
            "energy_decode_per_request_j": self.full.energy_per_sample_j
            - self.prefill.energy_per_sample_j,
            "energy_decode_per_request_low_j": self.full.energy_per_sample_low_j
            - self.prefill.energy_per_sample_high_j,
            "energy_decode_per_request_high_j": self.full.energy_per_sample_high_j
            - self.prefill.energy_per_sample_low_j,
        }
        if self.output_tokens > 1:
            tpot = _percentiles_ms((self.e2e_ns - self.ttft_ns) / (self.output_tokens - 1))
            columns.update(tpot_p50_ms=tpot[0], tpot_p90_ms=tpot[1], tpot_p99_ms=tpot[2])
        return columns


class Generation(Scenario):
    name = "generation"
    description = "greedy text generation with the KV cache: TTFT, TPOT, energy per token"
    role = Role.INFERENCE
    token_axes = True
    metrics = (
        Metric("latency_p50_ms", "request latency p50", raw_samples=RawSamples.LATENCY),
        Metric(
            "energy_per_sample_j",
            "energy per request",
            raw_samples=RawSamples.ENERGY,
            needs_measured_energy=True,
        ),
        Metric("ttft_p50_ms", "time to first token p50"),
        Metric("tpot_p50_ms", "time per output token p50"),
        Metric("energy_per_output_token_j", "energy per output token", needs_measured_energy=True),
        Metric("token_agreement", "greedy-token agreement", lower_is_better=False),
        Metric("peak_rss_bytes", "peak RSS"),
    )

    def unsupported_reason(self, case: Case, workload: Workload, variant: Variant) -> str | None:
        if variant.runtime != "pytorch":
            return (
                f"variant {variant.name} exports one forward pass to {variant.runtime}; "
                "generation decodes token by token with a KV cache, which needs a decoder "
                "exported with its cache inputs (not built)"
            )
        reason = super().unsupported_reason(case, workload, variant)
        if reason is None and variant.static_shapes:
            try:
                model = workload.reference_model()
            except Exception:  # a model that cannot be built here: its row says why, later
                return None
            if static_cache_factory(model) is None:
                return (
                    f"variant {variant.name} is specialised to fixed shapes, so generation needs "
                    "a static KV cache, which is laid out from a transformers model's config; "
                    f"{type(model).__name__} is not a transformers model"
                )
        return reason

    def check_case(self, case: Case, workload: Workload) -> None:
        assert case.prompt_tokens is not None and case.output_tokens is not None
        try:
            model = workload.reference_model()
        except Exception:  # a model that cannot be built here: its row says why, later
            return
        context = context_length(model)
        needed = case.prompt_tokens + case.output_tokens
        if context is not None and needed > context:
            raise UsageError(
                f"case {case.id}: prompt_tokens {case.prompt_tokens} + output_tokens "
                f"{case.output_tokens} = {needed} tokens, longer than the model's context of "
                f"{context}; lower prompt_tokens or output_tokens"
            )

    def run(
        self,
        case: Case,
        workload: Workload,
        variant: Variant,
        meter: Meter,
        config: MeasureConfig,
    ) -> CaseResult:
        assert case.prompt_tokens is not None and case.output_tokens is not None
        batch, prompt, output = case.batch_size, case.prompt_tokens, case.output_tokens
        sync = devices.synchronizer(case.device)
        with torch_threads(case.threads), memory_peaks(case.device) as peaks:
            prepared = workload.prepare_variant(variant, case.device)
            cache = (
                static_cache_factory(workload.reference_model()) if variant.static_shapes else None
            )
            quality = self._quality(
                workload, prepared, fp32_twin(workload, variant, prepared), case, cache
            )
            prompts = prompt_ids(workload, batch, prompt).to(case.device)
            module = prepared.module
            first_token_ns: list[int] = []

            def request() -> object:
                generated = greedy_generate(module, prompts, output, sync, cache=cache)
                first_token_ns.append(generated.ttft_ns)
                return generated

            def prefill_only() -> object:
                return prefill(module, prompts, output, cache)

            with prepared.context():
                flops = count_flops(
                    lambda: greedy_generate(prepared.flops_module or module, prompts, output)
                )
                timer = Timer(request, None)  # the request synchronises itself
                warmup = timer.warm_up(config.sampling)
                typical_ns = float(np.median(warmup.samples_ns[-max(1, warmup.calls // 4) :]))
                sampling = timer.sample(config.sampling, typical_ns)
                sampled_ttft = np.asarray(first_token_ns[-sampling.samples_ns.size :], float)
                full = measure_energy(
                    request, sync, meter, batch, config.energy, config.idle_for(case.device)
                )
                prefill_energy = measure_energy(  # the same idle reading serves both
                    prefill_only, sync, meter, batch, config.energy, idle=full.idle
                )
            memory = peaks()
        param_count, size_bytes = count_parameters(module)
        latency = LatencyResult(
            sampling, batch, config.sampling.ci_target_rel, config.sampling.confidence, warmup
        )
        generation = GenerationResult(
            batch,
            prompt,
            output,
            sampled_ttft,
            sampling.samples_ns.astype(float),
            full,
            prefill_energy,
        )
        facts = ModelFacts(
            variant.recipe,
            prepared.detail + (EAGER_PERPLEXITY_NOTE if cache is not None else ""),
            prepared.sparsity,
            param_count,
            size_bytes,
            flops // batch,
            "FLOPs of one whole request (prefill and every decode step) per sequence",
            variant_backend=prepared.kernel_path(),
            threads_used=case.threads or torch.get_num_threads(),
        )
        source = workload.source_facts()
        return CaseResult(
            case,
            model=facts,
            quality=quality,
            latency=latency,
            energy=full,
            memory=memory,
            extra=(generation, *((source,) if source is not None else ())),
        )

    @staticmethod
    def _quality(
        workload: Workload,
        prepared: PreparedModel,
        baseline: PreparedModel,
        case: Case,
        cache: CacheFactory | None,
    ) -> QualityResult:
        """Greedy-token agreement with fp32 on fixed prompts, and perplexity on a fixed
        stream (as long as the case's prompt and output, at most 128 tokens).

        The prompts go through the variant in requests of the case's batch size, the shape
        it is measured at (a compiled model then compiles once, here, outside timing)."""
        assert case.prompt_tokens is not None and case.output_tokens is not None
        prompts = prompt_ids(workload, QUALITY_PROMPTS, case.prompt_tokens).to(case.device)
        with prepared.context():
            tokens = torch.cat(
                [
                    greedy_generate(prepared.module, chunk, case.output_tokens, cache=cache).tokens
                    for chunk in prompts.split(case.batch_size)
                ]
            )
        with baseline.context():
            reference = greedy_generate(baseline.module, prompts, case.output_tokens).tokens
        length = min(case.prompt_tokens + case.output_tokens, PERPLEXITY_TOKENS)
        stream = prompt_ids(workload, 1, length).to(case.device)
        with prepared.context():
            nll = mean_negative_log_likelihood(perplexity_model(prepared, cache), stream)
        agreement = float((tokens == reference).float().mean())
        values = {"token_agreement": agreement, "perplexity": float(np.exp(nll))}
        return QualityResult("token_agreement", values, QUALITY_PROMPTS)

    def summary(self, row: Mapping[str, Any]) -> SummaryCells:
        return SummaryCells(
            latency=units.duration_ms(row["latency_p50_ms"]),
            throughput=f"{units.plain(row['output_tokens_per_s'])} tok/s",
            energy=f"{units.energy_per_1000(row['energy_per_output_token_j'])}/1k tok"
            + energy_flag(row),
            notes=str(row["stop_reason"]),
        )
