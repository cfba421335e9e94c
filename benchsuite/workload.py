"""The workload interface: build a trained model, make its inputs, and hold held-out data.

A workload is a plain Python class in a file under the workloads folder (see
:mod:`benchsuite.discovery`). It knows nothing about timing, meters or storage.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class EvalData:
    """Held-out inputs and, when quality is defined, their true class labels."""

    inputs: torch.Tensor
    labels: torch.Tensor | None


class Workload(ABC):
    """Subclass this in ``workloads/<anything>.py``; set ``name`` and implement the three methods.

    ``name`` becomes the first part of every case id, so it must not contain ``/``.
    ``quality_metric`` names what :class:`EvalData` labels let benchsuite compute; it is
    ``"accuracy"`` for classifiers and ``None`` where quality is not applicable.
    """

    name: str = ""
    description: str = ""
    quality_metric: str | None = "accuracy"

    @abstractmethod
    def reference_model(self) -> nn.Module:
        """The trained fp32 model on the CPU, in eval mode. May be cached by the workload."""

    @abstractmethod
    def example_batch(self, batch_size: int) -> torch.Tensor:
        """A representative input batch of ``batch_size`` samples, on the CPU."""

    @abstractmethod
    def eval_data(self) -> EvalData:
        """Held-out data for quality (accuracy, agreement with the fp32 reference)."""

    def __repr__(self) -> str:
        return f"<workload {self.name}>"
