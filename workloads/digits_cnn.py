"""Image classification: a small CNN trained on scikit-learn's bundled 8×8 digits (the teacher).

The data ships with scikit-learn (1,797 images, 10 classes, a stratified 25 % held out), so the
workload runs offline. The teacher trains on the CPU in a few seconds to about 98 % held-out
accuracy; a student a tenth its size is distilled from it by the ``distilled`` variant.
"""

from __future__ import annotations

import torch
from _digits import digits_split
from torch import nn

from benchsuite import EvalData, TrainingSpec, Workload


class DigitsNet(nn.Module):
    """Two 3×3 convolutions, a pooling step and two linear layers (38 k parameters)."""

    def __init__(self, channels: tuple[int, int] = (16, 32), hidden: int = 64) -> None:
        super().__init__()
        first, second = channels
        self.features = nn.Sequential(
            nn.Conv2d(1, first, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(first, second, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(second * 4 * 4, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def _split() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    return digits_split(as_images=True)


class DigitsCNN(Workload):
    name = "digits-cnn"
    description = "small CNN on scikit-learn's 8x8 digits (1,797 images, 25% held out)"
    quality_metric = "accuracy"
    training = TrainingSpec(
        batch_size=64, learning_rate=3e-3, max_epochs=30, target_accuracy=0.97, budget_s=120
    )

    def build_model(self) -> nn.Module:
        return DigitsNet()

    def build_student(self) -> nn.Module:
        return DigitsNet(channels=(4, 8), hidden=32)

    def example_batch(self, batch_size: int) -> torch.Tensor:
        _, _, test_x, _ = _split()
        index = torch.arange(batch_size) % len(test_x)
        return test_x[index].clone()

    def train_data(self) -> EvalData:
        train_x, train_y, _, _ = _split()
        return EvalData(train_x, train_y)

    def eval_data(self) -> EvalData:
        _, _, test_x, test_y = _split()
        return EvalData(test_x, test_y)
