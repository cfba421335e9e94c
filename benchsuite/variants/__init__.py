"""Model variants: named transforms of a trained fp32 model, each with the devices it supports.

| name | recipe | devices |
| --- | --- | --- |
| fp32 | the baseline | cpu, cuda |
| bf16 | autocast to bfloat16 | cpu, cuda |
| fp16 | autocast to float16 | cuda |
| int8 | dynamic int8 of nn.Linear, torch.ao's eager FBGEMM/x86 kernels | cpu |
| int8-torchao-eager | the same through torchao, eager (a slow fallback) | cpu |
| int8-weight | weight-only int8 nn.Linear through torchao | cpu, cuda |
| prune50, prune90 | unstructured magnitude pruning | cpu, cuda |
| prune-ch50 | structured channel pruning, half the channels removed | cpu, cuda |
| distilled | a smaller student trained from the fp32 teacher | cpu, cuda |
| compiled | torch.compile (Inductor) | cpu, cuda |
| ort | exported to ONNX, run by ONNX Runtime | cpu, cuda |
| ort-int8 | ONNX Runtime dynamic int8 (MatMul/Gemm) | cpu, cuda |
| ort-int8-static | ONNX Runtime static int8, calibrated on the workload's data | cpu, cuda |
| openvino | exported to ONNX, run by OpenVINO | cpu |
| openvino-int8 | OpenVINO with NNCF post-training int8, calibrated on the workload's data | cpu |
| as-served | an endpoint (``openai:``) as its server runs it: no transform here | cpu, cuda |

A pair that cannot run (a device the variant lacks, a workload without what it needs) is a
``skipped`` row with the reason, never a crash. Your own variants: see
:mod:`benchsuite.variants.registry`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from benchsuite.variants import (
    compiled,
    distill,
    onnx_runtime,
    openvino_runtime,
    precision,
    prune,
    quantize,
    weight_only,
)
from benchsuite.variants.base import PreparedModel, Variant, weight_sparsity
from benchsuite.variants.registry import (
    ANY_DEVICE,
    ENTRY_POINT_GROUP,
    add_variant,
    all_variants,
    get_variant,
    register_variant,
)

if TYPE_CHECKING:
    from benchsuite.workload.base import Workload

__all__ = [
    "ENTRY_POINT_GROUP",
    "PreparedModel",
    "Variant",
    "add_variant",
    "all_variants",
    "get_variant",
    "register_variant",
    "weight_sparsity",
]

# The bundled variants take the same path as a user's.
register_variant("fp32", recipe="fp32 weights and activations, no transform (the baseline)")(
    precision.fp32
)
register_variant("bf16", recipe="torch.autocast to bfloat16 around every call; weights stay fp32")(
    precision.autocast(torch.bfloat16)
)
register_variant(
    "fp16",
    recipe="torch.autocast to float16 around every call; weights stay fp32 "
    "(GPU only: CPU float16 kernels are slow and incomplete)",
    devices=("cuda",),
)(precision.autocast(torch.float16))
register_variant(
    "bf16-weights",
    recipe="weights cast to bfloat16 and inputs with them (model.to(torch.bfloat16)): the form "
    "a model is deployed in, unlike bf16's autocast over fp32 weights",
)(precision.weights_in(torch.bfloat16))
register_variant(
    "fp16-weights",
    recipe="weights cast to float16 and inputs with them (model.to(torch.float16)): the form a "
    "model is deployed in on a GPU (CPU float16 kernels are slow and incomplete)",
    devices=("cuda",),
)(precision.weights_in(torch.float16))
register_variant(
    "int8",
    recipe="dynamic int8 quantization of nn.Linear (int8 weights, activations quantized per "
    "call, no calibration) on torch.ao's eager int8 kernels (FBGEMM/x86), which PyTorch "
    "deprecates: the fastest int8 path measured on a CPU",
    devices=("cpu",),
    requires=quantize.requires_torch_ao_dynamic,
)(quantize.int8_dynamic)
register_variant(
    "int8-torchao-eager",
    recipe="dynamic int8 quantization of nn.Linear through torchao's tensor subclasses in "
    "eager mode, without torch.compile: a fallback several times slower than fp32 on a CPU, "
    "kept to show it",
    devices=("cpu",),
    requires=quantize.requires_torchao,
)(quantize.int8_torchao_eager)
register_variant(
    "int8-weight",
    recipe="weight-only int8 quantization of nn.Linear through torchao (one scale per output "
    "channel, dequantized in the matmul; activations stay fp32)",
    requires=weight_only.requires_torchao,
)(weight_only.int8_weight_only)
register_variant(
    "prune50",
    recipe="unstructured L1 magnitude pruning of 50% of Conv/Linear weights, dense kernels",
)(prune.unstructured(0.5))
register_variant(
    "prune90",
    recipe="unstructured L1 magnitude pruning of 90% of Conv/Linear weights, dense kernels",
)(prune.unstructured(0.9))
register_variant(
    "prune-ch50",
    recipe="structured pruning: half the channels with the smallest L1 norm "
    "removed (fx-traced producer/consumer pairs, Transformer feed-forward "
    "blocks), no fine-tuning",
    requires=prune.requires_prunable_pair,
)(prune.structured_channels(0.5))
register_variant(
    "distilled",
    recipe="a smaller student trained by knowledge distillation from the fp32 "
    "teacher (T=4, alpha=0.7)",
    requires=distill.requires_student,
)(distill.distilled)
register_variant(
    "compiled",
    recipe="torch.compile with Inductor, default mode; compiled on an untimed first call",
    devices=ANY_DEVICE,
    requires=compiled.requires_compiler,
    static_shapes=True,
)(compiled.compiled)
register_variant(
    "ort",
    recipe="exported to ONNX (torch.onnx, dynamo) and run by ONNX Runtime with every graph "
    "optimisation, fp32",
    requires=onnx_runtime.requires_onnxruntime,
    runtime="onnxruntime",
)(onnx_runtime.onnx_runtime())
register_variant(
    "ort-int8",
    recipe="exported to ONNX, MatMul/Gemm dynamically quantized to int8 by ONNX Runtime",
    requires=onnx_runtime.requires_onnxruntime,
    runtime="onnxruntime",
)(onnx_runtime.onnx_runtime(onnx_runtime.dynamic_int8))
register_variant(
    "ort-int8-static",
    recipe="exported to ONNX, statically quantized to int8 by ONNX Runtime (QDQ, per-channel "
    "weights), calibrated on the workload's own samples",
    requires=onnx_runtime.requires_static_calibration,
    runtime="onnxruntime",
)(onnx_runtime.onnx_runtime(onnx_runtime.static_int8))
register_variant(
    "openvino",
    recipe="exported to ONNX (torch.onnx, dynamo) and run by OpenVINO on the CPU, f32 precision",
    devices=("cpu",),
    requires=openvino_runtime.requires_openvino,
    runtime="openvino",
)(openvino_runtime.openvino_runtime())
register_variant(
    "openvino-int8",
    recipe="exported to ONNX, post-training int8 by NNCF calibrated on the workload's own "
    "samples, run by OpenVINO on the CPU",
    devices=("cpu",),
    requires=openvino_runtime.requires_nncf,
    runtime="openvino",
)(openvino_runtime.openvino_runtime(int8=True))


def _served_elsewhere(workload: Workload) -> str | None:
    if workload.served_elsewhere:
        return None
    return "as-served is an endpoint's only variant (openai:<url>); an in-process model has fp32"


@register_variant(
    "as-served",
    recipe="the deployment as its server runs it (an OpenAI-compatible endpoint): benchsuite "
    "transforms nothing; the server's own command and configuration are the recipe",
    requires=_served_elsewhere,
)
def as_served(model: torch.nn.Module, device: str, workload: Workload) -> PreparedModel:
    raise RuntimeError("an endpoint's model runs in its server: nothing is prepared here")
