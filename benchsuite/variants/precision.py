"""fp32 (the baseline) and mixed precision through ``torch.autocast``."""

from __future__ import annotations

import torch
from torch import nn

from benchsuite.variants.base import PreparedModel, Transform
from benchsuite.workload.base import Workload


def fp32(model: nn.Module, device: str, workload: Workload) -> PreparedModel:
    return PreparedModel(model.float().to(device).eval(), device)


def autocast(dtype: torch.dtype) -> Transform:
    def transform(model: nn.Module, device: str, workload: Workload) -> PreparedModel:
        return PreparedModel(
            model.float().to(device).eval(),
            device,
            autocast_dtype=dtype,
            detail=f"autocast {str(dtype).removeprefix('torch.')}",
        )

    return transform
