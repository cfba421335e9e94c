"""Greedy generation with the KV cache: one forward pass per token, timed at the first token.

The loop is what ``generate()`` does for greedy decoding without its sampling machinery: the
prompt in one forward pass (the prefill, which also yields the first token), then one token per
pass, each fed back with the cache. The output is forced to its length: no end-of-sequence token
stops it, so every request of a case produces exactly ``output_tokens`` tokens per sequence. It
works with any model whose forward takes ``input_ids``, ``past_key_values`` and ``use_cache`` and
returns ``logits`` and ``past_key_values`` (every transformers causal LM).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class Generated:
    """One request's tokens (batch × output tokens) and when its first and last token came."""

    tokens: torch.Tensor
    ttft_ns: int
    e2e_ns: int


def greedy_generate(
    model: Callable[..., Any],
    prompt_ids: torch.Tensor,
    output_tokens: int,
    sync: Callable[[], None] | None = None,
    clock: Callable[[], int] = time.perf_counter_ns,
) -> Generated:
    """Generate ``output_tokens`` tokens for each prompt row, greedily, with the KV cache."""
    start = clock()
    out = model(input_ids=prompt_ids, use_cache=True)
    token = out.logits[:, -1, :].argmax(dim=-1, keepdim=True)
    if sync is not None:
        sync()
    first = clock()
    tokens = [token]
    past = out.past_key_values
    for _ in range(output_tokens - 1):
        out = model(input_ids=token, past_key_values=past, use_cache=True)
        past = out.past_key_values
        token = out.logits[:, -1, :].argmax(dim=-1, keepdim=True)
        tokens.append(token)
    if sync is not None:
        sync()
    end = clock()
    return Generated(torch.cat(tokens, dim=1), first - start, end - start)


def prefill(model: Callable[..., Any], prompt_ids: torch.Tensor) -> torch.Tensor:
    """The prompt's forward pass and its first token: a request's prefill part alone."""
    out = model(input_ids=prompt_ids, use_cache=True)
    return out.logits[:, -1, :].argmax(dim=-1, keepdim=True)


def mean_negative_log_likelihood(model: Callable[..., Any], stream: torch.Tensor) -> float:
    """Mean NLL (nats per token) of ``stream`` (1 × length) under ``model``, next-token."""
    logits = model(input_ids=stream, use_cache=False).logits[:, :-1, :].float()
    targets = stream[:, 1:]
    loss = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)
    )
    return float(loss)
