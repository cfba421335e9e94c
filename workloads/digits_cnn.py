"""Image classification: a small CNN trained on scikit-learn's bundled 8×8 digits.

The data ships with scikit-learn (1,797 images, 10 classes), so the workload runs offline. The
model trains on the CPU in a few seconds to about 98 % held-out accuracy; the split and the
initialisation are seeded, so every run builds the same model.
"""

from __future__ import annotations

import functools

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from benchsuite import EvalData, Workload

SEED = 0
HELD_OUT_FRACTION = 0.25
EPOCHS = 30
BATCH_SIZE = 64
LEARNING_RATE = 3e-3


class DigitsNet(nn.Module):
    """Two 3×3 convolutions, a pooling step and two linear layers (about 38 k parameters)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(32 * 4 * 4, 64),
            nn.ReLU(),
            nn.Linear(64, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@functools.cache
def _split() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    digits = load_digits()
    images = torch.tensor(digits.images / 16.0, dtype=torch.float32).unsqueeze(1)
    labels = torch.tensor(digits.target, dtype=torch.long)
    train_x, test_x, train_y, test_y = train_test_split(
        images, labels, test_size=HELD_OUT_FRACTION, random_state=SEED, stratify=labels
    )
    return train_x, train_y, test_x, test_y


@functools.cache
def _trained() -> DigitsNet:
    train_x, train_y, _, _ = _split()
    generator = torch.Generator().manual_seed(SEED)
    torch.manual_seed(SEED)
    model = DigitsNet()
    optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(EPOCHS):
        order = torch.randperm(len(train_x), generator=generator)
        for start in range(0, len(order), BATCH_SIZE):
            index = order[start : start + BATCH_SIZE]
            optimiser.zero_grad()
            loss_fn(model(train_x[index]), train_y[index]).backward()
            optimiser.step()
    return model.eval()


class DigitsCNN(Workload):
    name = "digits-cnn"
    description = "small CNN on scikit-learn's 8x8 digits (1,797 images, 25% held out)"
    quality_metric = "accuracy"

    def reference_model(self) -> nn.Module:
        return _trained()

    def example_batch(self, batch_size: int) -> torch.Tensor:
        _, _, test_x, _ = _split()
        index = torch.arange(batch_size) % len(test_x)
        return test_x[index].clone()

    def eval_data(self) -> EvalData:
        _, _, test_x, test_y = _split()
        return EvalData(inputs=test_x, labels=test_y)
