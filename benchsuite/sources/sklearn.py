"""scikit-learn estimators as workloads: anything with ``predict_proba`` or ``predict``.

Subclass :class:`EstimatorWorkload`, give ``name``, :meth:`~EstimatorWorkload.build_estimator`,
labelled :meth:`train_data` and :meth:`eval_data` (features as a float tensor, samples by rows)
and :meth:`example_batch`. The estimator is fitted on first use and runs through the same
protocol as a torch model: latency, energy, memory and quality. It runs as trained, on the CPU:
the torch variants (int8, pruning, ...) are ``skipped`` rows that say so.

FLOPs follow a stated rule where one exists: a linear model costs 2 × features × outputs per
sample (a multiply and an add for each weight, as torch counts a matrix product); a multi-layer
perceptron the same over its layers. A tree ensemble compares, it does not multiply: its FLOPs
are null, and the note gives the comparisons per sample instead (decision-path length, measured
on the eval data). Anything else is null with the reason, never invented.
"""

from __future__ import annotations

import pickle
from abc import abstractmethod
from functools import cached_property
from typing import Any

import numpy as np
import torch
from torch import nn

from benchsuite.results import SourceFacts
from benchsuite.variants.base import PreparedModel, RuntimeFacts, StatedFacts, Variant
from benchsuite.workload.base import Workload

AS_TRAINED = "fp32"  # the one variant an estimator takes: itself, as trained


class EstimatorModule(nn.Module):
    """Calls the estimator on a float tensor of features; returns class scores as a tensor
    (``predict_proba``, or a one-hot of ``predict``), so quality is read like a classifier's."""

    def __init__(self, estimator: Any) -> None:
        super().__init__()
        self.estimator = estimator

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        values = features.detach().cpu().numpy()
        if hasattr(self.estimator, "predict_proba"):
            return torch.from_numpy(np.asarray(self.estimator.predict_proba(values)))
        predicted = np.asarray(self.estimator.predict(values))
        classes = list(getattr(self.estimator, "classes_", np.unique(predicted)))
        scores = np.zeros((len(predicted), len(classes)))
        scores[np.arange(len(predicted)), [classes.index(p) for p in predicted]] = 1.0
        return torch.from_numpy(scores)


def parameter_count(estimator: Any) -> int | None:
    """Learned numbers: weights and biases of linear models and perceptrons, nodes of trees."""
    if hasattr(estimator, "estimators_"):
        counts = [parameter_count(member) for member in np.ravel(estimator.estimators_)]
        return None if None in counts else sum(c for c in counts if c is not None)
    if hasattr(estimator, "tree_"):
        return int(estimator.tree_.node_count)
    if hasattr(estimator, "coefs_"):
        return int(
            sum(w.size for w in estimator.coefs_) + sum(b.size for b in estimator.intercepts_)
        )
    if hasattr(estimator, "coef_"):
        return int(np.size(estimator.coef_) + np.size(getattr(estimator, "intercept_", 0)))
    return None


def flops_rule(estimator: Any, features: np.ndarray) -> tuple[int | None, str]:
    """FLOPs per sample by a stated rule, or ``None`` with the reason."""
    name = type(estimator).__name__
    if hasattr(estimator, "coefs_"):  # MLPClassifier / MLPRegressor
        flops = sum(2 * w.shape[0] * w.shape[1] for w in estimator.coefs_)
        return flops, f"{name}: 2 x inputs x outputs per layer (matrix products only)"
    if hasattr(estimator, "coef_"):
        return 2 * int(np.size(estimator.coef_)), f"{name}: 2 x features x outputs"
    if hasattr(estimator, "decision_path"):
        path = estimator.decision_path(features)
        indicator = path[0] if isinstance(path, tuple) else path
        comparisons = float(indicator.sum(axis=1).mean())
        return None, (
            f"{name} compares, it does not multiply: FLOPs not defined; "
            f"{comparisons:.0f} node visits per sample (decision paths, eval data)"
        )
    return None, f"no documented FLOP rule for {name}"


class EstimatorWorkload(Workload):
    """A scikit-learn estimator, fitted on :meth:`train_data` on first use."""

    quality_metric = "accuracy"

    @abstractmethod
    def build_estimator(self) -> Any:
        """A fresh, unfitted estimator (seeded, for a repeatable fit)."""

    @cached_property
    def fitted(self) -> Any:
        inputs, labels = self.labelled(self.train_data(), "train_data")
        return self.build_estimator().fit(inputs.numpy(), labels.numpy())

    def reference_model(self) -> nn.Module:
        return EstimatorModule(self.fitted)

    def variant_unsupported_reason(self, variant: Variant, device: str) -> str | None:
        if torch.device(device).type != "cpu":
            return "scikit-learn estimators run on the CPU"
        if variant.name != AS_TRAINED:
            return (
                f"scikit-learn estimators run as trained ({AS_TRAINED}); variant {variant.name} "
                "transforms torch models"
            )
        return None

    def prepare_variant(self, variant: Variant, device: str) -> PreparedModel:
        estimator = self.fitted
        data = self.eval_data()
        sample = data.inputs if data is not None else self.example_batch(8)
        if not isinstance(sample, torch.Tensor):
            raise TypeError(f"workload {self.name}: features must be one float tensor")
        flops, note = flops_rule(estimator, sample.numpy())
        import sklearn

        return PreparedModel(
            EstimatorModule(estimator),
            device,
            detail=f"scikit-learn {type(estimator).__name__}, as trained",
            stated=StatedFacts(
                parameter_count(estimator), len(pickle.dumps(estimator)), flops, note
            ),
            runtime=RuntimeFacts("scikit-learn", sklearn.__version__),
        )

    def source_facts(self) -> SourceFacts:
        import sklearn

        estimator = self.fitted
        return SourceFacts(
            model_source=f"sklearn:{type(estimator).__module__}.{type(estimator).__name__}",
            model_task="classification",
            model_revision="",
            model_library="scikit-learn",
            model_library_versions=f"scikit-learn {sklearn.__version__}",
            input_note="the workload's features, as given",
        )
