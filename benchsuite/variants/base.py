"""What a variant is: a named recipe that turns the trained fp32 reference into a model to time.

A variant returns a :class:`PreparedModel`: the module to call, the context every call runs in
(``torch.inference_mode`` plus, for mixed precision, ``torch.autocast``), and what the recipe did
(sparsity, modules quantized, channels kept). The context is entered once around a whole timed
loop, never once per call, so it adds nothing to a sample.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

from benchsuite.workload.base import Workload


@dataclass(frozen=True)
class StatedFacts:
    """Size and arithmetic of a model that torch's counters cannot see into (a scikit-learn
    estimator), stated by the code that wraps it; ``flops_note`` says how, or why there is no
    figure."""

    param_count: int | None
    model_size_bytes: int | None
    flops_per_sample: int | None
    flops_note: str


@dataclass(frozen=True)
class RuntimeFacts:
    """What executes a prepared model: PyTorch itself, or a runtime the model was exported to
    (ONNX Runtime, OpenVINO), whose artifact's size is the model's size on the row."""

    name: str
    version: str
    artifact_bytes: int | None = None
    """Bytes of the exported model file(s) the runtime loaded; ``None`` when nothing was
    exported (the size is then counted from the module's state dict)."""


def pytorch_runtime() -> RuntimeFacts:
    return RuntimeFacts("pytorch", torch.__version__)


@dataclass(frozen=True)
class PreparedModel:
    """A model ready to time: call ``module(x)`` inside ``context()``."""

    module: nn.Module
    device: str
    autocast_dtype: torch.dtype | None = None
    sparsity: float | None = None
    detail: str = ""
    flops_module: nn.Module | None = None
    """Where FLOPs are counted when ``module`` hides them from torch's counter (int8 kernels,
    compiled graphs): the eager fp32 model that does the same arithmetic."""
    mha_fastpath: bool = True
    """False turns off the fused Transformer/attention fast path while the model runs (it reads
    ``linear.weight`` as a tensor, which quantized linear layers do not have)."""
    stated: StatedFacts | None = None
    """Parameters, size and FLOPs given rather than counted (see :class:`StatedFacts`)."""
    runtime: RuntimeFacts | None = None
    """What runs ``module``'s calls when it is not PyTorch (``None``: PyTorch)."""
    backend: str = ""
    """The kernel path that runs the calls, in words (eager int8 kernels, a compiled graph, a
    tensor subclass in eager mode), where :meth:`kernel_path` cannot work it out."""

    def kernel_path(self) -> str:
        """The row's ``variant_backend``: what executes the calls, so that two rows of one
        variant name on two machines say whether they ran the same kernels."""
        if self.backend:
            return self.backend
        if self.runtime is not None:
            return f"{self.runtime.name} {self.runtime.version}"
        dtypes = sorted({str(p.dtype).removeprefix("torch.") for p in self.module.parameters()})
        path = f"PyTorch {torch.__version__} eager, {'/'.join(dtypes) or 'no'} weights"
        if self.autocast_dtype is not None:
            path += f", autocast to {str(self.autocast_dtype).removeprefix('torch.')}"
        return path

    @contextlib.contextmanager
    def context(self) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            stack.enter_context(torch.inference_mode())
            if self.autocast_dtype is not None:
                device_type = torch.device(self.device).type
                stack.enter_context(torch.autocast(device_type, dtype=self.autocast_dtype))
            if not self.mha_fastpath:
                stack.enter_context(mha_fastpath_disabled())
            yield


@contextlib.contextmanager
def mha_fastpath_disabled() -> Iterator[None]:
    """PyTorch's fused Transformer/attention fast path off, restored on exit."""
    was_enabled = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(was_enabled)


Transform = Callable[[nn.Module, str, Workload], PreparedModel]
"""transform(copy_of_reference, device, workload) -> PreparedModel"""

Requirement = Callable[[Workload], str | None]
"""Why a workload cannot take this variant, or ``None``."""


@dataclass(frozen=True)
class Variant:
    """A named recipe. ``devices`` lists the device types (``cpu``, ``cuda``) it can run on."""

    name: str
    recipe: str
    devices: tuple[str, ...]
    transform: Transform
    requirement: Requirement | None = None
    static_shapes: bool = False
    """True when its module is specialised to the input shapes it has seen (a compiled graph):
    a scenario whose inputs grow call by call (generation's KV cache) must then hold them fixed,
    or every call would recompile."""
    runtime: str = "pytorch"
    """What runs the prepared model: ``pytorch``, or the runtime it is exported to (whose
    module takes the workload's batches, not generation's KV cache)."""

    def unsupported_reason(self, device: str, workload: Workload | None = None) -> str | None:
        device_type = torch.device(device).type
        if device_type not in self.devices:
            return f"variant {self.name} runs on {', '.join(self.devices)} only, not {device_type}"
        if workload is not None and self.requirement is not None:
            return self.requirement(workload)
        return None

    def prepare(self, reference: nn.Module, device: str, workload: Workload) -> PreparedModel:
        """Apply the recipe to a copy of ``reference``; the reference itself is never changed."""
        return self.transform(copy.deepcopy(reference), device, workload)


def weight_sparsity(module: nn.Module) -> float:
    """Fraction of exactly-zero weights over the Conv and Linear layers of ``module``."""
    zeros = total = 0
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d | nn.Conv1d | nn.Linear):
            zeros += int((layer.weight == 0).sum())
            total += layer.weight.numel()
    return zeros / total if total else 0.0
