"""Models as teams write them: a mapping of named inputs in, a Hugging Face ``ModelOutput`` out,
measured through every variant kind with no wrapper module."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from benchsuite.run.runner import run_suite
from benchsuite.store.runs import ResultStore
from benchsuite.suites.load import parse_suite
from benchsuite.workload.batch import batch_slice, bound_call, call_model, output_tensor
from benchsuite.workload.discovery import discover_workloads

OPEN_WORKLOADS = Path(__file__).parent / "data" / "open_workloads"

SUITE = """
name = "open"
[measure]
repeats = 1
warmup_max_s = 0.5
budget_s = 0.3
ci_target_rel = 0.05
energy_windows = 5
energy_window_s = 0.2
idle_s = 0.2

[[matrix]]
workloads = ["masked-tokens"]
variants = ["fp32", "int8", "prune50", "compiled"]
scenario = "single-stream"
threads = [1]

[[matrix]]
workloads = ["masked-tokens"]
variants = ["fp32"]
scenario = "offline"
batch_sizes = [16]
threads = [1]
"""


@pytest.mark.slow
def test_mapping_inputs_and_model_output_run_every_variant_kind(tmp_path: Path) -> None:
    workloads = discover_workloads(OPEN_WORKLOADS)
    suite = parse_suite(SUITE, source="open.toml")
    result = run_suite(suite, workloads, ResultStore(tmp_path))  # each case in a worker
    rows = pd.read_parquet(result.folder / "cases").set_index("variant", drop=False)
    failed = rows[rows["status"] != "ok"]
    assert failed.empty, failed[["case_id", "error", "error_traceback"]].to_dict("records")
    single = rows[rows["scenario"] == "single-stream"]
    assert sorted(single["variant"]) == ["compiled", "fp32", "int8", "prune50"]
    # quality columns on every variant, judged on the ModelOutput's logits against the labels
    assert (single["accuracy"] > 0.9).all()
    assert single.loc["fp32", "top1_agreement"] == 1.0
    assert single.loc["fp32", "output_rel_error"] == 0.0
    assert (single["eval_samples"] == 200).all()
    assert single.loc["int8", "output_rel_error"] > 0  # int8 really changed the numbers
    assert "nn.Linear -> int8 dynamic" in single.loc["int8", "variant_detail"]
    assert single.loc["prune50", "sparsity"] == pytest.approx(0.5, abs=0.01)
    # FLOPs of the two linear layers per sample (embedding lookups and pooling are not matmuls)
    assert (single["flops_per_sample"] == 2 * (16 * 32 + 32 * 2)).all()
    offline = rows[rows["scenario"] == "offline"].iloc[0]
    # the declared batch size divides, whatever the mapping's tensors look like
    assert offline["throughput_samples_per_s"] == pytest.approx(
        16 / (offline["latency_p50_ms"] / 1e3)
    )


def test_batches_are_called_and_sliced_by_their_shape() -> None:
    def spread(*args: torch.Tensor, **kwargs: torch.Tensor) -> tuple[int, list[str]]:
        return len(args), sorted(kwargs)

    mapping = {"input_ids": torch.zeros(4, 3), "attention_mask": torch.ones(4, 3)}
    assert call_model(spread, mapping) == (0, ["attention_mask", "input_ids"])
    assert call_model(spread, (torch.zeros(2), torch.zeros(2))) == (2, [])
    assert call_model(spread, torch.zeros(2)) == (1, [])
    assert bound_call(spread, mapping)() == (0, ["attention_mask", "input_ids"])
    assert bound_call(spread, (torch.zeros(2),))() == (1, [])
    sliced = batch_slice(mapping, 1, 3)
    assert isinstance(sliced, dict) and sliced["input_ids"].shape == (2, 3)


def test_outputs_are_read_from_model_outputs_tuples_and_mappings() -> None:
    from transformers.modeling_outputs import BaseModelOutput, SequenceClassifierOutput

    logits, hidden = torch.ones(2, 3), torch.zeros(2, 4, 5)
    assert output_tensor(SequenceClassifierOutput(logits=logits)) is logits
    assert output_tensor(BaseModelOutput(last_hidden_state=hidden)) is hidden
    assert output_tensor((logits, hidden)) is logits
    assert output_tensor({"scores": logits}) is logits
    with pytest.raises(TypeError, match=r"override Workload\.read_output"):
        output_tensor("text")
