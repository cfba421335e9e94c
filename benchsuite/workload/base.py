"""The workload interface: build a model, make its inputs, hold its data, say how it trains.

A workload is a plain Python class in a file under the workloads folder (see
:mod:`benchsuite.workload.discovery`). It knows nothing about timing, meters or storage.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import torch
from torch import nn

from benchsuite.results import SourceFacts
from benchsuite.workload.batch import Batch, first_tensor, output_tensor
from benchsuite.workload.trainer import TrainingSpec, train_classifier
from benchsuite.workload.weights import cached_weights, definition_hash

if TYPE_CHECKING:  # variants and sources import this module: these are annotations only
    from benchsuite.sources.spec import ModelSpec
    from benchsuite.variants.base import PreparedModel, Variant

T = TypeVar("T")


@dataclass(frozen=True)
class EvalData:
    """Inputs (any :data:`~benchsuite.workload.batch.Batch`, samples along dimension 0) and, when
    quality is defined, their true class labels. ``count`` is the number of samples; left out, it
    is the number of labels, or the length of the first input tensor."""

    inputs: Batch
    labels: torch.Tensor | None
    count: int | None = None

    @property
    def samples(self) -> int:
        if self.count is not None:
            return self.count
        if self.labels is not None:
            return len(self.labels)
        first = first_tensor(self.inputs)
        if first is None:
            raise ValueError("EvalData holds no tensor; give count=")
        return len(first)


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

    ``quality_metric`` is the headline quality figure: ``"accuracy"`` for classifiers with
    labelled :meth:`eval_data`, and ``None`` where quality is not applicable (an untrained model:
    it is then reported as such, never invented). ``quality_metrics`` lists every metric computed
    on :meth:`eval_data` (see :mod:`benchsuite.instruments.quality`); by default, accuracy, top-1
    agreement and output error for a classifier, output error alone otherwise.

    A batch may be a tensor, a tuple or a mapping of tensors (:mod:`benchsuite.workload.batch`);
    the model's output is read by :meth:`read_output`.
    """

    name: str = ""
    description: str = ""
    quality_metric: str | None = "accuracy"
    quality_metrics: tuple[str, ...] | None = None
    training: TrainingSpec | None = None
    served_elsewhere: bool = False
    """True for a model that runs in a server benchsuite sends requests to (an endpoint): no
    model is loaded in this process, and its one variant is ``as-served``."""

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
    def example_batch(self, batch_size: int) -> Batch:
        """A representative input batch of ``batch_size`` samples, on the CPU: a tensor, a tuple
        of tensors (positional arguments) or a mapping of named tensors (keyword arguments)."""

    def read_output(self, output: object) -> torch.Tensor:
        """The tensor quality is judged on, from what the model returned (default: the tensor,
        a ``ModelOutput``'s ``logits``, or the first tensor of a tuple or mapping)."""
        return output_tensor(output)

    def prepare_variant(self, variant: Variant, device: str) -> PreparedModel:
        """``variant`` applied to a copy of the reference (a workload whose model is not a torch
        module prepares its own)."""
        return variant.prepare(self.reference_model(), device, self)

    def variant_unsupported_reason(self, variant: Variant, device: str) -> str | None:
        """Why this workload cannot take ``variant`` on ``device``, beyond the variant's own
        requirements; ``None`` when it can."""
        return None

    def pretrained_student(self) -> nn.Module | None:
        """A smaller pretrained model that stands for this one's ``distilled`` variant (DistilBERT
        for BERT); ``None``: the student, if any, is trained from :meth:`build_student`."""
        return None

    def source_facts(self) -> SourceFacts | None:
        """Where the model came from (a model named by the user), for every row."""
        return None

    def check(self) -> None:
        """Load what the workload needs now, so that a bad model name or data file fails
        before anything is measured (a model named by the user); nothing by default."""
        return None

    def rebuild_spec(self) -> ModelSpec | None:
        """The spec a worker process rebuilds this workload from (a model named by the user);
        ``None``: the worker imports the workload's file and class instead."""
        return None

    def generation_prompt(self, batch_size: int, prompt_tokens: int) -> torch.Tensor | None:
        """Prompt token ids, ``(batch_size, prompt_tokens)``, for generation cases; ``None``:
        seeded random ids over the model's vocabulary."""
        return None

    def quality_metric_names(self) -> tuple[str, ...]:
        """The quality metrics computed for this workload's variants."""
        if self.quality_metrics is not None:
            return self.quality_metrics
        if self.quality_metric == "accuracy":
            return ("accuracy", "top1_agreement", "output_rel_error")
        if self.quality_metric is not None:
            return (self.quality_metric, "output_rel_error")
        return ("output_rel_error",)

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
        if data is None or data.labels is None or not isinstance(data.inputs, torch.Tensor):
            raise ValueError(
                f"workload {self.name}: {what}() must return labelled data with tensor inputs "
                "to train"
            )
        return data.inputs, data.labels

    def __repr__(self) -> str:
        return f"<workload {self.name}>"
