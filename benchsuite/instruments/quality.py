"""Quality metrics: how much of the fp32 model's quality a variant keeps.

Each metric is a small value object that says what it needs (true labels, class scores) and how
it is computed from the variant's outputs, the fp32 reference's outputs and the labels. A workload
lists the metrics that apply to it (``Workload.quality_metrics``); a metric that does not apply is
never invented (its column stays null).

| name | column | needs | meaning |
| --- | --- | --- | --- |
| accuracy | ``accuracy`` | labels, class scores | held-out top-1 accuracy |
| top1_agreement | ``top1_agreement`` | class scores | arg-max equal to the fp32 model's |
| output_rel_error | ``output_rel_error`` | | ‖y − y_fp32‖ / ‖y_fp32‖ |
| cosine_similarity | ``cosine_similarity`` | | mean cosine of each output to fp32's (embeddings) |
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch

from benchsuite.errors import UsageError, did_you_mean


@dataclass(frozen=True)
class QualityMetric:
    """One way to compare a variant's outputs with the fp32 model's (and the labels)."""

    name: str
    description: str
    compute: Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], float]
    """compute(outputs, reference_outputs, labels) -> value; outputs are float, on the CPU."""
    needs_labels: bool = False
    higher_is_better: bool = True


def _accuracy(outputs: torch.Tensor, _: torch.Tensor, labels: torch.Tensor | None) -> float:
    assert labels is not None
    return float((outputs.argmax(dim=-1) == labels).float().mean())


def _agreement(outputs: torch.Tensor, reference: torch.Tensor, _: torch.Tensor | None) -> float:
    return float((outputs.argmax(dim=-1) == reference.argmax(dim=-1)).float().mean())


def _relative_error(
    outputs: torch.Tensor, reference: torch.Tensor, _: torch.Tensor | None
) -> float:
    return float(
        torch.linalg.vector_norm(outputs - reference) / torch.linalg.vector_norm(reference)
    )


def _cosine(outputs: torch.Tensor, reference: torch.Tensor, _: torch.Tensor | None) -> float:
    flat = outputs.reshape(outputs.shape[0], -1)
    flat_reference = reference.reshape(reference.shape[0], -1)
    return float(torch.nn.functional.cosine_similarity(flat, flat_reference, dim=1).mean())


QUALITY_METRICS: dict[str, QualityMetric] = {
    metric.name: metric
    for metric in (
        QualityMetric("accuracy", "held-out top-1 accuracy", _accuracy, needs_labels=True),
        QualityMetric("top1_agreement", "arg-max agrees with the fp32 model", _agreement),
        QualityMetric(
            "output_rel_error",
            "relative L2 distance of the outputs to the fp32 model's",
            _relative_error,
            higher_is_better=False,
        ),
        QualityMetric(
            "cosine_similarity", "mean cosine similarity to the fp32 model's outputs", _cosine
        ),
    )
}


def quality_metrics(names: Iterable[str], owner: str) -> tuple[QualityMetric, ...]:
    """The metrics named by ``owner`` (a workload), each checked to exist."""
    found = []
    for name in names:
        if name not in QUALITY_METRICS:
            raise UsageError(
                f"{owner}: unknown quality metric {name!r}{did_you_mean(name, QUALITY_METRICS)}; "
                f"known: {', '.join(QUALITY_METRICS)}"
            )
        found.append(QUALITY_METRICS[name])
    return tuple(found)


def evaluate(
    metrics: Iterable[QualityMetric],
    outputs: torch.Tensor,
    reference: torch.Tensor,
    labels: torch.Tensor | None,
) -> dict[str, float]:
    """Each metric's value by name; a metric that needs labels is left out when there are none."""
    return {
        metric.name: metric.compute(outputs, reference, labels)
        for metric in metrics
        if labels is not None or not metric.needs_labels
    }
