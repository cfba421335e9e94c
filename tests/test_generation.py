"""The generation scenario with a tiny causal LM: exact token counts, TTFT below the request,
prefill, decode and per-token energy against a model whose passes cost known joules, bad configs."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from benchsuite import Case, Workload
from benchsuite.instruments.config import MeasureConfig
from benchsuite.instruments.energy import EnergyConfig
from benchsuite.instruments.greedy_decode import (
    CacheArguments,
    greedy_generate,
    prefill,
    static_cache_factory,
)
from benchsuite.instruments.meters import EstimateMeter
from benchsuite.instruments.meters.base import MEASURED, EnergyReading, Meter, MeterInfo
from benchsuite.instruments.timing import SamplingConfig
from benchsuite.scenarios import run_case, skip_reason
from benchsuite.workload.discovery import load_workloads
from tests.conftest import FakeClock, run_cli

QUICK = MeasureConfig(
    SamplingConfig(warmup_max_s=0.3, budget_s=0.3, ci_target_rel=0.05),
    EnergyConfig(windows=5, window_s=0.2, idle_s=0.1),
)


class CountingLM(torch.nn.Module):
    """Counts its forward passes and moves a fake clock: 5 ms a prompt pass, 1 ms a token."""

    def __init__(self, clock: FakeClock, vocabulary: int = 11) -> None:
        super().__init__()
        self.clock, self.vocabulary, self.calls = clock, vocabulary, []

    def forward(self, input_ids: torch.Tensor, past_key_values: Any = None, use_cache: bool = True):  # type: ignore[no-untyped-def]
        self.calls.append(input_ids.shape[1])
        self.clock.advance(5_000_000 if past_key_values is None else 1_000_000)
        seen = input_ids.shape[1] + (past_key_values or 0)
        logits = torch.zeros(input_ids.shape[0], input_ids.shape[1], self.vocabulary)
        logits[:, -1, seen % self.vocabulary] = 1.0  # next token: the position, mod vocabulary
        return SimpleNamespace(logits=logits, past_key_values=seen)


def test_token_counts_are_exact_and_time_splits_into_first_token_and_the_rest(
    fake_clock: FakeClock,
) -> None:
    model = CountingLM(fake_clock)
    generated = greedy_generate(model, torch.zeros(3, 7, dtype=torch.long), 9, clock=fake_clock)
    assert generated.tokens.shape == (3, 9)  # every sequence, exactly 9 tokens
    assert model.calls == [7] + [1] * 8  # one prompt pass, then one token per pass, cached
    assert generated.tokens[0].tolist() == [(7 + i) % 11 for i in range(9)]  # fed back
    assert generated.ttft_ns == 5_000_000  # the prompt pass and its first token
    assert generated.e2e_ns == 5_000_000 + 8 * 1_000_000  # TTFT + 8 decode steps


class CountingLMWithCache(CountingLM):
    """The same model under transformers 5.24's names: its forward takes and returns ``cache``."""

    def forward(self, input_ids: torch.Tensor, cache: Any = None, use_cache: bool = True):  # type: ignore[no-untyped-def,override]
        out = super().forward(input_ids, past_key_values=cache, use_cache=use_cache)
        return SimpleNamespace(logits=out.logits, cache=out.past_key_values)


def test_the_cache_goes_under_the_name_the_forward_declares(fake_clock: FakeClock) -> None:
    classic = greedy_generate(CountingLM(fake_clock), torch.zeros(2, 5, dtype=torch.long), 6)
    model = CountingLMWithCache(fake_clock)
    renamed = greedy_generate(model, torch.zeros(2, 5, dtype=torch.long), 6)
    assert model.calls == [5] + [1] * 5  # one prompt pass, then one token per pass
    assert torch.equal(renamed.tokens, classic.tokens)  # each pass saw the cache fed back
    # read once per forward function, not per request (a request is timed whole)
    assert CacheArguments.of(model) is CacheArguments.of(CountingLMWithCache(fake_clock))
    assert CacheArguments.of(model).name == "cache"


@pytest.fixture(scope="module")
def llama_row() -> dict[str, Any]:
    llama = load_workloads()["tiny-llama"]
    case = Case(
        "tiny-llama", "int8-weight", "cpu", "generation", 2, 1, prompt_tokens=12, output_tokens=6
    )
    result = run_case(case, llama, EstimateMeter(), QUICK)
    return {"row": result.row(), "windows": result.energy_window_rows()}


def test_a_generation_case_of_the_tiny_llama(llama_row: dict[str, Any]) -> None:
    row = llama_row["row"]
    assert row["case_id"] == "tiny-llama/int8-weight/cpu/generation/b2/t1/p12-o6"
    assert row["prompt_tokens"] == 12 and row["output_tokens"] == 6
    assert 0 < row["ttft_p50_ms"] < row["latency_p50_ms"]  # the first token comes before the last
    assert row["tpot_p50_ms"] > 0
    assert row["output_tokens_per_s"] == pytest.approx(2 * 6 / (row["latency_p50_ms"] / 1e3))
    assert 0 <= row["token_agreement"] <= 1 and row["perplexity"] > 1
    assert row["quality_metric"] == "token_agreement"
    assert "29 of 29 nn.Linear -> int8 weights" in row["variant_detail"]  # torchao, weight-only
    assert "torchao" in row["variant_detail"]
    assert row["param_count"] > 4_000_000 and row["flops_per_sample"] > 0


