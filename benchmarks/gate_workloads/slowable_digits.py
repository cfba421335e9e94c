"""The digits CNN with an injectable slowdown, for the gate benchmark (benchmarks/bench_gate.py).

``BENCH_SLOWDOWN=0.10`` adds a busy wait of 10 % of ``BENCH_BASE_NS`` (the unslowed median call,
measured by the benchmark) after every forward pass: a real, uniform 10 % slowdown of the call.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workloads"))
from digits_cnn import DigitsCNN


class _Slowed(nn.Module):
    def __init__(self, model: nn.Module, extra_ns: int) -> None:
        super().__init__()
        self.model = model
        self.extra_ns = extra_ns

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        if self.extra_ns:
            end = time.perf_counter_ns() + self.extra_ns
            while time.perf_counter_ns() < end:
                pass
        return out


def slowed(model: nn.Module) -> nn.Module:
    extra = float(os.environ.get("BENCH_SLOWDOWN", "0")) * float(
        os.environ.get("BENCH_BASE_NS", "0")
    )
    return _Slowed(model, int(extra)).eval()


class SlowableDigits(DigitsCNN):
    name = "digits-slowable"

    def reference_model(self) -> nn.Module:
        return slowed(super().reference_model())
