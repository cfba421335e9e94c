"""Greedy generation with the KV cache: one forward pass per token, timed at the first token.

The loop is what ``generate()`` does for greedy decoding without its sampling machinery: the
prompt in one forward pass (the prefill, which also yields the first token), then one token per
pass, each fed back with the cache. The output is forced to its length: no end-of-sequence token
stops it, so every request of a case produces exactly ``output_tokens`` tokens per sequence. It
works with any model whose forward takes ``input_ids``, ``use_cache`` and a key/value cache and
returns ``logits`` and that cache (every transformers causal LM). transformers 5.24 renamed the
cache from ``past_key_values`` to ``cache``, in the forward's arguments and in its output, and
warns on the old name; the loop reads the forward's signature and uses the name it declares.

A compiled model is specialised to the shapes it has seen: a cache that grows by one token per
step makes it recompile at the second length and then fall back to a graph with a dynamic
length, which generation would measure instead of the specialised one. For such a model the
loop takes a *static* cache (transformers' ``StaticCache``, allocated for the whole request up
front) and, where the forward still declares one (older transformers), each step's
``cache_position``: the prefill and the decode step then each have one fixed shape, as
``generate(cache_implementation="static")`` does. Newer caches count their own positions.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

CacheFactory = Callable[[int, int], Any]
"""``cache(batch_size, max_tokens)``: a fresh key/value cache of fixed size for one request."""


def static_cache_factory(model: object) -> CacheFactory | None:
    """transformers' ``StaticCache`` for ``model``, or ``None`` when ``model`` is not a
    transformers model (it has no config a static cache can be laid out from)."""
    try:
        from transformers import PreTrainedModel, StaticCache
    except ImportError:
        return None
    if not isinstance(model, PreTrainedModel):
        return None
    config = model.config

    def cache(batch_size: int, max_tokens: int) -> Any:
        # the batch size is taken from the first write into the cache
        del batch_size
        return StaticCache(config=config, max_cache_len=max_tokens)

    return cache


@dataclass(frozen=True)
class CacheArguments:
    """How a model's forward takes its key/value cache: under which name (``cache`` from
    transformers 5.24, ``past_key_values`` before), and whether it wants ``cache_position``."""

    name: str
    takes_position: bool

    @classmethod
    def of(cls, model: Callable[..., Any]) -> CacheArguments:
        """Read from the forward's signature (a compiled model's original module's), once per
        forward function: a request is timed whole, and reading a signature takes ~40 us."""
        module = getattr(model, "_orig_mod", model)
        forward = getattr(module, "forward", module)
        return _declared_by(getattr(forward, "__func__", forward))

    def returned(self, output: Any) -> Any:
        """The cache a forward pass returned, under the same name."""
        return getattr(output, self.name)


@functools.lru_cache(maxsize=64)
def _declared_by(forward: Callable[..., Any]) -> CacheArguments:
    try:
        parameters = inspect.signature(forward).parameters
    except (TypeError, ValueError):  # a builtin or C callable: assume the classic names
        parameters = inspect.Signature().parameters
    name = "cache" if "cache" in parameters else "past_key_values"
    return CacheArguments(name, "cache_position" in parameters)


def _step(
    model: Callable[..., Any],
    ids: torch.Tensor,
    past: Any,
    position: int,
    fixed: bool,
    arguments: CacheArguments,
) -> Any:
    """One forward pass over ``ids``, which start at ``position`` in the sequence."""
    inputs: dict[str, Any] = {"input_ids": ids, "use_cache": True}
    if past is not None:
        inputs[arguments.name] = past
    if fixed and arguments.takes_position:
        inputs["cache_position"] = torch.arange(
            position, position + ids.shape[1], device=ids.device
        )
    return model(**inputs)


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
    cache: CacheFactory | None = None,
) -> Generated:
    """Generate ``output_tokens`` tokens for each prompt row, greedily, with the KV cache (a
    fixed-size one from ``cache`` when given; else the model's own, which grows)."""
    arguments = CacheArguments.of(model)
    start = clock()
    batch_size, prompt_tokens = prompt_ids.shape
    fixed = cache is not None
    past = cache(batch_size, prompt_tokens + output_tokens) if cache is not None else None
    out = _step(model, prompt_ids, past, 0, fixed, arguments)
    token = out.logits[:, -1, :].argmax(dim=-1, keepdim=True)
    if sync is not None:
        sync()
    first = clock()
    tokens = [token]
    past = arguments.returned(out)
    for step in range(output_tokens - 1):
        out = _step(model, token, past, prompt_tokens + step, fixed, arguments)
        past = arguments.returned(out)
        token = out.logits[:, -1, :].argmax(dim=-1, keepdim=True)
        tokens.append(token)
    if sync is not None:
        sync()
    end = clock()
    return Generated(torch.cat(tokens, dim=1), first - start, end - start)


def prefill(
    model: Callable[..., Any],
    prompt_ids: torch.Tensor,
    output_tokens: int,
    cache: CacheFactory | None = None,
) -> torch.Tensor:
    """The prompt's forward pass and its first token: a request's prefill part alone (with
    the same cache as the whole request, sized for ``output_tokens`` more)."""
    batch_size, prompt_tokens = prompt_ids.shape
    past = cache(batch_size, prompt_tokens + output_tokens) if cache is not None else None
    out = _step(model, prompt_ids, past, 0, cache is not None, CacheArguments.of(model))
    return out.logits[:, -1, :].argmax(dim=-1, keepdim=True)


def mean_negative_log_likelihood(model: Callable[..., Any], stream: torch.Tensor) -> float:
    """Mean NLL (nats per token) of ``stream`` (1 × length) under ``model``, next-token."""
    logits = model(input_ids=stream, use_cache=False).logits[:, :-1, :].float()
    targets = stream[:, 1:]
    loss = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)
    )
    return float(loss)
