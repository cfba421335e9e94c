"""Supervised training of a classifier to a target accuracy, within a budget.

Used three ways: by workloads to build their trained reference (cached, see
:mod:`benchsuite.workload.weights`), by the distilled variant to train a student from its teacher,
and by training cases, which measure what reaching the target costs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from benchsuite.results import TrainingOutcome

EVAL_BATCH_SIZE = 512


@dataclass(frozen=True)
class TrainingSpec:
    """How a workload trains: Adam at ``learning_rate``, shuffled mini-batches, evaluated on
    the held-out data after every epoch until ``target_accuracy`` or ``max_epochs`` /
    ``budget_s``."""

    batch_size: int = 64
    learning_rate: float = 3e-3
    max_epochs: int = 30
    target_accuracy: float = 0.95
    budget_s: float = 120.0
    seed: int = 0


def accuracy(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy of ``model`` on ``inputs`` (evaluated in batches, in inference mode)."""
    was_training = model.training
    model.eval()
    correct = 0
    with torch.inference_mode():
        for start in range(0, len(inputs), EVAL_BATCH_SIZE):
            logits = model(inputs[start : start + EVAL_BATCH_SIZE])
            correct += int((logits.argmax(dim=1) == labels[start : start + EVAL_BATCH_SIZE]).sum())
    model.train(was_training)
    return correct / len(inputs)


LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
"""loss(logits, labels, batch_inputs): cross-entropy, or a distillation loss for students."""


def cross_entropy_loss(logits: torch.Tensor, labels: torch.Tensor, _: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, labels)


def train_classifier(
    model: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    held_out: tuple[torch.Tensor, torch.Tensor],
    spec: TrainingSpec,
    loss_fn: LossFn = cross_entropy_loss,
    stop_at_target: bool = True,
) -> TrainingOutcome:
    """Train ``model`` in place. With ``stop_at_target`` it stops at the first epoch whose
    held-out accuracy reaches the target; otherwise it runs all ``max_epochs`` (a final model)."""
    inputs, labels = train
    generator = torch.Generator().manual_seed(spec.seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=spec.learning_rate)
    start = time.perf_counter()
    samples = 0
    epochs = 0
    held_out_accuracy = 0.0
    stop_reason = "max_epochs"
    model.train()
    for epochs in range(1, spec.max_epochs + 1):  # noqa: B007  (epochs is reported)
        order = torch.randperm(len(inputs), generator=generator)
        for first in range(0, len(order), spec.batch_size):
            index = order[first : first + spec.batch_size]
            optimiser.zero_grad()
            loss = loss_fn(model(inputs[index]), labels[index], inputs[index])
            loss.backward()
            optimiser.step()
            samples += len(index)
        held_out_accuracy = accuracy(model, *held_out)
        if stop_at_target and held_out_accuracy >= spec.target_accuracy:
            stop_reason = "target_reached"
            break
        if time.perf_counter() - start >= spec.budget_s:
            stop_reason = "time_budget"
            break
    model.eval()
    return TrainingOutcome(
        epochs=epochs,
        samples=samples,
        duration_s=time.perf_counter() - start,
        accuracy=held_out_accuracy,
        reached_target=held_out_accuracy >= spec.target_accuracy,
        stop_reason=stop_reason,
    )


def distillation_loss(teacher: nn.Module, temperature: float = 4.0, alpha: float = 0.7) -> LossFn:
    """Hinton et al.'s knowledge distillation: ``alpha`` × T² × KL(student_T ‖ teacher_T) +
    (1 − ``alpha``) × cross-entropy with the true labels."""
    teacher.eval()

    def loss(logits: torch.Tensor, labels: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            teacher_logits = teacher(batch)
        soft = F.kl_div(
            F.log_softmax(logits / temperature, dim=1),
            F.softmax(teacher_logits / temperature, dim=1),
            reduction="batchmean",
        )
        return alpha * temperature**2 * soft + (1 - alpha) * F.cross_entropy(logits, labels)

    return loss
