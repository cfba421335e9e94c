"""A PyTorch model exported to one ONNX file, and the batch layout that calls it.

The export goes through ``torch.onnx.export(dynamo=True)``, the exporter PyTorch maintains (the
TorchScript one is deprecated and warns that it will be removed). It traces one call of the
model on the workload's own example batch, with every input's first dimension marked dynamic, so
a single file serves batch 1, the offline batch and the quality step's batches. The traced call
is the model followed by the workload's ``read_output``: the file's one output is the tensor
quality is judged on (logits, an embedding), whatever structure the PyTorch model returns.

A batch may be a tensor, a tuple or a mapping (see :mod:`benchsuite.workload.batch`); its tensors
become the file's inputs in a fixed order, named after their keys (``input_ids``,
``attention_mask``). A model the exporter cannot trace raises
:class:`~benchsuite.errors.VariantUnavailable` with the exporter's own reason: the case is a
skipped row that says why.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from benchsuite.errors import VariantUnavailable
from benchsuite.workload.base import Workload
from benchsuite.workload.batch import Batch, call_model

EXPORT_BATCH_SIZE = 2
"""Export traces a batch of 2: torch.export specialises a dimension of size 1 to a constant,
which would fix the file to batch 1."""

ONNX_EXTRA = "pip install 'benchsuite[onnx]'"


def missing_reason(modules: tuple[str, ...], reason: str) -> str | None:
    """``reason`` when any of ``modules`` is not installed, else ``None`` (nothing is imported)."""
    return reason if any(importlib.util.find_spec(name) is None for name in modules) else None


def batch_leaves(batch: Batch, prefix: str = "input") -> list[tuple[str, torch.Tensor]]:
    """The tensors of ``batch`` in a fixed order, each with a name for the exported file."""
    if isinstance(batch, torch.Tensor):
        return [(prefix, batch)]
    if isinstance(batch, Mapping):
        named = [(str(key), value) for key, value in batch.items()]
    else:
        named = [(f"{prefix}_{index}", value) for index, value in enumerate(batch)]
    leaves: list[tuple[str, torch.Tensor]] = []
    for name, value in named:
        leaves += batch_leaves(value, name)
    return leaves


def rebuild_batch(template: Any, tensors: Iterator[torch.Tensor]) -> Any:
    """``template``'s structure with its tensors replaced, in :func:`batch_leaves` order."""
    if isinstance(template, torch.Tensor):
        return next(tensors)
    if isinstance(template, Mapping):
        return {key: rebuild_batch(value, tensors) for key, value in template.items()}
    return tuple(rebuild_batch(value, tensors) for value in template)


@dataclass(frozen=True)
class BatchLayout:
    """How a batch's tensors map to an exported file's inputs, and back from a call's
    arguments (the scenario calls ``model(x)``, ``model(*x)`` or ``model(**x)`` by type)."""

    template: Batch
    names: tuple[str, ...]

    @classmethod
    def of(cls, batch: Batch) -> BatchLayout:
        return cls(batch, tuple(name for name, _ in batch_leaves(batch)))

    def tensors_of_call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[torch.Tensor]:
        """The call's tensors in file order, from the arguments :func:`call_model` spread."""
        if isinstance(self.template, torch.Tensor):
            batch: Batch = args[0]
        elif isinstance(self.template, Mapping):
            batch = kwargs
        else:
            batch = args
        return [tensor for _, tensor in batch_leaves(batch)]


class _FlatCall(nn.Module):
    """The model as the exporter sees it: flat tensors in, the workload's output tensor out."""

    def __init__(self, model: nn.Module, workload: Workload, layout: BatchLayout) -> None:
        super().__init__()
        self.model = model
        self.workload = workload
        self.layout = layout

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        batch = rebuild_batch(self.layout.template, iter(tensors))
        return self.workload.read_output(call_model(self.model, batch))


_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def exporter_reason(error: BaseException) -> str:
    """The first line of the innermost cause: the exporter wraps the reason a model cannot be
    traced in generic advice ("create an issue ...")."""
    while error.__cause__ is not None:
        error = error.__cause__
    lines = _ANSI_ESCAPE.sub("", str(error)).strip().splitlines()
    return f"{type(error).__name__}: {lines[0][:300] if lines else ''}"


@contextlib.contextmanager
def _exporter_quiet() -> Iterator[None]:
    """The exporter prints its progress, warns about torchvision ops it skips and emits
    deprecation warnings from torch internals; none of it is about the user's model."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "onnxscript")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def export_onnx(model: nn.Module, workload: Workload, path: Path) -> BatchLayout:
    """Export ``model`` (fp32, on the CPU, in eval mode) to ``path``, one self-contained file."""
    if importlib.util.find_spec("onnxscript") is None:
        raise VariantUnavailable(f"exporting to ONNX needs onnx and onnxscript: {ONNX_EXTRA}")
    batch = workload.example_batch(EXPORT_BATCH_SIZE)
    layout = BatchLayout.of(batch)
    tensors = tuple(tensor for _, tensor in batch_leaves(batch))
    batch_dim = torch.export.Dim("batch")
    dynamic = tuple({0: batch_dim} for _ in tensors)
    try:
        with _exporter_quiet(), torch.inference_mode(False), torch.no_grad():
            torch.onnx.export(
                _FlatCall(model.float().cpu().eval(), workload, layout),
                tensors,
                str(path),
                dynamo=True,
                external_data=False,
                input_names=list(layout.names),
                output_names=["output"],
                dynamic_shapes=(dynamic,),  # one entry: forward's *tensors
            )
    except Exception as error:  # the exporter's reason is the row's reason
        raise VariantUnavailable(
            f"torch.onnx.export could not export this model: {exporter_reason(error)}"
        ) from error
    return layout


RunArrays = Callable[[dict[str, np.ndarray]], np.ndarray]
"""One inference in another runtime: the file's inputs by name to its one output."""


class RuntimeModule(nn.Module):
    """A model exported to another runtime, called as the torch model was (``model(x)``,
    ``model(*x)``, ``model(**x)``), so every scenario times and judges it the same way.

    Tensors cross to the runtime as NumPy arrays that share their memory (no copy on the CPU)
    and the output comes back the same way; that crossing is part of every timed call, as it is
    for a user who calls the runtime from Python.
    """

    def __init__(self, run: RunArrays, layout: BatchLayout, wanted: tuple[str, ...]) -> None:
        super().__init__()
        self.run = run
        self.layout = layout
        self.fed = tuple((index, name) for index, name in enumerate(layout.names) if name in wanted)
        """(position in the batch, input name) of the inputs the exported file kept (the exporter
        drops inputs the model ignores), worked out once rather than on every call."""

    def forward(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        tensors = self.layout.tensors_of_call(args, kwargs)
        feeds = {name: tensors[index].detach().cpu().numpy() for index, name in self.fed}
        return torch.from_numpy(self.run(feeds))

    # Called directly, not through nn.Module.__call__: a runtime module has no hooks to run, and
    # that machinery is a measurable share of a small model's call (docs/measurement.md).
    __call__ = forward
