"""The pytest plugin, black-box through pytester: run pytest, read its output and files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from benchsuite.cli import main

FAST = [
    "--benchsuite-energy-windows",
    "2",
    "--benchsuite-window-s",
    "0.05",
    "-p",
    "no:cacheprovider",
]

USER_TEST = """
import pytest
import torch

model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 4)).eval()


@pytest.mark.parametrize("batch", [1, 8])
def test_my_model(energy_benchmark, batch):
    x = torch.randn(batch, 32)
    with torch.inference_mode():
        out = energy_benchmark(model, x)
    assert out.shape == (batch, 4)


def test_fails(energy_benchmark):
    energy_benchmark(lambda: 1 / 0)


@pytest.mark.skip(reason="not today")
def test_skipped(energy_benchmark):
    energy_benchmark(lambda: None)


def test_plain():
    assert True
"""


@pytest.fixture
def user_test(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A user's test file, run by a pytest of its own. When this suite itself runs under
    pytest-xdist, the worker's variables are removed: the user's pytest is not an xdist worker
    (pytest-benchmark would otherwise disable itself there)."""
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile(test_user=USER_TEST)
    return pytester


def test_json_extra_info_and_a_parquet_row_the_report_reads(
    user_test: pytest.Pytester, tmp_path: Path
) -> None:
    results = tmp_path / "r"
    report = tmp_path / "bench.json"
    outcome = user_test.runpytest_subprocess(
        f"--benchsuite-results={results}",
        f"--benchmark-json={report}",
        "--benchsuite-meter=estimate",  # the rows' kind is asserted below
        *FAST,
    )
    outcome.assert_outcomes(passed=3, failed=1, skipped=1)
    benchmarks = {b["name"]: b for b in json.loads(report.read_text())["benchmarks"]}
    assert set(benchmarks) == {"test_my_model[1]", "test_my_model[8]"}
    info = benchmarks["test_my_model[8]"]["extra_info"]
    assert info["energy_kind"] == "estimated" and info["energy_source"] == "estimate"
    assert info["energy_per_call_j"] > 0
    assert info["energy_per_call_j"] == pytest.approx(
        info["energy_per_sample_j"] * 1
    )  # batch_size 1 by default
    assert info["flops_per_call"] == 2 * 8 * (32 * 64 + 64 * 4)
    assert info["peak_rss_bytes"] > 0 and info["energy_calls"] > 0
    assert info["benchsuite_case_id"] == "test_user.test_my_model/8/cpu/single-stream/b1"

    (run,) = results.iterdir()
    cases = pd.read_parquet(run / "cases")
    assert sorted(cases["case_id"]) == [
        "test_user.test_my_model/1/cpu/single-stream/b1",
        "test_user.test_my_model/8/cpu/single-stream/b1",
    ]
    median_s = benchmarks["test_my_model[8]"]["stats"]["median"]
    row = cases.set_index("variant").loc["8"]
    assert row["latency_p50_ms"] == pytest.approx(median_s * 1e3, rel=1e-6)
    assert row["energy_kind"] == "estimated"
    assert row["sample_count"] == benchmarks["test_my_model[8]"]["stats"]["rounds"]
    # --reports, as benchsuite run names it, is the same as --out
    assert main(["report", "--results", str(results), "--reports", str(tmp_path / "h")]) == 0
    assert (
        "test_user.test_my_model/8/cpu/single-stream/b1"
        in (tmp_path / "h" / "index.html").read_text()
    )


def test_benchmark_disable_runs_once_and_measures_nothing(
    user_test: pytest.Pytester, tmp_path: Path
) -> None:
    results = tmp_path / "r"
    outcome = user_test.runpytest_subprocess(
        "--benchmark-disable", f"--benchsuite-results={results}", *FAST
    )
    outcome.assert_outcomes(passed=3, failed=1, skipped=1)
    assert not results.exists()


def test_benchmark_skip_and_only(user_test: pytest.Pytester) -> None:
    user_test.runpytest_subprocess("--benchmark-skip", *FAST).assert_outcomes(passed=1, skipped=4)
    user_test.runpytest_subprocess("--benchmark-only", *FAST).assert_outcomes(
        passed=2, failed=1, skipped=2
    )


def test_autosave_and_compare(user_test: pytest.Pytester) -> None:
    user_test.runpytest_subprocess("--benchmark-autosave", "-k", "my_model", *FAST).assert_outcomes(
        passed=2
    )
    saved = list(Path(user_test.path / ".benchmarks").rglob("*.json"))
    assert len(saved) == 1
    assert "energy_per_call_j" in json.loads(saved[0].read_text())["benchmarks"][0]["extra_info"]
    compared = user_test.runpytest_subprocess(
        "--benchmark-compare", "--benchmark-compare-fail=median:10000%", "-k", "my_model", *FAST
    )
    compared.assert_outcomes(passed=2)
    assert "0001" in compared.stdout.str()


def test_under_xdist_nothing_is_measured_as_pytest_benchmark_does(
    user_test: pytest.Pytester, tmp_path: Path
) -> None:
    pytest.importorskip("xdist")
    results = tmp_path / "r"
    outcome = user_test.runpytest_subprocess("-n", "2", f"--benchsuite-results={results}", *FAST)
    outcome.assert_outcomes(passed=3, failed=1, skipped=1)
    assert (
        "Benchmarks are automatically disabled because xdist plugin is active"
        in outcome.stdout.str() + outcome.stderr.str()
    )
    assert not results.exists()


def test_standard_workloads_run_as_pytest_benchmarks_with_case_ids(tmp_path: Path) -> None:
    import subprocess
    import sys

    repo = Path(__file__).resolve().parent.parent
    report = tmp_path / "b.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "workloads/",
            "--benchmark-only",
            "-q",
            "-k",
            "digits-cnn and (fp32 or fp16) and cpu and not weights",  # not fp16-weights
            f"--benchmark-json={report}",
            *FAST,
        ],
        cwd=repo,
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST_")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    assert "1 passed, 1 skipped" in done.stdout
    (benchmark,) = json.loads(report.read_text())["benchmarks"]
    assert benchmark["param"] == "digits-cnn/fp32/cpu/single-stream/b1"
    assert benchmark["extra_info"]["benchsuite_case_id"] == "digits-cnn/fp32/cpu/single-stream/b1"
