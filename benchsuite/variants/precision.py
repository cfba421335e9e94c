"""fp32 (the baseline), mixed precision through ``torch.autocast``, and the model cast to a
lower precision whole, as it is deployed."""

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


def weights_in(dtype: torch.dtype) -> Transform:
    """The model as it is deployed in ``dtype``: every weight cast (``model.to(dtype)``), and
    floating-point inputs cast on the way in, so the arithmetic and the memory are that dtype's.
    (Autocast keeps fp32 weights and casts per op: a language model is not served that way.)"""
    name = str(dtype).removeprefix("torch.")

    def cast_inputs(
        module: nn.Module, args: tuple[object, ...], kwargs: dict[str, object]
    ) -> tuple[tuple[object, ...], dict[str, object]]:
        return (
            tuple(_cast(value, dtype) for value in args),
            {key: _cast(value, dtype) for key, value in kwargs.items()},
        )

    def transform(model: nn.Module, device: str, workload: Workload) -> PreparedModel:
        module = model.to(device=device, dtype=dtype).eval()
        module.register_forward_pre_hook(cast_inputs, with_kwargs=True)
        return PreparedModel(
            module,
            device,
            detail=f"weights cast to {name} (model.to(torch.{name})), floating inputs with them",
        )

    return transform


def _cast(value: object, dtype: torch.dtype) -> object:
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value.to(dtype)
    return value
