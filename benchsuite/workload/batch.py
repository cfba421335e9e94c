"""Model inputs and outputs of any shape a real model has.

A *batch* is a tensor, a tuple of tensors (positional arguments) or a mapping of named tensors
(keyword arguments: ``input_ids`` and ``attention_mask``). The model is called as ``model(x)``,
``model(*batch)`` or ``model(**batch)``. The number of samples in a batch is always declared by
whoever made it (the case's batch size), never guessed from a tensor's shape: a mapping's tensors
need not agree on which dimension is the batch.

An *output* is a tensor, a tuple or list (the first element is the prediction, as PyTorch and
Hugging Face both order them) or a Hugging Face ``ModelOutput`` (its ``logits`` when it has them,
else its first tensor, e.g. ``last_hidden_state``). :func:`output_tensor` reads it; a workload
overrides ``Workload.read_output`` where its model says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

import torch

Batch: TypeAlias = torch.Tensor | tuple[Any, ...] | Mapping[str, Any]
"""What a model is called with: ``model(x)``, ``model(*x)`` or ``model(**x)``. A tuple's items may
themselves be mappings (sentence-transformers takes one mapping of features, ``model((f,))``)."""


def call_model(model: Callable[..., Any], batch: Batch) -> Any:
    """``model`` called with ``batch`` spread the way its type says."""
    if isinstance(batch, torch.Tensor):
        return model(batch)
    if isinstance(batch, Mapping):
        return model(**batch)
    return model(*batch)


def bound_call(model: Callable[..., Any], batch: Batch) -> Callable[[], Any]:
    """A no-argument call of ``model`` on ``batch``, spread once here: the timed loop then pays
    for the model call alone, not for deciding how to spread the batch on every call."""
    if isinstance(batch, torch.Tensor):
        return lambda: model(batch)
    if isinstance(batch, Mapping):
        keywords = dict(batch)
        return lambda: model(**keywords)
    positional = tuple(batch)
    return lambda: model(*positional)


def map_batch(batch: Any, function: Callable[[torch.Tensor], torch.Tensor]) -> Any:
    """``function`` applied to every tensor of ``batch`` (nested tuples and mappings too),
    keeping its shape of containers; anything else is kept as it is."""
    if isinstance(batch, torch.Tensor):
        return function(batch)
    if isinstance(batch, Mapping):
        return {key: map_batch(value, function) for key, value in batch.items()}
    if isinstance(batch, tuple | list):
        return tuple(map_batch(value, function) for value in batch)
    return batch


def batch_to(batch: Batch, device: str) -> Batch:
    return map_batch(batch, lambda tensor: tensor.to(device))


def batch_slice(batch: Batch, start: int, stop: int) -> Batch:
    """Samples ``start:stop`` of a batch whose tensors all hold samples along dimension 0."""
    return map_batch(batch, lambda tensor: tensor[start:stop])


def first_tensor(value: Any) -> torch.Tensor | None:
    """The first tensor found in ``value`` (depth first), or ``None``."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, Mapping):
        values = list(value.values())
    elif isinstance(value, tuple | list):
        values = list(value)
    else:
        return None
    for item in values:
        found = first_tensor(item)
        if found is not None:
            return found
    return None


def output_tensor(output: Any) -> torch.Tensor:
    """The prediction in a model's output: the tensor itself, a ``ModelOutput``'s ``logits``, or
    the first tensor of a mapping, tuple or list."""
    if isinstance(output, torch.Tensor):
        return output
    logits = getattr(output, "logits", None)
    if isinstance(logits, torch.Tensor):
        return logits
    found = first_tensor(output)
    if found is None:
        raise TypeError(
            f"cannot read a tensor from the model's output of type {type(output).__name__}; "
            "override Workload.read_output to say where the prediction is"
        )
    return found
