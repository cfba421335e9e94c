"""int8 dynamic quantization of linear layers: int8 weights, activations quantized per call.

Weights are quantized to int8 ahead of time and each call quantizes its activations, so no
calibration data is needed. Only ``nn.Linear`` is quantized; convolutions stay fp32, which the
row's detail says. CPU only (GPUs take weight-only int8, the ``int8-weight`` variant).

Two kernel paths, each under its own name, so that a variant's name never means a different
kernel path depending on which extras are installed:

- ``int8``: ``torch.ao.quantization.quantize_dynamic``, whose quantized linear layers call
  FBGEMM's int8 kernels (the ``x86`` engine; QNNPACK on ARM) in eager mode. It is the int8 a CPU
  deployment gets today: it was the fastest of the candidates measured side by side
  (docs/workloads.md, "Which int8"). PyTorch deprecates it in favour of torchao; the deprecation
  it raises is quoted on the row, never silenced. Where a torch build no longer ships it, the
  case is a skipped row that says so.
- ``int8-torchao-eager``: torchao's ``Int8DynamicActivationInt8WeightConfig``, whose tensor
  subclasses run in eager mode (``pip install 'benchsuite[torchao]'``). Without
  ``torch.compile`` this is a slow fallback on a CPU, several times slower than fp32, and its name
  says so: it is never the headline ``int8``.

Quantized weights hide part of the matmuls from torch's FLOP counter, so FLOPs are counted on
the fp32 model. The fused Transformer fast path cannot take quantized linear layers, so it is off
while an int8 model runs; where the model has layers that would take it, the row says so (fp32
takes it, so part of any gap to fp32 is that path, not int8 arithmetic).
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


def requires_torch_ao_dynamic(workload: Workload) -> str | None:
    """The eager int8 kernels: torch.ao's dynamic quantization and an engine for this CPU."""
    quantization = getattr(torch.ao, "quantization", None)
    if quantization is None or not hasattr(quantization, "quantize_dynamic"):
        return (
            f"torch {torch.__version__} no longer ships torch.ao.quantization.quantize_dynamic, "
            "the eager int8 kernels; int8-torchao-eager is torchao's path"
        )
    if not any(
        e in torch.backends.quantized.supported_engines for e in ("x86", "fbgemm", "qnnpack")
    ):
        return f"this torch build has no int8 engine ({torch.backends.quantized.supported_engines})"
    return requires_linear_layers(workload)


def requires_torchao(workload: Workload) -> str | None:
    if importlib.util.find_spec("torchao") is None:
        return f"this variant runs torchao's kernels; torchao is not installed: {TORCHAO_EXTRA}"
    return requires_linear_layers(workload)


def fast_path_note(model: nn.Module) -> str:
    """What the row must say when int8 turns off a path fp32 takes."""
    layers = sum(isinstance(m, nn.TransformerEncoderLayer) for m in model.modules())
    if not layers:
        return ""
    return (
        f"; PyTorch's fused Transformer fast path, which fp32 takes in its {layers} encoder "
        "layers, is off: it cannot take quantized linear layers"
    )


def int8_dynamic(model: nn.Module, device: str, workload: Workload) -> PreparedModel:
    """torch.ao's dynamic int8 quantization of every ``nn.Linear``, on FBGEMM/x86 kernels (or
    QNNPACK on ARM); PyTorch's deprecation warnings go on the row."""
    engine = quantization_engine()
    torch.backends.quantized.engine = engine
    model = model.float().eval()
    linear = linear_layer_count(model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quantized = torch.ao.quantization.quantize_dynamic(
            model, {nn.Linear}, dtype=torch.qint8, inplace=False
        )
    converted = sum(
        type(m).__module__.startswith("torch.ao.nn.quantized.dynamic")
        for m in quantized.modules()
        if m is not quantized
    )
    said = sorted({str(warning.message).splitlines()[0][:160] for warning in caught})
    quoted = f' PyTorch warned: "{"; ".join(said)}".' if said else ""
    kernels = "QNNPACK" if engine == "qnnpack" else "FBGEMM"
    return PreparedModel(
        quantized,
        device,
        flops_module=model,
        mha_fastpath=False,
        detail=f"{converted} of {linear} nn.Linear -> int8 dynamic ({engine} engine); other "
        f"layers fp32{fast_path_note(model)}.{quoted}",
        backend=f"torch.ao.quantization dynamic int8, eager, {engine} engine ({kernels} "
        "kernels); deprecated by PyTorch in favour of torchao",
    )


def int8_torchao_eager(model: nn.Module, device: str, workload: Workload) -> PreparedModel:
    """torchao's int8 dynamic activations with int8 weights, run eagerly (no compile)."""
    from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_

    model = model.float().eval()
    reference = copy.deepcopy(model)
    linear = linear_layer_count(model)
    quantize_(model, Int8DynamicActivationInt8WeightConfig())
    version = importlib.metadata.version("torchao")
    return PreparedModel(
        model,
        device,
        flops_module=reference,
        mha_fastpath=False,
        detail=f"{quantized_linear_count(model)} of {linear} nn.Linear -> int8 dynamic "
        f"activations, int8 weights (torchao {version}), eager; other layers "
        f"fp32{fast_path_note(model)}",
        backend=f"torchao {version} Int8DynamicActivationInt8Weight tensor subclass, eager "
        "(no torch.compile: a fallback, not a deployed int8 path)",
    )


def quantized_linear_count(model: nn.Module) -> int:
    """Linear layers whose weight torchao replaced by a quantized tensor subclass."""
    return sum(
        isinstance(m, nn.Linear) and type(m.weight.data).__module__.startswith("torchao")
        for m in model.modules()
    )
