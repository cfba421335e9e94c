"""scikit-learn estimators through the same protocol: quality, latency, energy, and FLOPs only
where a stated rule gives them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.svm import LinearSVC

from benchsuite import Case, EvalData
from benchsuite.instruments.config import MeasureConfig
from benchsuite.instruments.energy import EnergyConfig
from benchsuite.instruments.meters import EstimateMeter
from benchsuite.instruments.timing import SamplingConfig
from benchsuite.scenarios import run_case, skip_reason
from benchsuite.sources.sklearn import EstimatorModule, EstimatorWorkload, flops_rule
from benchsuite.workload.discovery import load_workloads

FAST = MeasureConfig(
    SamplingConfig(warmup_max_s=0.1, budget_s=0.1, ci_target_rel=0.05),
    EnergyConfig(windows=2, window_s=0.05, idle_s=0.05),
)
STANDARD = load_workloads()


@pytest.mark.parametrize("name", ["digits-forest", "digits-logistic"])
def test_a_standard_classic_model_is_measured_like_a_network(name: str) -> None:
    case = Case(name, "fp32", "cpu", "offline", 16, threads=1)
    row = run_case(case, STANDARD[name], EstimateMeter(), FAST).row()
    assert row["accuracy"] > 0.93  # held-out digits
    assert row["top1_agreement"] == 1.0 and row["output_rel_error"] == 0.0
    assert row["latency_p50_ms"] > 0 and row["energy_per_sample_j"] > 0
    assert row["model_library"] == "scikit-learn" and row["param_count"] > 0
    assert row["model_size_bytes"] > 0
    if name == "digits-logistic":
        assert row["flops_per_sample"] == 2 * 64 * 10
    else:
        assert row["flops_per_sample"] is None
        assert "compares, it does not multiply" in row["flops_note"]


def test_torch_variants_and_gpus_are_skipped_with_the_reason() -> None:
    forest = STANDARD["digits-forest"]
    reason = skip_reason(Case("digits-forest", "int8", "cpu", "single-stream", 1), forest)
    assert reason is not None and "run as trained" in reason
    assert skip_reason(Case("digits-forest", "fp32", "cpu", "single-stream", 1), forest) is None


def _data() -> tuple[np.ndarray, np.ndarray]:
    """60 samples of 5 normal features; the label is the sign of the first."""
    features = np.random.default_rng(0).normal(size=(60, 5))
    return features, (features[:, 0] > 0).astype(int)


def _fit(estimator: Any) -> tuple[Any, np.ndarray]:
    features, labels = _data()
    return estimator.fit(features, labels), features


def test_flops_rules_are_stated_or_null_with_the_reason() -> None:
    with pytest.warns(Warning, match="converged"):  # 50 steps: irrelevant to counting
        mlp, features = _fit(MLPClassifier(hidden_layer_sizes=(7,), max_iter=50, random_state=0))
    flops, note = flops_rule(mlp, features)
    assert flops == 2 * (5 * 7 + 7 * 1) and "per layer" in note
    linear, _ = _fit(LogisticRegression())
    assert flops_rule(linear, features)[0] == 2 * 5
    neighbours, _ = _fit(KNeighborsClassifier(3))
    assert flops_rule(neighbours, features) == (
        None,
        "no documented FLOP rule for KNeighborsClassifier",
    )


def test_an_estimator_with_predict_only_gives_one_hot_scores() -> None:
    svm, features = _fit(LinearSVC())
    scores = EstimatorModule(svm)(torch.tensor(features[:4], dtype=torch.float32))
    assert scores.shape == (4, 2) and (scores.sum(dim=1) == 1).all()
    assert (scores.argmax(dim=1).numpy() == svm.predict(features[:4])).all()


class _Tiny(EstimatorWorkload):
    name = "tiny-logistic"

    def build_estimator(self) -> Any:
        return LogisticRegression()

    def example_batch(self, batch_size: int) -> torch.Tensor:
        return torch.zeros(batch_size, 5)

    def train_data(self) -> EvalData:
        features, labels = _data()
        return EvalData(torch.tensor(features, dtype=torch.float32), torch.tensor(labels))

    def eval_data(self) -> EvalData:
        return self.train_data()


def test_a_user_estimator_workload() -> None:
    row = run_case(
        Case("tiny-logistic", "fp32", "cpu", "single-stream", 1), _Tiny(), EstimateMeter(), FAST
    ).row()
    assert row["accuracy"] > 0.9 and row["flops_per_sample"] == 10
