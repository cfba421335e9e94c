"""A small causal language model for the generation scenario: a Llama-style decoder (RMSNorm,
SwiGLU, rotary positions, no biases) defined by a transformers config, 4 layers, width 256,
a 2,048-token vocabulary: about 4.2 M parameters, seeded random weights.

The weights are random, so its quality is fidelity only (greedy-token agreement with fp32 and
perplexity on a fixed token stream), never task quality. It needs transformers
(``pip install 'benchsuite[hf]'``); without it, its cases are skipped rows that say so.
"""

from __future__ import annotations

from typing import Any, ClassVar

from _llama import LlamaFromConfig


class TinyLlama(LlamaFromConfig):
    name = "tiny-llama"
    description = "Llama-style causal LM from a config, 4 x 256, 4.2 M params, random weights"
    vocabulary = 2048
    config: ClassVar[dict[str, Any]] = {
        "hidden_size": 256,
        "intermediate_size": 688,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "num_key_value_heads": 4,
        "max_position_embeddings": 512,
    }
