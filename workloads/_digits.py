"""scikit-learn's bundled 8x8 digits, split once for every digits workload: 25 % held out,
stratified, seed 0, pixels scaled to [0, 1]. Images (N, 1, 8, 8) for networks, or the same
pixels as 64 features (N, 64) for classic models."""

from __future__ import annotations

import functools

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 0
HELD_OUT_FRACTION = 0.25


@functools.cache
def digits_split(as_images: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(train inputs, train labels, held-out inputs, held-out labels)."""
    digits = load_digits()
    pixels = digits.images if as_images else digits.data
    inputs = torch.tensor(pixels / 16.0, dtype=torch.float32)
    if as_images:
        inputs = inputs.unsqueeze(1)
    labels = torch.tensor(digits.target, dtype=torch.long)
    train_x, test_x, train_y, test_y = train_test_split(
        inputs, labels, test_size=HELD_OUT_FRACTION, random_state=SEED, stratify=labels
    )
    return train_x, train_y, test_x, test_y
