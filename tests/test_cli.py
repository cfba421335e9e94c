"""The command, black-box: run it, read its output and the files it wrote."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from benchsuite.cli import main
from benchsuite.instruments.rounds import FEWEST_ROUNDS
from benchsuite.run.affinity import allowed_cpus, describe, group_cpus
from benchsuite.store.schema import CASE_COLUMNS
from tests.conftest import run_cli

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_smoke_run_writes_parquet_pandas_reads(smoke_run) -> None:  # type: ignore[no-untyped-def]
    done, out = smoke_run
    assert done.returncode == 0, done.stderr
    (run_folder,) = (out / "r").iterdir()
    cases = pd.read_parquet(run_folder / "cases")
    assert set(CASE_COLUMNS) <= set(cases.columns)
    assert len(cases) == 5 and cases["case_id"].is_unique
    ok = cases[cases["status"] == "ok"]
    assert len(ok) == 4
    assert (ok["energy_kind"] == "estimated").all() and (ok["energy_source"] == "estimate").all()
    assert ok["energy_valid"].all(), ok["energy_invalid_reason"].tolist()
    assert ok["grid_intensity_source"].str.contains("IEA").all()
    assert (ok["accuracy"] > 0.95).all()
    assert (ok["peak_rss_bytes"] > 0).all() and (ok["param_count"] > 0).all()
    assert (ok["env_cpu_count"] > 0).all() and ok["env_torch_version"].str.len().min() > 0
    skipped = cases[cases["status"] == "skipped"]
    assert skipped["case_id"].tolist() == ["digits-cnn/fp16/cpu/single-stream/b1/t1"]
    assert "cuda only" in skipped["error"].iloc[0]

    inference = ok[ok["scenario"] != "training"]
    # rounds: 5 processes x 8 rounds, one window each, interleaved within each group; a case
    # alone in its group (the offline one) in one process of all 40 rounds
    grouped = inference[inference["scenario"] == "single-stream"]
    assert (grouped["rounds"] == 8).all() and (grouped["repeats"] == 5).all()
    alone = inference[inference["scenario"] == "offline"]
    assert alone["rounds"].between(FEWEST_ROUNDS, 40).all() and (alone["repeats"] == 1).all()
    assert "within one process" in alone["latency_interval_method"].iloc[0]
    assert (inference["energy_windows"] == inference["repeats"] * inference["rounds"]).all()
    assert (inference["measure_order"] == "interleaved").all()
    # each repeat's processes ran where they were pinned (what the worker itself read back)
    pinned = describe([group_cpus(1, allowed_cpus())])
    if pinned is None:  # a single-CPU machine: nothing to choose
        assert inference["pinned_cpus"].isna().all()
    else:
        assert (inference["pinned_cpus"] == pinned).all(), inference["pinned_cpus"].tolist()
    single = inference[inference["scenario"] == "single-stream"].set_index("variant")
    assert single.loc["int8", "comparison_reference"] == single.loc["fp32", "case_id"]
    assert single.loc["fp32", "latency_ratio"] == 1.0
    int8_ratio = int8 = single.loc["int8"]
    assert int8_ratio["latency_ratio_low"] <= int8_ratio["latency_ratio"]
    assert int8_ratio["latency_ratio"] <= int8_ratio["latency_ratio_high"]
    paired = "40 paired rounds; 95% t-interval over 5 processes' own figures"
    assert int8_ratio["ratio_interval_method"].startswith(paired)
    assert int8_ratio["ratio_processes"] == 5
    assert int8_ratio["latency_ratio_resolved"] in (True, False)  # said either way
    assert int8["variant_backend"].startswith("torch.ao.quantization dynamic int8")
    assert (inference["latency_p50_ci_low_ms"] <= inference["latency_p50_ms"]).all()
    assert (inference["latency_p50_ms"] <= inference["latency_p99_ms"]).all()
    assert (inference["flops_per_sample"] > 0).all()
    assert (inference["energy_per_sample_low_j"] <= inference["energy_per_sample_j"]).all()
    assert (inference["co2e_g_per_1000_samples"] > 0).all()
    assert "nn.Linear -> int8 dynamic" in int8["variant_detail"]

    training = ok[ok["scenario"] == "training"].iloc[0]
    assert training["case_id"] == "digits-cnn/fp32/cpu/training/b64"
    assert training["train_reached_target"] and training["train_target_accuracy"] == 0.97
    assert training["train_samples"] > 0 and training["train_energy_per_sample_j"] > 0
    assert training["train_repeats"] >= 1 and training["train_co2e_g"] > 0

    energy = pd.read_parquet(run_folder / "energy")
    # a training row's time and energy describe the same runs: its window over its repeats
    (trained,) = energy[
        (energy["case_id"] == training["case_id"]) & (energy["window"] == 0)
    ].itertuples()
    repeats = training["train_repeats"]
    assert training["train_time_s"] == pytest.approx(trained.duration_s / repeats, rel=1e-9)
    assert training["train_energy_j"] == pytest.approx(trained.energy_j / repeats, rel=1e-9)
    windows = energy.groupby("case_id").size().to_dict()
    rounds = dict(
        zip(inference["case_id"], inference["repeats"] * inference["rounds"], strict=True)
    )
    assert windows == {**{case: n + 1 for case, n in rounds.items()}, training["case_id"]: 2}
    busy = energy[(energy["window"] >= 0) & (energy["case_id"] != training["case_id"])]
    # 5 windows of 1 s, split into the case's rounds: 5 s together per case
    assert (busy["duration_s"] >= 5.0 / busy["case_id"].map(rounds)).all()
    assert (busy.groupby("case_id")["duration_s"].sum() >= 5.0).all()

    samples = pd.read_parquet(run_folder / "samples")
    per_case = samples[samples["phase"] == "sample"].groupby("case_id").size()
    assert per_case.to_dict() == dict(
        zip(inference["case_id"], inference["sample_count"], strict=True)
    )
    warmups = samples[samples["phase"] == "warmup"].groupby("case_id").size()
    assert warmups.to_dict() == dict(
        zip(inference["case_id"], inference["warmup_calls"], strict=True)
    )


@pytest.mark.slow
def test_smoke_run_prints_a_summary_and_writes_a_report(smoke_run) -> None:  # type: ignore[no-untyped-def]
    done, out = smoke_run
    assert "benchsuite run summary" in done.stdout
    assert "4 ok, 1 skipped, 0 failed" in done.stdout
    html = (out / "h" / "index.html").read_text()
    assert "digits-cnn/fp32/cpu/single-stream/b1/t1" in html
    assert "estimated" in html


def test_list_shows_workloads_variants_and_suites(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--workloads", str(REPO / "workloads")]) == 0
    shown = capsys.readouterr().out
    for name in ("digits-cnn", "fp32", "bf16", "fp16", "smoke", "standard"):
        assert name in shown


def test_meters_explains_each_meter(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BENCHSUITE_POWERCAP_ROOT", str(tmp_path))
    assert main(["meters"]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "no RAPL zones under" in shown
    assert "NVML could not start" in shown or "nvidia-ml-py" in shown or "nvml │ yes" in shown
    assert "codecarbon" in shown and "estimate" in shown


def test_user_workloads_folder_and_suite_file(
    tmp_path: Path, tiny_workloads: Path, tiny_suite: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the suite asks for cuda too: pretend there is none, so GPU hosts get the same rows
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code = main(
        [
            "run",
            "--suite",
            str(tiny_suite),
            "--workloads",
            str(tiny_workloads),
            "--results",
            str(tmp_path / "r"),
            "--reports",
            str(tmp_path / "h"),
        ]
    )
    assert code == 0
    cases = pd.read_parquet(next((tmp_path / "r").iterdir()) / "cases")
    ok = cases[cases["status"] == "ok"]
    # the tiny suite's windows are too few and too short for the protocol: said, not hidden
    assert not ok["energy_valid"].any()
    # (in rounds: windows of a few ms, 0.25 s together, under the 5 s its 5 windows need)
    assert ok["energy_invalid_reason"].str.contains("together, under the minimum 5 s").all()
    status = dict(zip(cases["case_id"], cases["status"], strict=True))
    assert status == {
        "tiny-mlp/fp32/cpu/single-stream/b1/t1": "ok",
        "tiny-mlp/fp32/cuda/single-stream/b1/t1": "skipped",
        "tiny-mlp/bf16/cpu/single-stream/b1/t1": "ok",
        "tiny-mlp/bf16/cuda/single-stream/b1/t1": "skipped",
        "tiny-mlp/fp16/cpu/single-stream/b1/t1": "skipped",
        "tiny-mlp/fp16/cuda/single-stream/b1/t1": "skipped",
        "tiny-mlp/fp32/cpu/offline/b4": "ok",
    }


BAD_INPUTS = [
    (["run", "--suite", "nightlyy"], "--suite nightlyy: unknown suite"),
    (["run", "--suite", "{tmp}/bad.toml"], "bad.toml: not valid TOML"),
    (["run", "--suite", "{tmp}/missing.toml"], "missing.toml: no such file"),
    (
        ["run", "--suite", "{tmp}/unknown_workload.toml"],
        "unknown workload 'digits-cnm'; did you mean 'digits-cnn'?",
    ),
    (
        ["run", "--suite", "smoke", "--workloads", "{tmp}/nowhere"],
        "workloads folder {tmp}/nowhere does not exist",
    ),
    (
        ["run", "--suite", "smoke", "--results", "{tmp}/a-file"],
        "results folder {tmp}/a-file is not writable",
    ),
    (["report", "--results", "{tmp}/empty"], "--results {tmp}/empty: no runs found"),
]


@pytest.mark.parametrize(("argv", "expected"), BAD_INPUTS)
def test_bad_input_is_one_line_exit_2_no_traceback(
    tmp_path: Path, argv: list[str], expected: str
) -> None:
    (tmp_path / "bad.toml").write_text("[[matrix]\n")
    (tmp_path / "unknown_workload.toml").write_text('[[matrix]]\nworkloads = ["digits-cnm"]\n')
    (tmp_path / "a-file").write_text("")
    done = run_cli(*[arg.replace("{tmp}", str(tmp_path)) for arg in argv])
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("benchsuite: error: ")
    assert expected.replace("{tmp}", str(tmp_path)) in lines[0]
    assert "Traceback" not in done.stderr + done.stdout


def test_an_abbreviated_option_is_refused_not_guessed(tmp_path: Path) -> None:
    done = run_cli("run", "--suit", "smoke", "--results", str(tmp_path))
    assert done.returncode == 2
    assert "unrecognized arguments: --suit" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_failing_case_is_a_row_and_the_run_goes_on(tmp_path: Path, tiny_workloads: Path) -> None:
    folder = tmp_path / "workloads"
    folder.mkdir()
    # a helper module (leading "_": imported by workload files, never collected itself)
    (folder / "_tiny_base.py").write_text((tiny_workloads / "tiny_mlp.py").read_text())
    (folder / "broken.py").write_text(
        "from _tiny_base import TinyMLP\n\n\n"
        "class Broken(TinyMLP):\n"
        "    name = 'broken'\n\n"
        "    def example_batch(self, batch_size):\n"
        "        raise RuntimeError('input pipeline exploded')\n"
    )
    (folder / "fine.py").write_text(
        "from _tiny_base import TinyMLP\n\n\nclass Fine(TinyMLP):\n    name = 'fine'\n"
    )
    suite = tmp_path / "s.toml"
    suite.write_text(
        "[measure]\nwarmup_max_s = 0.1\nbudget_s = 0.1\nci_target_rel = 0.2\nenergy_windows = 1\nrepeats = 1\n"
        'energy_window_s = 0.02\nidle_s = 0.02\n[[matrix]]\nworkloads = ["broken", "fine"]\n'
    )
    done = run_cli(
        "run",
        "--suite",
        str(suite),
        "--workloads",
        str(folder),
        "--results",
        str(tmp_path / "r"),
        "--reports",
        str(tmp_path / "h"),
    )
    assert done.returncode == 1  # a failed case fails the command, after the whole run
    assert (
        "failed: broken/fp32/cpu/single-stream/b1: RuntimeError: input pipeline exploded"
        in done.stdout
    )
    cases = pd.read_parquet(next((tmp_path / "r").iterdir()) / "cases")
    assert dict(zip(cases["case_id"], cases["status"], strict=True)) == {
        "broken/fp32/cpu/single-stream/b1": "failed",
        "fine/fp32/cpu/single-stream/b1": "ok",
    }
    assert cases["error"].iloc[0] == "RuntimeError: input pipeline exploded"
    # the row keeps where it raised (the worker's traceback), and --in-process prints it
    traceback = cases.set_index("case_id").loc[
        "broken/fp32/cpu/single-stream/b1", "error_traceback"
    ]
    assert "broken.py" in traceback and "in example_batch" in traceback
    assert pd.isna(
        cases.set_index("case_id").loc["fine/fp32/cpu/single-stream/b1", "error_traceback"]
    )
    debugged = run_cli(
        "run",
        "--in-process",
        "--no-report",
        "--suite",
        str(suite),
        "--workloads",
        str(folder),
        "--results",
        str(tmp_path / "r2"),
    )
    assert debugged.returncode == 1
    assert "broken/fp32/cpu/single-stream/b1 failed:" in debugged.stderr
    assert "Traceback (most recent call last)" in debugged.stderr
    assert "input pipeline exploded" in debugged.stderr
