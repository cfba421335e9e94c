"""Pruning: unstructured magnitude pruning, and structured channel pruning that really shrinks.

*Unstructured* (``prune50``, ``prune90``): in every Conv and Linear layer, the given fraction of
weights with the smallest magnitude is set to zero (``torch.nn.utils.prune.l1_unstructured``, made
permanent). The tensors stay dense, so dense kernels do the same work: expect quality to change
and latency not to; the measured sparsity is reported.

*Structured* (``prune-ch50``): half the output channels (Conv) or features (Linear) with the
smallest L1 norm are removed, together with the matching inputs of the layer that consumes them,
so the model really has fewer parameters and FLOPs. The consumer is found by tracing the model
with ``torch.fx``: a layer is pruned only when its output reaches exactly one Conv/Linear through
shape-preserving operations (activations, BatchNorm, pooling, dropout, flatten). Outputs that
feed residual additions, attention or the model's output are left whole.

``torch.fx`` keeps PyTorch's own Transformer modules opaque (``nn.TransformerEncoder`` is one
leaf), so inside every ``nn.TransformerEncoderLayer`` / ``nn.TransformerDecoderLayer`` the
feed-forward pair is pruned directly: ``linear1``'s hidden features with the smallest L1 norm go,
with the matching inputs of ``linear2``. That pair is the only one in such a layer whose width is
free; attention projections and the model width feed residual additions and stay whole.
No fine-tuning follows, so the accuracy cost is the raw cost of removing channels.
"""

from __future__ import annotations

import torch
from torch import fx, nn
from torch.nn.utils import prune

from benchsuite.variants.base import PreparedModel, Transform, weight_sparsity
from benchsuite.workload.base import Workload
from benchsuite.workload.batch import call_model

_PRUNABLE = (nn.Conv2d, nn.Linear)
_PASS_THROUGH_MODULES = (
    nn.ReLU,
    nn.ReLU6,
    nn.GELU,
    nn.SiLU,
    nn.Hardswish,
    nn.Dropout,
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.AdaptiveAvgPool2d,
    nn.BatchNorm2d,
    nn.BatchNorm1d,
    nn.Identity,
    nn.Flatten,
)
_PASS_THROUGH_FUNCTIONS = (
    torch.relu,
    torch.flatten,
    nn.functional.relu,
    nn.functional.gelu,
    nn.functional.adaptive_avg_pool2d,
    nn.functional.max_pool2d,
)


def unstructured(amount: float) -> Transform:
    def transform(model: nn.Module, device: str, workload: Workload) -> PreparedModel:
        layers = [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.Conv1d | nn.Linear)]
        for layer in layers:
            prune.l1_unstructured(layer, "weight", amount=amount)
            prune.remove(layer, "weight")
        sparsity = weight_sparsity(model)
        return PreparedModel(
            model.to(device).eval(),
            device,
            sparsity=sparsity,
            detail=f"{sparsity:.1%} of Conv/Linear weights zero over "
            f"{len(layers)} layers (dense kernels)",
        )

    return transform


def _find_chains(graph_module: fx.GraphModule) -> list[tuple[str, str, list[str], int]]:
    """(producer, consumer, batch-norms in between, spatial size flattened) for prunable pairs."""
    modules = dict(graph_module.named_modules())
    chains = []
    for node in graph_module.graph.nodes:
        if node.op != "call_module" or not isinstance(modules[node.target], _PRUNABLE):
            continue
        norms: list[str] = []
        flattened = False
        current = node
        while True:
            users = list(current.users)
            if len(users) != 1:
                break
            user = users[0]
            if user.op == "call_module" and isinstance(modules[user.target], _PRUNABLE):
                chains.append((str(node.target), str(user.target), norms, int(flattened)))
                break
            if user.op == "call_module" and isinstance(modules[user.target], _PASS_THROUGH_MODULES):
                sub = modules[user.target]
                if isinstance(sub, nn.BatchNorm2d | nn.BatchNorm1d):
                    norms.append(str(user.target))
                flattened |= isinstance(sub, nn.Flatten)
            elif user.op == "call_function" and user.target in _PASS_THROUGH_FUNCTIONS:
                flattened |= user.target is torch.flatten
            elif user.op == "call_method" and user.target in ("relu", "flatten"):
                flattened |= user.target == "flatten"
            else:
                break  # add, cat, attention, output, ...: leave this layer whole
            current = user
    return chains


_TRANSFORMER_LAYERS = (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer)


def _feed_forward_pairs(model: nn.Module) -> list[tuple[str, str]]:
    """(linear1, linear2) of every Transformer layer: the feed-forward block's hidden width."""
    return [
        (f"{name}.linear1", f"{name}.linear2")
        for name, module in model.named_modules()
        if isinstance(module, _TRANSFORMER_LAYERS)
    ]


