"""A user's repository in a folder, for A/B runs: their own module (``mycode``: a stack of
square matmuls whose cost grows with its layers), a workload file that imports it, and a suite
file. Shared by the A/B tests, the workflow example's test and ``benchmarks/bench_ab.py``."""

from __future__ import annotations

from pathlib import Path

MODEL = '''"""The user's own model code: a stack of square matmuls."""
import torch
from torch import nn

LAYERS = {layers}
WIDTH = {width}
NAME = "{name}"


class Stack(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.weights = nn.ParameterList(
            nn.Parameter(torch.randn(WIDTH, WIDTH, generator=generator) / WIDTH**0.5)
            for _ in range(LAYERS)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for weight in self.weights:
            x = torch.tanh(x @ weight)
        return x
'''
WORKLOAD = """import torch
import mycode

from benchsuite import Workload


class StackWorkload(Workload):
    name = "stack"
    description = "matmuls of the user's module " + mycode.NAME

    def build_model(self) -> torch.nn.Module:
        return mycode.Stack().eval()

    def example_batch(self, batch_size: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(1)
        return torch.randn(batch_size, mycode.WIDTH, generator=generator)
"""


def suite_text(name: str = "ab-test", budget_s: float = 0.4, **measure: float) -> str:
    """A suite of the one case ``stack/fp32/cpu/single-stream/b1/t1``: ``budget_s`` and the
    other ``[measure]`` settings given (the tests' short ones by default)."""
    settings = {"warmup_max_s": 0.2, "budget_s": budget_s, "energy_window_s": 0.1, "idle_s": 0.2}
    settings |= measure
    lines = [f"{key} = {value:g}" for key, value in settings.items()]
    return (
        f'name = "{name}"\n[measure]\n' + "\n".join(lines) + "\n\n[[matrix]]\n"
        'workloads = ["stack"]\nvariants = ["fp32"]\nscenario = "single-stream"\nthreads = [1]\n'
    )


SUITE = suite_text(repeats=3, rounds=4)


def write_arm(folder: Path, layers: int, name: str, suite: str = SUITE, width: int = 64) -> Path:
    """``folder`` as one version of the user's code: ``mycode.py`` with ``layers`` layers,
    ``workloads/stack.py`` and ``suite.toml``."""
    (folder / "workloads").mkdir(parents=True, exist_ok=True)
    (folder / "mycode.py").write_text(MODEL.format(layers=layers, width=width, name=name))
    (folder / "workloads" / "stack.py").write_text(WORKLOAD)
    (folder / "suite.toml").write_text(suite)
    return folder
