"""A workload of your own: an MLP on scikit-learn's iris flowers, kept outside workloads/.

Run it with:

    benchsuite run --workloads examples/custom_workload --suite examples/custom_workload/suite.toml
"""

from __future__ import annotations

import functools

import torch
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split
from torch import nn

from benchsuite import EvalData, TrainingSpec, Workload


@functools.cache
def _split() -> tuple[torch.Tensor, ...]:
    iris = load_iris()
    features = torch.tensor(iris.data, dtype=torch.float32)
    features = (features - features.mean(dim=0)) / features.std(dim=0)
    labels = torch.tensor(iris.target, dtype=torch.long)
    return tuple(train_test_split(features, labels, test_size=0.3, random_state=0, stratify=labels))


class IrisMLP(Workload):
    name = "iris-mlp"
    description = "3-layer MLP on scikit-learn's iris (150 flowers, 30% held out)"
    quality_metric = "accuracy"
    # benchsuite trains build_model() with this spec and caches the weights by a hash of this file
    training = TrainingSpec(batch_size=16, learning_rate=1e-2, max_epochs=60, target_accuracy=0.9)

    def build_model(self) -> nn.Module:
        return nn.Sequential(
            nn.Linear(4, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 3)
        )

    def build_student(self) -> nn.Module:  # optional: enables the "distilled" variant
        return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))

    def example_batch(self, batch_size: int) -> torch.Tensor:
        _, test_x, _, _ = _split()
        return test_x[torch.arange(batch_size) % len(test_x)].clone()

    def train_data(self) -> EvalData:
        train_x, _, train_y, _ = _split()
        return EvalData(train_x, train_y)

    def eval_data(self) -> EvalData:
        _, test_x, _, test_y = _split()
        return EvalData(test_x, test_y)
