"""A ~1.1 B-parameter Llama-style causal LM (the TinyLlama-1.1B shape: 22 layers, width 2048,
grouped-query attention with 4 key/value heads, a 32,000-token vocabulary) with seeded random
weights, for a realistic energy per token on a GPU in the nightly suite's CUDA half.

The weights are random: its quality columns are fidelity to the fp32 model (greedy-token
agreement, perplexity on a fixed stream), never task quality. On the CPU its cases are skipped
rows (4.4 GB of fp32 weights, seconds a token on a small machine).
"""

from __future__ import annotations

from typing import Any, ClassVar

from _llama import LlamaFromConfig


class Llama1B(LlamaFromConfig):
    name = "llama-1b"
    description = "Llama-style causal LM, 22 layers x 2048, 1.1 B params, random weights (CUDA)"
    vocabulary = 32_000
    config: ClassVar[dict[str, Any]] = {
        "hidden_size": 2048,
        "intermediate_size": 5632,
        "num_hidden_layers": 22,
        "num_attention_heads": 32,
        "num_key_value_heads": 4,
        "max_position_embeddings": 2048,
    }

    def variant_unsupported_reason(self, variant, device):  # type: ignore[no-untyped-def]
        if not device.startswith("cuda"):
            return "llama-1b is measured on CUDA only (4.4 GB of fp32 weights)"
        return super().variant_unsupported_reason(variant, device)
