"""Classic machine learning on the digits the CNN sees: a random forest and a logistic
regression, so a report compares model families (accuracy, latency, energy) on one task.

Same data and split as ``digits_cnn.py`` (scikit-learn's bundled 8x8 digits, 25 % held out,
stratified, seed 0), as 64 features scaled to [0, 1].
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from benchsuite import EvalData
from benchsuite.sources.sklearn import EstimatorWorkload

SEED = 0
HELD_OUT_FRACTION = 0.25


@functools.cache
def _split() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    digits = load_digits()
    features = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    labels = torch.tensor(digits.target, dtype=torch.long)
    train_x, test_x, train_y, test_y = train_test_split(
        features, labels, test_size=HELD_OUT_FRACTION, random_state=SEED, stratify=labels
    )
    return train_x, train_y, test_x, test_y


class _DigitsFeatures(EstimatorWorkload):
    def example_batch(self, batch_size: int) -> torch.Tensor:
        _, _, test_x, _ = _split()
        return test_x[torch.arange(batch_size) % len(test_x)].clone()

    def train_data(self) -> EvalData:
        train_x, train_y, _, _ = _split()
        return EvalData(train_x, train_y)

    def eval_data(self) -> EvalData:
        _, _, test_x, test_y = _split()
        return EvalData(test_x, test_y)


class DigitsRandomForest(_DigitsFeatures):
    name = "digits-forest"
    description = "random forest (100 trees) on the 8x8 digits' 64 features"

    def build_estimator(self) -> Any:
        return RandomForestClassifier(n_estimators=100, random_state=SEED, n_jobs=1)


class DigitsLogistic(_DigitsFeatures):
    name = "digits-logistic"
    description = "multinomial logistic regression on the 8x8 digits' 64 features"

    def build_estimator(self) -> Any:
        return LogisticRegression(max_iter=2000)
