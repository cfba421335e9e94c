"""A small causal language model for the generation scenario: a Llama-style decoder (RMSNorm,
SwiGLU, rotary positions, no biases) defined by a transformers config, 4 layers, width 256,
a 2,048-token vocabulary: about 4.2 M parameters, seeded random weights.

The weights are random, so its quality is fidelity only (greedy-token agreement with fp32 and
perplexity on a fixed token stream), never task quality. It needs transformers
(``pip install 'benchsuite[hf]'``); without it, its cases are skipped rows that say so.
"""

from __future__ import annotations

import importlib.util

import torch
from torch import nn

from benchsuite import Workload
from benchsuite.workload import seeded

VOCABULARY = 2048
CONTEXT = 512
SEED = 0


def _transformers_missing() -> str | None:
    if importlib.util.find_spec("transformers") is None:
        return "tiny-llama is a transformers model: pip install 'benchsuite[hf]'"
    return None


class TinyLlama(Workload):
    name = "tiny-llama"
    description = (
        "Llama-style causal LM from a config, 4 layers x 256, 4.2 M params, random weights"
    )
    quality_metric = "token_agreement"

    def build_model(self) -> nn.Module:
        from transformers import LlamaConfig, LlamaForCausalLM

        config = LlamaConfig(
            vocab_size=VOCABULARY,
            hidden_size=256,
            intermediate_size=688,
            num_hidden_layers=4,
            num_attention_heads=4,
            num_key_value_heads=4,
            max_position_embeddings=CONTEXT,
        )
        return seeded(lambda: LlamaForCausalLM(config), SEED)

    def variant_unsupported_reason(self, variant, device):  # type: ignore[no-untyped-def]
        return _transformers_missing()

    def generation_prompt(self, batch_size: int, prompt_tokens: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(SEED)
        return torch.randint(0, VOCABULARY, (batch_size, prompt_tokens), generator=generator)

    def example_batch(self, batch_size: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.generation_prompt(batch_size, 32)}
