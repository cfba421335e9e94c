"""Model variants: named transforms of a trained fp32 model, each with the devices it supports.

| name | recipe | devices |
| --- | --- | --- |
| fp32 | the baseline | cpu, cuda |
| bf16 | autocast to bfloat16 | cpu, cuda |
| fp16 | autocast to float16 | cuda |
| int8 | dynamic int8 quantization of nn.Linear | cpu |
| prune50, prune90 | unstructured magnitude pruning | cpu, cuda |
| prune-ch50 | structured channel pruning, half the channels removed | cpu, cuda |
| distilled | a smaller student trained from the fp32 teacher | cpu, cuda |
| compiled | torch.compile (Inductor) | cpu, cuda |

A pair that cannot run (a device the variant lacks, a workload without what it needs) is a
``skipped`` row with the reason, never a crash.
"""

from __future__ import annotations

import torch

from benchsuite.errors import UsageError, did_you_mean
from benchsuite.variants import compiled, distill, precision, prune, quantize
from benchsuite.variants.base import PreparedModel, Variant, weight_sparsity

__all__ = ["VARIANTS", "PreparedModel", "Variant", "get_variant", "weight_sparsity"]

_ANY = ("cpu", "cuda")

VARIANTS: dict[str, Variant] = {
    variant.name: variant
    for variant in (
        Variant(
            "fp32",
            "fp32 weights and activations, no transform (the baseline)",
            _ANY,
            precision.fp32,
        ),
        Variant(
            "bf16",
            "torch.autocast to bfloat16 around every call; weights stay fp32",
            _ANY,
            precision.autocast(torch.bfloat16),
        ),
        Variant(
            "fp16",
            "torch.autocast to float16 around every call; weights stay fp32 "
            "(GPU only: CPU float16 kernels are slow and incomplete)",
            ("cuda",),
            precision.autocast(torch.float16),
        ),
        Variant(
            "int8",
            "dynamic int8 quantization of nn.Linear (x86/FBGEMM or ARM/QNNPACK "
            "engine; activations quantized per batch, no calibration)",
            ("cpu",),
            quantize.int8_dynamic,
            quantize.requires_linear_layers,
        ),
        Variant(
            "prune50",
            "unstructured L1 magnitude pruning of 50% of Conv/Linear weights, dense kernels",
            _ANY,
            prune.unstructured(0.5),
        ),
        Variant(
            "prune90",
            "unstructured L1 magnitude pruning of 90% of Conv/Linear weights, dense kernels",
            _ANY,
            prune.unstructured(0.9),
        ),
        Variant(
            "prune-ch50",
            "structured pruning: half the channels with the smallest L1 norm "
            "removed (fx-traced producer/consumer pairs, Transformer feed-forward "
            "blocks), no fine-tuning",
            _ANY,
            prune.structured_channels(0.5),
            prune.requires_prunable_pair,
        ),
        Variant(
            "distilled",
            "a smaller student trained by knowledge distillation from the fp32 "
            "teacher (T=4, alpha=0.7)",
            _ANY,
            distill.distilled,
            distill.requires_student,
        ),
        Variant(
            "compiled",
            "torch.compile with Inductor, default mode; compile time is in the warm-up",
            _ANY,
            compiled.compiled,
            compiled.requires_compiler,
        ),
    )
}


def get_variant(name: str) -> Variant:
    try:
        return VARIANTS[name]
    except KeyError:
        raise UsageError(
            f"unknown variant {name!r}{did_you_mean(name, VARIANTS)}; "
            f"known variants: {', '.join(VARIANTS)}"
        ) from None
