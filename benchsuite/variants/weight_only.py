"""Weight-only int8 through torchao: the variant that pays off where decoding is memory-bound.

Each ``nn.Linear`` weight is stored as int8 with one scale per output channel and dequantized
inside the matmul; activations stay in the model's precision. Text generation moves every
weight once per output token, so fewer weight bytes is what speeds it up on a GPU. On a CPU,
where these small matmuls are compute-bound, it is usually slower than fp32; the row says what
it measured either way.

torchao (``pip install 'benchsuite[torchao]'``) is PyTorch's maintained home for quantization;
where it is not installed, the case is a skipped row that names the extra. Its quantized weights
are tensor subclasses that torch's FLOP counter still sees as matmuls, so FLOPs are counted on
the quantized model itself.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util

from torch import nn

from benchsuite.variants.base import PreparedModel
from benchsuite.variants.quantize import (
    TORCHAO_EXTRA,
    linear_layer_count,
    quantized_linear_count,
    requires_linear_layers,
)
from benchsuite.workload.base import Workload


def requires_torchao(workload: Workload) -> str | None:
    if importlib.util.find_spec("torchao") is None:
        return f"weight-only int8 uses torchao, which is not installed: {TORCHAO_EXTRA}"
    return requires_linear_layers(workload)


def int8_weight_only(model: nn.Module, device: str, workload: Workload) -> PreparedModel:
    from torchao.quantization import Int8WeightOnlyConfig, quantize_

    model = model.float().to(device).eval()
    linear = linear_layer_count(model)
    quantize_(model, Int8WeightOnlyConfig())
    version = importlib.metadata.version("torchao")
    return PreparedModel(
        model,
        device,
        detail=f"{quantized_linear_count(model)} of {linear} nn.Linear -> int8 weights, one "
        f"scale per output channel (torchao {version}); activations fp32",
        backend=f"torchao {version} Int8WeightOnly tensor subclass, eager",
    )
