"""int8 dynamic quantization of linear layers: int8 weights, activations quantized per call.

Weights are quantized to int8 ahead of time and each call quantizes its activations, so no
calibration data is needed. Only ``nn.Linear`` is quantized; convolutions stay fp32, which the
row's detail says. CPU only (GPUs take weight-only int8, the ``int8-weight`` variant).

The recipe runs through torchao (``Int8DynamicActivationInt8WeightConfig``), PyTorch's maintained
home for quantization, when it is installed (``pip install 'benchsuite[torchao]'``). Its
quantized weights hide part of the matmuls from torch's FLOP counter, so FLOPs are counted on the
fp32 model. Without torchao, the case falls back to ``torch.ao.quantization.quantize_dynamic``
(FBGEMM/x86 or QNNPACK kernels), which PyTorch has deprecated: the warnings it raises are then
quoted on the row with the reason the old path ran, never silenced. The fused Transformer fast
path cannot take quantized linear layers, so it is off while an int8 model runs.
"""

from __future__ import annotations

import copy
import importlib.metadata
import importlib.util
import platform
import warnings

import torch
from torch import nn

from benchsuite.variants.base import PreparedModel
from benchsuite.workload.base import Workload

TORCHAO_EXTRA = "pip install 'benchsuite[torchao]'"


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
    """torchao's int8 dynamic activations with int8 weights, else the deprecated torch.ao path."""
    if importlib.util.find_spec("torchao") is None:
        why = f"torchao is not installed ({TORCHAO_EXTRA})"
        return torch_ao_int8_dynamic(model, device, workload, why)
    from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_

    model = model.float().eval()
    reference = copy.deepcopy(model)
    linear = linear_layer_count(model)
    try:
        quantize_(model, Int8DynamicActivationInt8WeightConfig())
    except Exception as error:  # a layer torchao cannot take: the old path, and the row says why
        why = f"torchao could not quantize this model ({type(error).__name__}: {error})"
        return torch_ao_int8_dynamic(reference, device, workload, why[:300])
    version = importlib.metadata.version("torchao")
    return PreparedModel(
        model,
        device,
        flops_module=reference,
        mha_fastpath=False,
        detail=f"{quantized_linear_count(model)} of {linear} nn.Linear -> int8 dynamic "
        f"activations, int8 weights (torchao {version}); other layers fp32",
    )


def quantized_linear_count(model: nn.Module) -> int:
    """Linear layers whose weight torchao replaced by a quantized tensor subclass."""
    return sum(
        isinstance(m, nn.Linear) and type(m.weight.data).__module__.startswith("torchao")
        for m in model.modules()
    )


def torch_ao_int8_dynamic(
    model: nn.Module, device: str, workload: Workload, why: str
) -> PreparedModel:
    """The same recipe through ``torch.ao.quantization.quantize_dynamic``, used only where
    torchao does not cover the case (``why``); its deprecation warnings go on the row."""
    engine = quantization_engine()
    torch.backends.quantized.engine = engine
    linear = linear_layer_count(model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quantized = torch.ao.quantization.quantize_dynamic(
            model.eval(), {nn.Linear}, dtype=torch.qint8, inplace=False
        )
    converted = sum(
        type(m).__module__.startswith("torch.ao.nn.quantized.dynamic")
        for m in quantized.modules()
        if m is not quantized
    )
    said = sorted({str(warning.message).splitlines()[0][:160] for warning in caught})
    quoted = f' It warned: "{"; ".join(said)}".' if said else ""
    return PreparedModel(
        quantized,
        device,
        flops_module=model,
        mha_fastpath=False,
        detail=f"{converted} of {linear} nn.Linear -> int8 dynamic ({engine} engine); other "
        "layers fp32. Through torch.ao.quantization, which PyTorch deprecates in favour of "
        f"torchao, because {why}.{quoted}",
    )
