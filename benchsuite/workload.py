"""The workload interface: build a model, make its inputs, hold its data, say how it trains.

A workload is a plain Python class in a file under the workloads folder (see
:mod:`benchsuite.discovery`). It knows nothing about timing, meters or storage.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import torch
from torch import nn

from benchsuite.training import TrainingSpec, train_classifier
from benchsuite.weights import cached_weights, definition_hash

T = TypeVar("T")


@dataclass(frozen=True)
class EvalData:
    """Inputs and, when quality is defined, their true class labels."""

    inputs: torch.Tensor
    labels: torch.Tensor | None


def seeded(build: Callable[[], T], seed: int) -> T:
    """``build()`` with torch's global RNG seeded, restoring the caller's RNG state after."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


class Workload(ABC):
    """Subclass this in ``workloads/<anything>.py``. See docs/workloads.md.

    Required: ``name`` (first part of every case id, no ``/``), :meth:`example_batch`, and either
    :meth:`build_model` (benchsuite trains it when ``training`` is set, with weights cached) or
    :meth:`reference_model` (you hand over a trained model yourself).

    ``quality_metric`` is ``"accuracy"`` for classifiers with labelled :meth:`eval_data`, and
    ``None`` where quality is not applicable (it is then reported as such, never invented).
    """

    name: str = ""
    description: str = ""
    quality_metric: str | None = "accuracy"
    training: TrainingSpec | None = None

    _reference: nn.Module | None = None

    def build_model(self) -> nn.Module:
        """A fresh (untrained) model. Override this, or :meth:`reference_model`."""
        raise NotImplementedError(
            f"{type(self).__name__}: override build_model() or reference_model()"
        )

    def build_student(self) -> nn.Module | None:
        """A smaller fresh model to distil the reference into; ``None``: no distilled variant."""
        return None

    @abstractmethod
    def example_batch(self, batch_size: int) -> torch.Tensor:
        """A representative input batch of ``batch_size`` samples, on the CPU."""

    def eval_data(self) -> EvalData | None:
        """Held-out data: accuracy (with labels) and agreement with the fp32 reference."""
        return None

    def train_data(self) -> EvalData | None:
        """Labelled training data, needed when ``training`` is set."""
        return None

    def reference_model(self) -> nn.Module:
        """The fp32 reference on the CPU in eval mode: trained for ``training.max_epochs`` with
        weights cached by a hash of this workload's source, or as built when not trainable."""
        if self._reference is None:
            spec = self.training
            if spec is None:
                self._reference = seeded(self.build_model, 0).eval()
            else:
                self._reference, _ = cached_weights(
                    self.name,
                    definition_hash(self, "reference"),
                    lambda: seeded(self.build_model, spec.seed),
                    lambda model: train_classifier(
                        model,
                        self.labelled(self.train_data(), "train_data"),
                        self.labelled(self.eval_data(), "eval_data"),
                        spec,
                        stop_at_target=False,
                    ),
                )
        return self._reference

    def labelled(self, data: EvalData | None, what: str) -> tuple[torch.Tensor, torch.Tensor]:
        if data is None or data.labels is None:
            raise ValueError(f"workload {self.name}: {what}() must return labelled data to train")
        return data.inputs, data.labels

    def __repr__(self) -> str:
        return f"<workload {self.name}>"