def test_the_decode_interval_brackets_its_figure_and_five_windows_ran(
    llama_row: dict[str, Any],
) -> None:
    row, windows = llama_row["row"], llama_row["windows"]
    assert len([w for w in windows if w["window"] >= 0]) == 5  # an odd count: a window's median
    assert row["energy_decode_per_request_low_j"] <= row["energy_decode_per_request_j"]
    assert row["energy_decode_per_request_j"] <= row["energy_decode_per_request_high_j"]
    assert 0 < row["energy_prefill_per_request_j"] < row["energy_per_request_j"]


class _Ledger:
    """Joules charged by :class:`CostedLM`'s passes: the truth an injected meter reads back."""

    joules = 0.0


PREFILL_J_PER_SEQUENCE = 0.25
DECODE_STEP_J_PER_SEQUENCE = 0.01


class CostedLM(torch.nn.Module):
    """A causal LM whose every pass costs a known energy: a prompt pass (the prefill, which
    also yields the first token) 0.25 J per sequence, each later token 0.01 J per sequence."""

    def __init__(self, vocabulary: int = 11) -> None:
        super().__init__()
        self.vocabulary = vocabulary
        self.anchor = torch.nn.Linear(1, 1)  # a parameter, so the model has a size and a dtype

    def forward(self, input_ids: torch.Tensor, past_key_values: Any = None, use_cache: bool = True):  # type: ignore[no-untyped-def]
        sequences = input_ids.shape[0]
        cost = PREFILL_J_PER_SEQUENCE if past_key_values is None else DECODE_STEP_J_PER_SEQUENCE
        _Ledger.joules += cost * sequences
        seen = input_ids.shape[1] + (past_key_values or 0)
        logits = torch.zeros(sequences, input_ids.shape[1], self.vocabulary)
        logits[:, -1, seen % self.vocabulary] = 1.0
        return SimpleNamespace(logits=logits, past_key_values=seen)


class LedgerMeter(Meter):
    """Reads the ledger: a measured counter that moves only when the model works (no idle)."""

    source, kind = "ledger", MEASURED

    def info(self) -> MeterInfo:
        return MeterInfo(self.source, self.kind, True, "the test's ledger", ("model",), 1e-3)

    def start(self) -> None:
        self._start_j, self._start_ns = _Ledger.joules, time.perf_counter_ns()

    def stop(self) -> EnergyReading:
        duration_s = (time.perf_counter_ns() - self._start_ns) / 1e9
        return EnergyReading(
            self.source, self.kind, ("model",), _Ledger.joules - self._start_j, duration_s, 1e-3
        )


class CostedWorkload(Workload):
    name = "costed-lm"
    quality_metric = "token_agreement"

    def build_model(self) -> torch.nn.Module:
        return CostedLM()

    def generation_prompt(self, batch_size: int, prompt_tokens: int) -> torch.Tensor:
        return torch.zeros(batch_size, prompt_tokens, dtype=torch.long)

    def example_batch(self, batch_size: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.generation_prompt(batch_size, 4)}


def test_prefill_decode_and_per_token_energy_are_the_injected_costs() -> None:
    """The meter's counter moves by a known amount at each pass, so the scenario's split of a
    request's energy into prefill and decode, and its energy per token, are checked against
    that truth, not against each other."""
    output = 9
    case = Case("costed-lm", "fp32", "cpu", "generation", 3, 1, prompt_tokens=5, output_tokens=9)
    row = run_case(case, CostedWorkload(), LedgerMeter(), QUICK).row()
    decode_j = (output - 1) * DECODE_STEP_J_PER_SEQUENCE
    assert row["energy_kind"] == "measured" and row["energy_source"] == "ledger"
    assert row["energy_prefill_per_request_j"] == pytest.approx(PREFILL_J_PER_SEQUENCE)
    assert row["energy_decode_per_request_j"] == pytest.approx(decode_j)
    assert row["energy_per_request_j"] == pytest.approx(PREFILL_J_PER_SEQUENCE + decode_j)
    assert row["energy_per_output_token_j"] == pytest.approx(
        (PREFILL_J_PER_SEQUENCE + decode_j) / output
    )


def test_a_static_cache_generates_what_the_growing_cache_does() -> None:
    model = load_workloads()["tiny-llama"].reference_model()
    prompts = torch.randint(0, 2048, (2, 9), generator=torch.Generator().manual_seed(1))
    cache = static_cache_factory(model)
    assert cache is not None
    with torch.inference_mode():
        growing = greedy_generate(model, prompts, 7).tokens
        static = greedy_generate(model, prompts, 7, cache=cache).tokens
        first = prefill(model, prompts, 7, cache)
    assert static.shape == (2, 7)
    assert torch.equal(static, growing)
    assert torch.equal(first, growing[:, :1])


