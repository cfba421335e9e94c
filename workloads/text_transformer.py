"""Text classification: a small Transformer encoder on a generated token task with known labels.

Each sequence holds 32 tokens: noise tokens (4..15) and signal tokens 0..3, each 0 to 6 times.
The label is 2 × ([more 0s than 1s] XOR [more 2s than 3s]) + [more 0s and 1s than 2s and 3s]
(ties are never generated). The XOR means no linear read-out of token counts gives it: the
encoder has to gather counts across the sequence and combine them non-linearly. Labels are known
exactly, so accuracy is real. Data is generated from fixed seeds: 6,000 training and 2,000
held-out sequences.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from benchsuite import EvalData, TrainingSpec, Workload

SEQUENCE_LENGTH = 32
VOCABULARY = 16
CLASSES = 4
TRAIN_SAMPLES, HELD_OUT_SAMPLES = 6000, 2000


def _generate(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randint(CLASSES, VOCABULARY, (count, SEQUENCE_LENGTH), generator=generator)
    labels = torch.empty(count, dtype=torch.long)
    for row in range(count):
        while True:  # draw again until there is no tie to break
            counts = torch.randint(0, 7, (CLASSES,), generator=generator)
            c0, c1, c2, c3 = (int(c) for c in counts)
            if c0 != c1 and c2 != c3 and c0 + c1 != c2 + c3:
                break
        xor = (counts[0] > counts[1]) != (counts[2] > counts[3])
        labels[row] = 2 * int(xor) + int(counts[0] + counts[1] > counts[2] + counts[3])
        signal = torch.repeat_interleave(torch.arange(CLASSES), counts)
        positions = torch.randperm(SEQUENCE_LENGTH, generator=generator)[: len(signal)]
        tokens[row, positions] = signal
    return tokens, labels


@functools.cache
def _data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    train_x, train_y = _generate(TRAIN_SAMPLES, seed=1)
    test_x, test_y = _generate(HELD_OUT_SAMPLES, seed=2)
    return train_x, train_y, test_x, test_y


class TokenClassifier(nn.Module):
    """Token and position embeddings, ``layers`` encoder layers, mean pooling, a linear head."""

    def __init__(self, width: int = 64, layers: int = 2, heads: int = 4) -> None:
        super().__init__()
        self.tokens = nn.Embedding(VOCABULARY, width)
        self.positions = nn.Parameter(torch.zeros(1, SEQUENCE_LENGTH, width))
        layer = nn.TransformerEncoderLayer(
            width, heads, dim_feedforward=2 * width, dropout=0.0, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(width, CLASSES)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(self.tokens(tokens) + self.positions)
        return self.head(hidden.mean(dim=1))


class TextTransformer(Workload):
    name = "text-transformer"
    description = "2-layer Transformer encoder (width 64) on a generated 4-class token task"
    quality_metric = "accuracy"
    training = TrainingSpec(
        batch_size=64, learning_rate=2e-3, max_epochs=10, target_accuracy=0.90, budget_s=240
    )

    def build_model(self) -> nn.Module:
        return TokenClassifier()

    def build_student(self) -> nn.Module:
        return TokenClassifier(width=32, layers=1, heads=2)

    def example_batch(self, batch_size: int) -> torch.Tensor:
        _, _, test_x, _ = _data()
        return test_x[torch.arange(batch_size) % len(test_x)].clone()

    def train_data(self) -> EvalData:
        train_x, train_y, _, _ = _data()
        return EvalData(train_x, train_y)

    def eval_data(self) -> EvalData:
        _, _, test_x, test_y = _data()
        return EvalData(test_x, test_y)
