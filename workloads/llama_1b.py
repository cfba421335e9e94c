"""A ~1.1 B-parameter Llama-style causal LM (the TinyLlama-1.1B shape: 22 layers, width 2048,
grouped-query attention with 4 key/value heads, a 32,000-token vocabulary) with seeded random
weights, for a realistic energy per token on a GPU in the nightly suite's CUDA half.

The weights are random: its quality columns are fidelity to the fp32 model (greedy-token
agreement, perplexity on a fixed stream), never task quality. On the CPU its cases are skipped
rows (4.4 GB of fp32 weights, seconds a token on a small machine).
"""

from __future__ import annotations

import importlib.util

import torch
from torch import nn

from benchsuite import Workload
from benchsuite.workload import seeded

VOCABULARY = 32_000
CONTEXT = 2048
SEED = 0


class Llama1B(Workload):
    name = "llama-1b"
    description = "Llama-style causal LM, 22 layers x 2048, 1.1 B params, random weights (CUDA)"
    quality_metric = "token_agreement"

    def build_model(self) -> nn.Module:
        from transformers import LlamaConfig, LlamaForCausalLM

        config = LlamaConfig(
            vocab_size=VOCABULARY,
            hidden_size=2048,
            intermediate_size=5632,
            num_hidden_layers=22,
            num_attention_heads=32,
            num_key_value_heads=4,
            max_position_embeddings=CONTEXT,
        )
        return seeded(lambda: LlamaForCausalLM(config), SEED)

    def variant_unsupported_reason(self, variant, device):  # type: ignore[no-untyped-def]
        if importlib.util.find_spec("transformers") is None:
            return "llama-1b is a transformers model: pip install 'benchsuite[hf]'"
        if not device.startswith("cuda"):
            return "llama-1b is measured on CUDA only (4.4 GB of fp32 weights)"
        return None

    def generation_prompt(self, batch_size: int, prompt_tokens: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(SEED)
        return torch.randint(0, VOCABULARY, (batch_size, prompt_tokens), generator=generator)

    def example_batch(self, batch_size: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.generation_prompt(batch_size, 128)}
