"""A user's workload kept outside workloads/: found with --workloads, trains in milliseconds."""

import torch
from torch import nn

from benchsuite import EvalData, Workload


class TinyMLP(Workload):
    name = "tiny-mlp"
    description = "two linear layers on a separable 2-class problem"

    def __init__(self) -> None:
        generator = torch.Generator().manual_seed(0)
        self.inputs = torch.randn(200, 8, generator=generator)
        self.labels = (self.inputs[:, 0] > 0).long()
        torch.manual_seed(0)
        self.model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
        optimiser = torch.optim.Adam(self.model.parameters(), lr=0.05)
        for _ in range(50):
            optimiser.zero_grad()
            nn.functional.cross_entropy(self.model(self.inputs), self.labels).backward()
            optimiser.step()
        self.model.eval()

    def reference_model(self) -> nn.Module:
        return self.model

    def example_batch(self, batch_size: int) -> torch.Tensor:
        return self.inputs[:batch_size].clone()

    def eval_data(self) -> EvalData:
        return EvalData(self.inputs, self.labels)
