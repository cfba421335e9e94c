"""What the Llama-style generation workloads share: a transformers ``LlamaConfig`` built with
seeded random weights, seeded random prompts, and a skipped row (not a crash) where transformers
is not installed."""

from __future__ import annotations

import importlib.util
from typing import Any, ClassVar

import torch
from torch import nn

from benchsuite import Workload
from benchsuite.workload.base import seeded

SEED = 0


class LlamaFromConfig(Workload):
    """Subclasses set ``name``, ``description``, ``vocabulary`` and ``config`` (LlamaConfig
    keyword arguments)."""

    quality_metric = "token_agreement"
    vocabulary: int = 0
    config: ClassVar[dict[str, Any]] = {}

    def build_model(self) -> nn.Module:
        from transformers import LlamaConfig, LlamaForCausalLM

        config = LlamaConfig(vocab_size=self.vocabulary, **self.config)
        return seeded(lambda: LlamaForCausalLM(config), SEED)

    def variant_unsupported_reason(self, variant, device):  # type: ignore[no-untyped-def]
        if importlib.util.find_spec("transformers") is None:
            return f"{self.name} is a transformers model: pip install 'benchsuite[hf]'"
        return None

    def generation_prompt(self, batch_size: int, prompt_tokens: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(SEED)
        return torch.randint(0, self.vocabulary, (batch_size, prompt_tokens), generator=generator)

    def example_batch(self, batch_size: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.generation_prompt(batch_size, 32)}
