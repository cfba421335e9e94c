"""``torch.compile`` (Inductor, default mode) of the fp32 model.

Compilation happens on the first call for each input shape. Every scenario makes that call
before it times anything: inference cases make one untimed call of the case's batch before the
warm-up, generation compiles during its quality step, server cases call every batch size once.
So compile time never lands in a latency sample.

The compiled graph is specialised to the shapes it has seen (the variant is registered with
``static_shapes``): generation therefore runs it with a fixed-size KV cache, so that the prefill
and the decode step each compile once, for fixed shapes, rather than recompiling as the cache
grows.
"""

from __future__ import annotations

import shutil
import warnings
from typing import cast

import torch
from torch import nn

from benchsuite.variants.base import PreparedModel
from benchsuite.workload.base import Workload


def requires_compiler(workload: Workload) -> str | None:
    if not any(shutil.which(name) for name in ("cc", "gcc", "clang", "g++")):
        return "torch.compile (Inductor) needs a C/C++ compiler on the CPU; none on PATH"
    return None


def compiled(model: nn.Module, device: str, workload: Workload) -> PreparedModel:
    model = model.float().to(device).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Inductor imports deprecated torch.jit helpers
        optimised = cast(nn.Module, torch.compile(model))
    return PreparedModel(
        optimised,
        device,
        detail="torch.compile, Inductor default mode",
        flops_module=model,
        backend=f"torch.compile (Inductor, default mode), PyTorch {torch.__version__}",
    )
