"""Models by name: tiny models built from transformers configs, saved with save_pretrained to a
temporary folder, and run by ``hf:<folder>`` through the command, as a user would."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from tests.conftest import run_cli

WORDS = [
    "the",
    "a",
    "cat",
    "dog",
    "sat",
    "on",
    "mat",
    "good",
    "bad",
    "movie",
    "was",
    "very",
    "not",
    "service",
    "quick",
    "staff",
    "friendly",
    "product",
    "recommend",
    "train",
    "station",
    "small",
    "model",
    "cheap",
    "energy",
]
FAST = """[measure]
repeats = 1
warmup_max_s = 0.2
budget_s = 0.2
ci_target_rel = 0.05
energy_windows = 5
energy_window_s = 0.1
idle_s = 0.1
[serving]
duration_s = 0.5
"""


BERT_WITH_EVAL_DATA = (
    "--model",
    "hf:./bert",
    "--task",
    "text-classification",
    "--eval-data",
    "eval.jsonl",
    "--sequence-length",
    "16",
)


def _vocab(folder: Path) -> Path:
    path = folder / "vocab.txt"
    path.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]))
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A BERT classifier with its tokenizer and eval data, a DistilBERT student, a
    sentence-transformers embedding model, a ViT with its image processor, and a BERT folder
    without a tokenizer."""
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        BertModel,
        BertTokenizer,
        DistilBertConfig,
        DistilBertForSequenceClassification,
        ViTConfig,
        ViTForImageClassification,
        ViTImageProcessor,
    )

    root = tmp_path_factory.mktemp("hf")
    tokenizer = BertTokenizer(str(_vocab(root)))
    labels = {
        "id2label": {0: "negative", 1: "positive"},
        "label2id": {"negative": 0, "positive": 1},
    }
    small = {"hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 64}
    torch.manual_seed(0)
    bert = BertForSequenceClassification(
        BertConfig(
            vocab_size=len(WORDS) + 5,
            num_hidden_layers=2,
            max_position_embeddings=64,
            **small,
            **labels,
        )
    )
    bert.save_pretrained(root / "bert")
    tokenizer.save_pretrained(root / "bert")
    bert.save_pretrained(root / "bert-no-tokenizer")
    DistilBertForSequenceClassification(
        DistilBertConfig(
            vocab_size=len(WORDS) + 5,
            dim=32,
            n_layers=1,
            n_heads=2,
            hidden_dim=64,
            max_position_embeddings=64,
            **labels,
        )
    ).save_pretrained(root / "distilbert")
    with (root / "eval.jsonl").open("w") as handle:
        for index in range(40):
            text = "good movie" if index % 2 else "bad service"
            label = "positive" if index % 2 else "negative"
            handle.write(json.dumps({"text": text, "label": label}) + "\n")

    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    encoder = root / "encoder"
    BertModel(BertConfig(vocab_size=len(WORDS) + 5, num_hidden_layers=1, **small)).save_pretrained(
        encoder
    )
    tokenizer.save_pretrained(encoder)
    SentenceTransformer(
        modules=[Transformer(str(encoder), max_seq_length=16), Pooling(32)], device="cpu"
    ).save(str(root / "sentence-encoder"))

    ViTForImageClassification(
        ViTConfig(image_size=32, patch_size=8, num_hidden_layers=2, num_labels=3, **small)
    ).save_pretrained(root / "vit")
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(root / "vit")
    from transformers import GPT2Config, GPT2LMHeadModel

    GPT2LMHeadModel(
        GPT2Config(vocab_size=50, n_positions=32, n_embd=32, n_layer=1, n_head=2)
    ).save_pretrained(root / "gpt")
    (root / "fast.toml").write_text(FAST + '[[matrix]]\nworkloads = ["unused"]\n')
    return root


def _cases(results: Path) -> pd.DataFrame:
    (run,) = results.iterdir()
    return pd.read_parquet(run / "cases").set_index("variant", drop=False)


def _run_model(models: Path, out: Path, *args: str) -> pd.DataFrame:
    done = run_cli(
        "run",
        "--suite",
        str(models / "fast.toml"),
        "--results",
        str(out),
        "--no-report",
        *args,
        cwd=models,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return _cases(out)


@pytest.mark.slow
def test_a_text_classifier_by_folder_with_eval_data_and_a_student(
    models: Path, tmp_path: Path
) -> None:
    rows = _run_model(
        models,
        tmp_path / "r",
        *BERT_WITH_EVAL_DATA,
        "--student",
        "hf:./distilbert",
        "--variants",
        "fp32,int8,prune50,prune-ch50,distilled",
    )
    assert rows.loc["prune-ch50", "status"] == "skipped"
    assert "torch.fx" in rows.loc["prune-ch50", "error"]
    ok = rows[rows["status"] == "ok"]
    assert sorted(ok["variant"]) == ["distilled", "fp32", "int8", "prune50"]
    # no --threads: torch's default, which every row records
    assert ok["threads"].isna().all() and (ok["threads_used"] >= 1).all()
    assert (ok["case_id"].str.startswith("bert/")).all()
    assert (ok["quality_metric"] == "accuracy").all()
    assert (ok["eval_samples"] == 40).all() and ok["accuracy"].between(0, 1).all()
    assert ok.loc["fp32", "top1_agreement"] == 1.0 and ok.loc["fp32", "output_rel_error"] == 0
    assert 0 < ok.loc["int8", "output_rel_error"] < 0.2  # int8 moves the logits a little
    assert ok.loc["distilled", "param_count"] < ok.loc["fp32", "param_count"]
    assert "pretrained student" in ok.loc["distilled", "variant_detail"]
    assert (ok["model_source"] == "hf:./bert").all()
    assert (ok["model_task"] == "text-classification").all()
    assert ok["model_revision"].str.startswith("local:").all()
    assert ok["model_library_versions"].str.contains("transformers ").all()
    assert ok["input_note"].str.contains("eval.jsonl").all()
    assert (ok["flops_per_sample"] > 0).all()


@pytest.mark.slow
def test_a_hub_classifier_runs_in_onnx_runtime_and_openvino(models: Path, tmp_path: Path) -> None:
    rows = _run_model(
        models,
        tmp_path / "r",
        *BERT_WITH_EVAL_DATA,
        "--variants",
        "fp32,ort,ort-int8,ort-int8-static,openvino,openvino-int8",
        "--in-process",  # the exporter and runtimes are imported once for the six cases
    )
    assert (rows["status"] == "ok").all(), rows["error"].tolist()
    fp32 = rows.loc["fp32"]
    exported = rows.drop(index="fp32")
    assert set(exported["runtime"]) == {"onnxruntime", "openvino"}
    # inputs by name (input_ids, attention_mask, token_type_ids), quality against PyTorch fp32
    assert (exported["eval_samples"] == 40).all()
    assert (exported["top1_agreement"] >= 0.95).all()
    assert (exported["accuracy"] - fp32["accuracy"]).abs().max() <= 0.05
    assert exported.loc["ort", "output_rel_error"] < 1e-4
    assert exported.loc["openvino", "output_rel_error"] < 1e-4
    assert (exported["flops_per_sample"] == fp32["flops_per_sample"]).all()
    # no training data: static int8 calibrates on the held-out texts, and says so
    for name in ("ort-int8-static", "openvino-int8"):
        assert "samples of the workload's held-out data" in exported.loc[name, "variant_detail"]


@pytest.mark.slow
def test_a_sentence_embedding_model_is_judged_by_cosine_similarity(
    models: Path, tmp_path: Path
) -> None:
    rows = _run_model(
        models,
        tmp_path / "r",
        "--model",
        f"hf:{models / 'sentence-encoder'}",
        "--task",
        "feature-extraction",
        "--sequence-length",
        "16",
        "--variants",
        "fp32,int8",
        "--scenarios",
        "single-stream,offline,server",
        "--batch-sizes",
        "4",
        "--load-pct",
        "40",
        "--threads",
        "1",
    )
    assert (rows["status"] == "ok").all(), rows["error"].tolist()
    assert set(rows["model_library"]) == {"sentence-transformers"}
    # --threads is the named model's too, and every row records the threads it ran with
    assert (rows["threads"] == 1).all() and (rows["threads_used"] == 1).all()
    assert rows["case_id"].str.contains("/t1").all()
    assert rows.loc[rows["variant"] == "int8", "variant_backend"].str.startswith("torch.ao").all()
    single = rows[rows["scenario"] == "single-stream"]
    assert single.loc["fp32", "cosine_similarity"] == pytest.approx(1.0)
    assert 0.9 < single.loc["int8", "cosine_similarity"] <= 1.0
    assert single.loc["int8", "output_rel_error"] > 0  # int8 moved the embeddings
    assert "nn.Linear -> int8" in single.loc["int8", "variant_detail"]
    assert single["accuracy"].isna().all() and single["top1_agreement"].isna().all()
    assert (single["quality_metric"] == "cosine_similarity").all()
    assert "built-in sample sentences" in single.loc["fp32", "input_note"]
    assert set(rows[rows["scenario"] == "offline"]["batch_size"]) == {4}
    # the same model under a Poisson load, in-process, batched up to 4
    served = rows[rows["scenario"] == "server"]
    assert sorted(served["case_id"]) == [
        "sentence-encoder/fp32/cpu/server/b4/t1/l40",
        "sentence-encoder/int8/cpu/server/b4/t1/l40",
    ]
    assert np.allclose(served["offered_rps"], 0.4 * served["max_throughput_rps"])
    assert (served["served_requests"] > 0).all() and served["energy_per_request_j"].gt(0).all()
    assert (served["quality_metric"] == "cosine_similarity").all()


@pytest.mark.slow
def test_an_image_classifier_and_a_folder_without_a_preprocessor(
    models: Path, tmp_path: Path
) -> None:
    rows = _run_model(
        models,
        tmp_path / "vit",
        "--model",
        "hf:./vit",
        "--task",
        "image-classification",
        "--variants",
        "fp32,bf16",
    )
    assert (rows["status"] == "ok").all(), rows["error"].tolist()
    assert rows.loc["bf16", "top1_agreement"] > 0.5
    assert "seeded random 32x32 images" in rows.loc["fp32", "input_note"]
    assert (rows["quality_metric"] == "top1_agreement").all()

    bare = _run_model(
        models,
        tmp_path / "bare",
        "--model",
        "hf:./bert-no-tokenizer",
        "--task",
        "text-classification",
        "--variants",
        "fp32",
    )
    assert bare.loc["fp32", "status"] == "ok"
    assert bare.loc["fp32", "input_note"].startswith("synthetic: seeded random token ids")

    causal = _run_model(
        models,
        tmp_path / "gpt",
        "--model",
        "hf:./gpt",
        "--task",
        "text-generation",
        "--scenarios",
        "single-stream",  # one forward pass: generation is a language model's default
        "--variants",
        "fp32,int8",
        "--sequence-length",
        "16",
    )
    assert (causal["status"] == "ok").all(), causal["error"].tolist()
    assert causal.loc["int8", "top1_agreement"] > 0.5  # next-token arg-max over every position
    assert (causal["quality_metric"] == "top1_agreement").all()


@pytest.mark.slow
def test_a_suite_names_models_beside_workload_classes(
    models: Path, tmp_path: Path, tiny_workloads: Path
) -> None:
    suite = models / "mixed.toml"
    suite.write_text(
        FAST + '[[models]]\nname = "tiny-bert"\nsource = "hf:./bert"\n'
        'task = "text-classification"\nsequence_length = 8\neval_data = "eval.jsonl"\n'
        '[[matrix]]\nworkloads = ["tiny-bert", "tiny-mlp"]\nvariants = ["fp32"]\n'
    )
    done = run_cli(
        "run",
        "--suite",
        str(suite),
        "--workloads",
        str(tiny_workloads),
        "--results",
        str(tmp_path / "r"),
        "--no-report",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    rows = _cases(tmp_path / "r").set_index("workload")
    assert rows.loc["tiny-bert", "model_source"].endswith("/bert")  # resolved beside the suite
    assert rows.loc["tiny-bert", "quality_metric"] == "accuracy"
    assert pd.isna(rows.loc["tiny-mlp", "model_source"])


@pytest.mark.parametrize(
    ("offline", "why"),
    [
        ({"HF_HUB_OFFLINE": "1"}, "HF_HUB_OFFLINE is set"),
        # no HF_HUB_OFFLINE, but the hub does not answer (a closed loopback port): one quick
        # probe, one line, instead of huggingface_hub's half minute of retries
        ({"HF_ENDPOINT": "http://127.0.0.1:9"}, "the hub cannot be reached"),
    ],
)
def test_an_uncached_hub_id_without_the_hub_is_one_line_and_exit_2(
    tmp_path: Path, offline: dict[str, str], why: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env.update(offline, HF_HOME=str(tmp_path / "hf-home"))
    done = run_cli_env(
        env,
        "run",
        "--model",
        "hf:someone/not-downloaded-bert",
        "--task",
        "text-classification",
        "--results",
        str(tmp_path / "r"),
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "hf:someone/not-downloaded-bert: not in the local Hugging Face cache" in lines[0]
    assert why in lines[0]
    assert (
        "hf download someone/not-downloaded-bert" in lines[0] and "hf:/path/to/folder" in lines[0]
    )
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def test_bad_model_input_is_one_line_and_exit_2(models: Path, tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text('{"text": "good", "label": "maybe"}\n')
    cases = {
        ("--model", "hf:./nowhere", "--task", "text-classification"): "no such folder",
        ("--model", "hf:./bert"): "needs --task",
        (
            "--model",
            "hf:./bert",
            "--task",
            "text-classification",
            "--eval-data",
            str(tmp_path / "bad.jsonl"),
        ): "label 'maybe' is neither",
        (
            "--model",
            "hf:./bert",
            "--task",
            "text-classification",
            "--eval-data",
            str(tmp_path / "missing.csv"),
        ): "no such file",
        (
            "--model",
            "hf:./bert",
            "--task",
            "text-classification",
            "--variants",
            "fp23",
        ): "did you mean 'fp32'",
    }
    for args, expected in cases.items():
        done = run_cli("run", *args, "--results", str(tmp_path / "r"), "--no-report", cwd=models)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1, (args, done.stderr)
        assert expected in lines[0], (args, lines[0])


def run_cli_env(env: dict[str, str], *args: str):  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "benchsuite", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=Path(__file__).parent.parent,
    )


@pytest.mark.slow
def test_a_hub_id_loads_from_the_local_cache_with_its_revision(
    models: Path, tmp_path: Path
) -> None:
    import shutil

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hf-home" / "hub" / "models--tiny-org--tiny-bert"
    shutil.copytree(models / "bert", repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf-home")}
    done = run_cli_env(
        env,
        "run",
        "--model",
        "hf:tiny-org/tiny-bert",
        "--task",
        "text-classification",
        "--variants",
        "fp32",
        "--suite",
        str(models / "fast.toml"),
        "--results",
        str(tmp_path / "r"),
        "--no-report",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    row = _cases(tmp_path / "r").iloc[0]
    assert row["case_id"] == "tiny-org--tiny-bert/fp32/cpu/single-stream/b1"
    assert row["model_source"] == "hf:tiny-org/tiny-bert" and row["model_revision"] == commit
