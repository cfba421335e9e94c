"""int8 dynamic quantization of linear layers.

Weights are quantized to int8 ahead of time; activations are quantized per batch at run time, so
no calibration data is needed. It uses PyTorch's eager-mode ``quantize_dynamic`` on the ``x86``
engine (FBGEMM kernels with VNNI where the CPU has it), the backend PyTorch ships for x86 servers;
``qnnpack`` is chosen on ARM. Only ``nn.Linear`` (and LSTM/GRU, which our workloads lack) has
dynamic kernels: convolutions stay fp32, which the row's detail says. CPU only.

``torch.ao.quantization`` is deprecated in favour of torchao; it still works in the torch range
we support and has no extra dependency, so it is used with its deprecation warnings silenced.
The fused Transformer fast path cannot take quantized linear layers, so it is off while an int8
model runs (attention's output projection stays fp32: PyTorch marks it not dynamically
quantizable).
"""

from __future__ import annotations

import platform
import warnings

import torch
from torch import nn

from benchsuite.variants.base import PreparedModel
from benchsuite.workload import Workload


def quantization_engine() -> str:
    supported = torch.backends.quantized.supported_engines
    preferred = "qnnpack" if platform.machine().lower() in ("arm64", "aarch64") else "x86"
    for engine in (preferred, "fbgemm", "qnnpack"):
        if engine in supported:
            return engine
    raise RuntimeError(f"no int8 quantization engine in this torch build ({supported})")


def linear_layer_count(model: nn.Module) -> int:
    return sum(isinstance(m, nn.Linear) for m in model.modules())


def requires_linear_layers(workload: Workload) -> str | None:
    if linear_layer_count(workload.reference_model()) == 0:
        return "int8 dynamic quantization applies to nn.Linear layers; this model has none"
    return None


def int8_dynamic(model: nn.Module, device: str, workload: Workload) -> PreparedModel:
    engine = quantization_engine()
    torch.backends.quantized.engine = engine
    linear = linear_layer_count(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notices
        quantized = torch.ao.quantization.quantize_dynamic(
            model.eval(), {nn.Linear}, dtype=torch.qint8, inplace=False
        )
    converted = sum(
        type(m).__module__.startswith("torch.ao.nn.quantized.dynamic")
        for m in quantized.modules()
        if m is not quantized
    )
    return PreparedModel(
        quantized,
        device,
        flops_module=model,
        mha_fastpath=False,
        detail=f"{converted} of {linear} nn.Linear -> int8 dynamic ({engine} engine); "
        "other layers fp32",
    )
