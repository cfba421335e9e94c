"""Model variants: named transforms of a trained fp32 model, each with the devices it supports.

A variant returns a :class:`PreparedModel`: the module to call and the context every call runs
in (``torch.inference_mode`` plus, for mixed precision, ``torch.autocast``). The context is
entered once around a whole timed loop, not once per call, so it adds nothing to a sample.
More variants (quantized, pruned, distilled, compiled) register here the same way.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

from benchsuite.errors import UsageError, did_you_mean


@dataclass(frozen=True)
class PreparedModel:
    """A model ready to time: call ``module(x)`` inside ``context()``."""

    module: nn.Module
    device: str
    autocast_dtype: torch.dtype | None = None

    @contextlib.contextmanager
    def context(self) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            stack.enter_context(torch.inference_mode())
            if self.autocast_dtype is not None:
                device_type = torch.device(self.device).type
                stack.enter_context(torch.autocast(device_type, dtype=self.autocast_dtype))
            yield


Transform = Callable[[nn.Module, str], PreparedModel]


@dataclass(frozen=True)
class Variant:
    """A named recipe. ``devices`` lists the device types (``cpu``, ``cuda``) it can run on."""

    name: str
    recipe: str
    devices: tuple[str, ...]
    transform: Transform

    def unsupported_reason(self, device: str) -> str | None:
        device_type = torch.device(device).type
        if device_type not in self.devices:
            return f"variant {self.name} runs on {', '.join(self.devices)} only, not {device_type}"
        return None

    def prepare(self, reference: nn.Module, device: str) -> PreparedModel:
        """Apply the recipe to a copy of ``reference``; the reference itself is never changed."""
        return self.transform(copy.deepcopy(reference), device)


def _fp32(model: nn.Module, device: str) -> PreparedModel:
    return PreparedModel(model.float().to(device).eval(), device)


def _autocast(dtype: torch.dtype) -> Transform:
    def transform(model: nn.Module, device: str) -> PreparedModel:
        return PreparedModel(model.float().to(device).eval(), device, autocast_dtype=dtype)

    return transform


VARIANTS: dict[str, Variant] = {
    variant.name: variant
    for variant in (
        Variant(
            "fp32",
            "fp32 weights and activations, no transform (the baseline)",
            ("cpu", "cuda"),
            _fp32,
        ),
        Variant(
            "bf16",
            "torch.autocast to bfloat16 around every call; weights stay fp32",
            ("cpu", "cuda"),
            _autocast(torch.bfloat16),
        ),
        Variant(
            "fp16",
            "torch.autocast to float16 around every call; weights stay fp32 "
            "(GPU only: CPU float16 kernels are slow and incomplete)",
            ("cuda",),
            _autocast(torch.float16),
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
