"""A model that takes a mapping (input_ids, attention_mask) and returns a Hugging Face
``ModelOutput``, written as a plain workload: no wrapper module.

The task: is token 3 among the sequence's real (unmasked) tokens? Padding positions hold token 3
about half the time, so a model that ignores the mask cannot learn it.
"""

import torch
from torch import nn
from transformers.modeling_outputs import SequenceClassifierOutput

from benchsuite import EvalData, Workload

LENGTH, VOCABULARY = 12, 8


class MaskedPoolClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCABULARY, 16)
        self.hidden = nn.Linear(16, 32)
        self.head = nn.Linear(32, 2)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> SequenceClassifierOutput:
        mask = attention_mask.unsqueeze(-1).float()
        pooled = (self.embed(input_ids) * mask).amax(dim=1)
        return SequenceClassifierOutput(logits=self.head(torch.relu(self.hidden(pooled))))


def _data(count: int, seed: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, VOCABULARY, (count, LENGTH), generator=generator)
    lengths = torch.randint(3, LENGTH + 1, (count,), generator=generator)
    mask = (torch.arange(LENGTH)[None, :] < lengths[:, None]).long()
    labels = torch.randint(0, 2, (count,), generator=generator)
    position = (torch.rand(count, generator=generator) * lengths).long()
    ids[labels == 1, position[labels == 1]] = 3  # the signal, always inside the real tokens
    padding = (mask == 0) & (torch.rand(count, LENGTH, generator=generator) < 0.5)
    ids[padding] = 3  # noise the mask must hide
    return {"input_ids": ids, "attention_mask": mask}, labels


class MaskedTokens(Workload):
    name = "masked-tokens"
    description = "mapping input (input_ids, attention_mask), ModelOutput output"

    def __init__(self) -> None:
        self.train_inputs, self.train_labels = _data(600, seed=1)
        self.eval_inputs, self.eval_labels = _data(200, seed=2)
        torch.manual_seed(0)
        self.model = MaskedPoolClassifier()
        optimiser = torch.optim.Adam(self.model.parameters(), lr=0.02)
        for _ in range(150):
            optimiser.zero_grad()
            logits = self.model(**self.train_inputs).logits
            nn.functional.cross_entropy(logits, self.train_labels).backward()
            optimiser.step()
        self.model.eval()

    def reference_model(self) -> nn.Module:
        return self.model

    def example_batch(self, batch_size: int) -> dict[str, torch.Tensor]:
        return {key: value[:batch_size].clone() for key, value in self.eval_inputs.items()}

    def eval_data(self) -> EvalData:
        return EvalData(self.eval_inputs, self.eval_labels)
