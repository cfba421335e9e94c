"""scikit-learn's bundled 8x8 digits, split once for every digits workload: 25 % held out,
stratified, seed 0, pixels scaled to [0, 1]. Images (N, 1, 8, 8) for networks, or the same
pixels as 64 features (N, 64) for classic models."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
from pathlib import Path

import torch

from benchsuite.workload.weights import cache_dir

SEED = 0
HELD_OUT_FRACTION = 0.25

Split = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


@functools.cache
def digits_split(as_images: bool) -> Split:
    """(train inputs, train labels, held-out inputs, held-out labels).

    The split is cached beside the trained weights, keyed by this file and scikit-learn's
    version: a case's worker then loads four small tensors instead of importing scikit-learn
    (about 1.5 s of every digits case on two cores)."""
    path = _cached_split_path(as_images)
    if path.exists():
        train_x, train_y, test_x, test_y = torch.load(path, weights_only=True)
        return train_x, train_y, test_x, test_y
    split = _split_with_sklearn(as_images)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(split, temporary)
    os.replace(temporary, path)
    return split


def _cached_split_path(as_images: bool) -> Path:
    key = hashlib.sha256(Path(__file__).read_bytes())
    key.update(importlib.metadata.version("scikit-learn").encode())
    kind = "images" if as_images else "features"
    return cache_dir() / "data" / f"digits-{kind}-{key.hexdigest()[:16]}.pt"


def _split_with_sklearn(as_images: bool) -> Split:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

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
