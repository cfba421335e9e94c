"""Classic machine learning on the digits the CNN sees: a random forest and a logistic
regression, so a report compares model families (accuracy, latency, energy) on one task.

Same data and split as ``digits_cnn.py`` (scikit-learn's bundled 8x8 digits, 25 % held out,
stratified, seed 0), as 64 features scaled to [0, 1].
"""

from __future__ import annotations

from typing import Any

import torch
from _digits import SEED, digits_split
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from benchsuite import EstimatorWorkload, EvalData


def _split() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    return digits_split(as_images=False)


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