def _graphs_compiled_over(requests: int, cache_for_model: bool) -> int:
    """Graphs Dynamo compiles for ``requests`` same-shaped requests of a 1-layer Llama (the
    eager backend: the same tracing and guards as Inductor, without code generation)."""
    from torch._dynamo.utils import counters

    from tests.conftest import tiny_llama

    model = tiny_llama().eval()
    compiled = torch.compile(model, backend="eager")
    cache = static_cache_factory(model) if cache_for_model else None
    torch._dynamo.reset()
    counters.clear()
    with torch.inference_mode():
        for _ in range(requests):
            greedy_generate(compiled, torch.ones(1, 5, dtype=torch.long), 6, cache=cache)
    return int(counters["stats"]["unique_graphs"])


def test_a_compiled_model_with_the_static_cache_stops_compiling_once_warm() -> None:
    one, three = _graphs_compiled_over(1, True), _graphs_compiled_over(3, True)
    assert one == three  # later requests reuse the graphs: nothing recompiles
    assert one == 2  # the prefill and the decode step, each with one fixed shape
    # a growing cache: a recompile at the second length, then a graph with a dynamic length
    assert _graphs_compiled_over(1, False) > one


def test_compiled_generation_runs_for_transformers_models_and_says_why_not_otherwise() -> None:
    llama = load_workloads()["tiny-llama"]
    case = Case("tiny-llama", "compiled", "cpu", "generation", 1, prompt_tokens=4, output_tokens=4)
    assert skip_reason(case, llama) is None

    class OwnLM(Workload):
        name = "own-lm"

        def build_model(self) -> torch.nn.Module:
            return torch.nn.Linear(4, 4)

        def example_batch(self, batch_size: int) -> torch.Tensor:
            return torch.zeros(batch_size, 4)

    reason = skip_reason(Case("own-lm", "compiled", "cpu", "generation", 1, 1, 4, 4), OwnLM())
    assert reason is not None
    assert "needs a static KV cache" in reason and "Linear is not a transformers model" in reason


def test_int8_weight_without_torchao_is_a_skipped_row_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "torchao" else real_find_spec(name, *a),
    )
    llama = load_workloads()["tiny-llama"]
    case = Case("tiny-llama", "int8-weight", "cpu", "generation", 1, 1, 4, 4)
    reason = skip_reason(case, llama)
    assert reason is not None and "pip install 'benchsuite[torchao]'" in reason


def test_a_prompt_longer_than_the_context_is_one_line_exit_2(tmp_path: Path) -> None:
    suite = tmp_path / "long.toml"
    suite.write_text(
        '[[matrix]]\nworkloads = ["tiny-llama"]\nscenario = "generation"\nbatch_sizes = [1]\n'
        "prompt_tokens = [500]\noutput_tokens = [32]\n"
    )
    done = run_cli("run", "--suite", str(suite), "--results", str(tmp_path / "r"), "--no-report")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "prompt_tokens 500 + output_tokens 32 = 532 tokens, longer than the model's" in lines[0]
    assert "context of 512" in lines[0]
    runs = list((tmp_path / "r").iterdir()) if (tmp_path / "r").exists() else []
    assert runs == []  # refused before a run was started


def test_a_generation_matrix_needs_its_token_axes(tmp_path: Path) -> None:
    suite = tmp_path / "s.toml"
    suite.write_text(
        '[[matrix]]\nworkloads = ["tiny-llama"]\nscenario = "generation"\nbatch_sizes = [1]\n'
    )
    done = run_cli("run", "--suite", str(suite), "--results", str(tmp_path / "r"))
    assert done.returncode == 2 and "needs prompt_tokens = [...] and output_tokens" in done.stderr


def test_the_stored_rows_keep_the_token_axes_in_the_id(tmp_path: Path) -> None:
    case = Case.from_id("tiny-llama/fp32/cpu/generation/b4/t2/p64-o32")
    assert (case.batch_size, case.threads, case.prompt_tokens, case.output_tokens) == (4, 2, 64, 32)
    assert Case.from_id(case.id) == case


def test_a_compiled_model_scores_perplexity_uncompiled_and_says_so() -> None:
    from torch import nn

    from benchsuite.scenarios.generation import EAGER_PERPLEXITY_NOTE, perplexity_model
    from benchsuite.variants import PreparedModel

    eager, compiled = nn.Linear(2, 2), nn.Linear(2, 2)
    prepared = PreparedModel(compiled, "cpu", flops_module=eager)
    assert perplexity_model(prepared, cache=lambda batch, tokens: None) is eager  # static shapes
    assert perplexity_model(prepared, cache=None) is compiled
    assert "perplexity scored by the same model uncompiled" in EAGER_PERPLEXITY_NOTE
