"""Model sources are found by their prefix: a new one registered works in ``ModelSpec``, in
``build_workload`` and on the command line, with nothing else edited."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from benchsuite.cli import main
from benchsuite.errors import UsageError
from benchsuite.sources import ModelSource, ModelSpec, build_workload, register_source, registry
from benchsuite.workload.base import Workload
from benchsuite.workload.discovery import discover_workloads

TINY_WORKLOADS = Path(__file__).parent / "data" / "tiny_workloads"


def tiny_source_workload(spec: ModelSpec) -> Workload:
    """The builder of the ``tiny:`` source: the tiny MLP, named after the spec."""
    workload = discover_workloads(TINY_WORKLOADS)["tiny-mlp"]
    workload.name = spec.name
    return workload


@pytest.fixture
def tiny_source(monkeypatch: pytest.MonkeyPatch) -> ModelSource:
    monkeypatch.setattr(registry, "_SOURCES", dict(registry._SOURCES))
    return register_source(ModelSource("tiny:", "<any name>", f"{__name__}:tiny_source_workload"))


def test_a_registered_source_builds_its_workload(tiny_source: ModelSource) -> None:
    spec = ModelSpec("tiny:my-mlp", "text-classification")
    assert spec.location == "my-mlp" and spec.name == "my-mlp"
    workload = build_workload(spec)
    assert workload.name == "my-mlp" and workload.reference_model()(
        workload.example_batch(2)
    ).shape == (2, 2)


def test_an_unknown_prefix_is_one_message_naming_the_known_ones(tiny_source: ModelSource) -> None:
    with pytest.raises(
        UsageError,
        match=r"--model onnx:m\.onnx: .*known prefix \(hf:<hub id or folder>, openai:<base url.*>, "
        r"tiny:<any name>\)",
    ):
        ModelSpec("onnx:m.onnx", "text-classification")
    with pytest.raises(UsageError, match="already registered"):
        register_source(ModelSource("tiny:", "<other>", "elsewhere:build"))


@pytest.mark.slow
def test_the_command_line_runs_a_registered_source_unedited(
    tiny_source: ModelSource, tmp_path: Path, tiny_suite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "run",
            "--model",
            "tiny:my-mlp",
            "--task",
            "text-classification",
            "--variants",
            "fp32",
            "--suite",
            str(tiny_suite),  # its short [measure] settings
            "--in-process",  # the source is registered in this process only
            "--no-report",
            "--results",
            str(tmp_path / "r"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    (run,) = (tmp_path / "r").iterdir()
    cases = pd.read_parquet(run / "cases")
    assert list(cases["case_id"]) == ["my-mlp/fp32/cpu/single-stream/b1"]
    assert list(cases["status"]) == ["ok"]


def test_a_language_model_by_name_runs_generation_unless_told_otherwise() -> None:
    from benchsuite.suites.model import model_suite

    deployed = model_suite(ModelSpec("hf:./my-llm", "text-generation"))
    assert {case.variant for case in deployed.cases()} == {"fp32", "bf16-weights", "int8"}
    generating = model_suite(ModelSpec("hf:./my-llm", "text-generation"), variants=["fp32"])
    assert {case.scenario for case in generating.cases()} == {"generation"}
    assert [(c.batch_size, c.prompt_tokens, c.output_tokens) for c in generating.cases()] == [
        (8, 32, 32)
    ]
    classifying = model_suite(ModelSpec("hf:./my-bert", "text-classification"), variants=["fp32"])
    assert {case.scenario for case in classifying.cases()} == {"single-stream"}
    told = model_suite(
        ModelSpec("hf:./my-llm", "text-generation"), ["fp32"], scenarios=["single-stream"]
    )
    assert {case.scenario for case in told.cases()} == {"single-stream"}


def test_a_model_in_a_generic_folder_is_named_by_its_own_config(tmp_path: Path) -> None:
    import json

    folder = tmp_path / "model"  # what a sentence-transformers download or a CI cache holds
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps(
            {"_name_or_path": "sentence-transformers/all-MiniLM-L6-v2", "model_type": "bert"}
        )
    )
    assert ModelSpec(f"hf:{folder}", "feature-extraction").name == "all-MiniLM-L6-v2"
    assert ModelSpec(f"hf:{folder}", "feature-extraction", name="mine").name == "mine"
    built = tmp_path / "tiny-bert"  # a model made from a config and saved records no name
    built.mkdir()
    (built / "config.json").write_text(json.dumps({"_name_or_path": "", "model_type": "bert"}))
    assert ModelSpec(f"hf:{built}", "feature-extraction").name == "tiny-bert"
    assert ModelSpec("hf:org/some-model", "feature-extraction").name == "org--some-model"