def _prunable_pairs(model: nn.Module) -> tuple[list[tuple[str, str, list[str], int]], str | None]:
    """Every (producer, consumer, batch-norms, flattened) pair, and why fx could not trace the
    model (``None`` when it could): feed-forward pairs are found without tracing."""
    try:
        chains = _find_chains(fx.symbolic_trace(model))
        trace_error = None
    except Exception as error:  # fx cannot trace data-dependent control flow
        chains, trace_error = [], type(error).__name__
    producers = {chain[0] for chain in chains}
    chains += [
        (first, second, [], 0)
        for first, second in _feed_forward_pairs(model)
        if first not in producers
    ]
    return chains, trace_error


def _keep_indices(layer: nn.Conv2d | nn.Linear, fraction: float) -> torch.Tensor:
    weight = layer.weight.detach()
    norms = weight.abs().flatten(1).sum(dim=1)
    keep = max(1, round(weight.shape[0] * (1 - fraction)))
    return torch.sort(torch.topk(norms, keep).indices).values


def _shrink_outputs(layer: nn.Conv2d | nn.Linear, keep: torch.Tensor) -> None:
    layer.weight = nn.Parameter(layer.weight.detach()[keep].clone())
    if layer.bias is not None:
        layer.bias = nn.Parameter(layer.bias.detach()[keep].clone())
    if isinstance(layer, nn.Conv2d):
        layer.out_channels = len(keep)
    else:
        layer.out_features = len(keep)


def _shrink_inputs(layer: nn.Conv2d | nn.Linear, keep: torch.Tensor, spatial: int) -> None:
    if spatial > 1:  # a Linear after flatten: each kept channel owns `spatial` consecutive inputs
        keep = (keep[:, None] * spatial + torch.arange(spatial)[None, :]).flatten()
    layer.weight = nn.Parameter(layer.weight.detach()[:, keep].clone())
    if isinstance(layer, nn.Conv2d):
        layer.in_channels = layer.weight.shape[1]
    else:
        layer.in_features = layer.weight.shape[1]


def _shrink_norm(norm: nn.BatchNorm2d | nn.BatchNorm1d, keep: torch.Tensor) -> None:
    norm.weight = nn.Parameter(norm.weight.detach()[keep].clone())
    norm.bias = nn.Parameter(norm.bias.detach()[keep].clone())
    assert norm.running_mean is not None and norm.running_var is not None
    norm.running_mean = norm.running_mean[keep].clone()
    norm.running_var = norm.running_var[keep].clone()
    norm.num_features = len(keep)


def structured_channels(fraction: float) -> Transform:
    def transform(model: nn.Module, device: str, workload: Workload) -> PreparedModel:
        example = workload.example_batch(1)
        chains, trace_error = _prunable_pairs(model)
        modules = dict(model.named_modules())
        before = sum(p.numel() for p in model.parameters())
        changes = []
        for producer_name, consumer_name, norm_names, flattened in chains:
            producer, consumer = modules[producer_name], modules[consumer_name]
            spatial = 1
            if flattened and isinstance(consumer, nn.Linear):
                out_channels = producer.weight.shape[0]
                spatial = consumer.weight.shape[1] // out_channels
            keep = _keep_indices(producer, fraction)
            old = producer.weight.shape[0]
            _shrink_outputs(producer, keep)
            for norm_name in norm_names:
                _shrink_norm(modules[norm_name], keep)
            _shrink_inputs(consumer, keep, spatial)
            changes.append(f"{producer_name} {old}->{len(keep)}")
        if not changes:
            raise ValueError(_no_pairs_reason(trace_error))
        with torch.inference_mode():
            call_model(model.eval(), example)  # the shrunken model must still run
        after = sum(p.numel() for p in model.parameters())
        return PreparedModel(
            model.to(device).eval(),
            device,
            detail=f"channels kept: {', '.join(changes)}; parameters {before} -> {after}",
        )

    return transform


def _no_pairs_reason(trace_error: str | None) -> str:
    if trace_error is not None:
        return (
            f"structured pruning needs a model torch.fx can trace ({trace_error}) or "
            "Transformer layers with a feed-forward block"
        )
    return (
        "no Conv/Linear pair whose channels can be removed: every output feeds a residual, "
        "attention or the model output"
    )


def requires_prunable_pair(workload: Workload) -> str | None:
    """Why ``prune-ch50`` cannot shrink this workload's model, or ``None`` when it can."""
    chains, trace_error = _prunable_pairs(workload.reference_model())
    return None if chains else _no_pairs_reason(trace_error)
