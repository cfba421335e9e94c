"""Fault injection: workers that crash, hang or are killed; a runner killed half-way and resumed;
Ctrl-C; two runs at once; damaged files; bad input. Every test counts the rows on disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from benchsuite.run.worker import _interrupt_after
from tests.conftest import HANG_GUARD_S, REPO, run_cli, sigint_as_from_a_terminal

FAULTS = """
import os
import signal
import time

from _tiny_base import TinyMLP


class Fine(TinyMLP):
    name = "fine"


class Raises(TinyMLP):
    name = "raises"

    def example_batch(self, batch_size):
        raise RuntimeError("input pipeline exploded")


class Segfaults(TinyMLP):
    name = "segfaults"

    def example_batch(self, batch_size):
        os.kill(os.getpid(), signal.SIGSEGV)


class OutOfMemory(TinyMLP):
    name = "oom"

    def example_batch(self, batch_size):
        os.kill(os.getpid(), signal.SIGKILL)  # what the kernel's OOM killer does


class Hangs(TinyMLP):
    name = "hangs"

    def example_batch(self, batch_size):
        time.sleep(60)
"""

MEASURE = (
    "[measure]\nwarmup_max_s = 0.1\nbudget_s = 0.2\nci_target_rel = 0.5\nrepeats = 1\n"
    "energy_windows = 1\nenergy_window_s = 0.05\nidle_s = 0.05\n"
)


@pytest.fixture
def fault_workloads(tmp_path: Path) -> Path:
    folder = tmp_path / "workloads"
    folder.mkdir()
    (folder / "_tiny_base.py").write_text(
        (REPO / "tests/data/tiny_workloads/tiny_mlp.py").read_text()
    )
    (folder / "faults.py").write_text(FAULTS)
    return folder


def _suite(tmp_path: Path, workloads: list[str], extra: str = "", batches: int = 1) -> Path:
    path = tmp_path / "suite.toml"
    sizes = ", ".join(str(b) for b in range(1, batches + 1))
    names = ", ".join(f'"{w}"' for w in workloads)
    path.write_text(
        MEASURE + extra + f'[[matrix]]\nworkloads = [{names}]\nscenario = "offline"\n'
        f"batch_sizes = [{sizes}]\n"
    )
    return path


def _rows(results: Path) -> pd.DataFrame:
    frames = [
        pd.read_parquet(run / "cases")
        for run in sorted(results.iterdir())
        if (run / "cases").is_dir()
    ]
    return pd.concat(frames) if frames else pd.DataFrame()


def test_each_worker_failure_is_a_row_and_the_run_goes_on(
    tmp_path: Path, fault_workloads: Path
) -> None:
    # the hanging case proves the timeout; 10 s leaves the other cases time to fail by
    # themselves on a loaded machine (at 3 s, a worker that raised at once was once cut off)
    suite = _suite(
        tmp_path, ["raises", "segfaults", "oom", "hangs", "fine"], "case_timeout_s = 10\n"
    )
    done = run_cli(
        "run",
        "--suite",
        str(suite),
        "--workloads",
        str(fault_workloads),
        "--results",
        str(tmp_path / "r"),
        "--no-report",
    )
    assert done.returncode == 1  # failed cases fail the command, after the whole run
    rows = _rows(tmp_path / "r").set_index("workload")
    assert len(rows) == 5
    assert rows.loc["raises", "error"] == "RuntimeError: input pipeline exploded"
    assert rows.loc["segfaults", "error"] == "worker died from SIGSEGV (segmentation fault)"
    assert rows.loc["oom", "error"].startswith(
        "worker died from SIGKILL (killed: the kernel's out-of-memory"
    )
    assert rows.loc["hangs", "error"] == "timed out after 10 s (case_timeout_s)"
    assert (rows.drop("fine")["status"] == "failed").all()
    assert rows.loc["fine", "status"] == "ok"


def test_in_process_mode_still_reports_exceptions(tmp_path: Path, fault_workloads: Path) -> None:
    suite = _suite(tmp_path, ["raises", "fine"])
    done = run_cli(
        "run",
        "--in-process",
        "--suite",
        str(suite),
        "--workloads",
        str(fault_workloads),
        "--results",
        str(tmp_path / "r"),
        "--no-report",
    )
    assert done.returncode == 1
    assert dict(zip(*(_rows(tmp_path / "r")[c] for c in ("workload", "status")), strict=True)) == {
        "raises": "failed",
        "fine": "ok",
    }


def _start_run(
    tmp_path: Path, suite: Path, workloads: Path, results: Path
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchsuite",
            "run",
            "--suite",
            str(suite),
            "--workloads",
            str(workloads),
            "--results",
            str(results),
            "--no-report",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=sigint_as_from_a_terminal,
    )


def _wait_for_rows(results: Path, count: int, runner: subprocess.Popen[str]) -> Path:
    """The run folder once ``count`` rows are written; fails at once if the runner exits first."""
    deadline = time.monotonic() + HANG_GUARD_S
    while time.monotonic() < deadline:
        runs = [p for p in results.glob("*/cases")] if results.exists() else []
        if runs and len(list(runs[0].glob("*.parquet"))) >= count:
            return runs[0].parent
        if runner.poll() is not None:
            raise AssertionError(f"the run exited ({runner.returncode}) before {count} rows")
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} rows after {HANG_GUARD_S:g} s")


def test_sigkill_half_way_keeps_finished_cases_and_resume_completes_the_run(
    tmp_path: Path, fault_workloads: Path
) -> None:
    suite = _suite(tmp_path, ["fine"], batches=8)
    results = tmp_path / "r"
    runner = _start_run(tmp_path, suite, fault_workloads, results)
    run_folder = _wait_for_rows(results, 3, runner)
    os.killpg(runner.pid, signal.SIGKILL)  # the runner and its worker, no chance to clean up
    runner.communicate()
    before = pd.read_parquet(run_folder / "cases")
    assert 3 <= len(before) < 8 and before["case_id"].is_unique  # every finished row is readable

    done = run_cli(
        "run",
        "--resume",
        run_folder.name,
        "--results",
        str(results),
        "--no-report",
        "--suite",
        str(suite),
        "--workloads",
        str(fault_workloads),
    )
    assert done.returncode == 0, done.stderr
    after = pd.read_parquet(run_folder / "cases")
    assert len(after) == 8 and after["case_id"].is_unique
    assert set(before["case_id"]) <= set(after["case_id"])
    assert [p.name for p in results.iterdir()] == [run_folder.name]  # still one run
    assert '"state": "complete"' in (run_folder / "run.json").read_text()


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path: Path, fault_workloads: Path) -> None:
    suite = _suite(tmp_path, ["fine"], batches=60)  # far more than can finish before the signal
    results = tmp_path / "r"
    runner = _start_run(tmp_path, suite, fault_workloads, results)
    run_folder = _wait_for_rows(results, 2, runner)
    runner.send_signal(signal.SIGINT)
    _, stderr = runner.communicate(timeout=HANG_GUARD_S)
    assert runner.returncode == 130
    assert f"benchsuite run --resume {run_folder.name}" in stderr
    assert "Traceback" not in stderr
    assert '"state": "interrupted"' in (run_folder / "run.json").read_text()
    rows = pd.read_parquet(run_folder / "cases")
    assert 2 <= len(rows) < 60


def test_two_runs_into_one_folder_at_once(tmp_path: Path, fault_workloads: Path) -> None:
    suite = _suite(tmp_path, ["fine"], batches=3)
    results = tmp_path / "r"
    first = _start_run(tmp_path, suite, fault_workloads, results)
    second = _start_run(tmp_path, suite, fault_workloads, results)
    first.communicate(timeout=300)
    second.communicate(timeout=300)
    assert first.returncode == 0 and second.returncode == 0
    runs = sorted(results.iterdir())
    assert len(runs) == 2
    for run in runs:
        assert len(pd.read_parquet(run / "cases")) == 3


def test_a_damaged_file_is_named_and_skipped_or_refused(
    tmp_path: Path, fault_workloads: Path
) -> None:
    suite = _suite(tmp_path, ["fine"], batches=3)
    results = tmp_path / "r"
    assert (
        run_cli(
            "run",
            "--suite",
            str(suite),
            "--workloads",
            str(fault_workloads),
            "--results",
            str(results),
            "--no-report",
        ).returncode
        == 0
    )
    (run,) = results.iterdir()
    damaged = run / "cases" / "0002.parquet"
    damaged.write_bytes(damaged.read_bytes()[:40])  # truncated, as by a full disk
    (run / "run-cases.parquet").unlink()  # force the per-case files to be read

    done = run_cli("report", "--results", str(results), "--out", str(tmp_path / "h"))
    assert done.returncode == 0
    assert f"benchsuite: warning: {damaged} is not a readable Parquet file" in done.stderr
    html = (tmp_path / "h" / "index.html").read_text()
    assert "fine/fp32/cpu/offline/b1" in html and "fine/fp32/cpu/offline/b3" in html

    strict = run_cli("report", "--strict", "--results", str(results), "--out", str(tmp_path / "h2"))
    assert strict.returncode == 2
    assert (
        f"{damaged} is not a readable Parquet file" in strict.stderr and "--strict" in strict.stderr
    )
    gate = run_cli(
        "gate", "--results", str(results), "--baseline", run.name, "--candidate", run.name
    )
    assert gate.returncode == 0 and f"warning: {damaged}" in gate.stderr


@pytest.mark.parametrize(
    ("setup", "argv", "expected"),
    [
        (
            MEASURE.replace("budget_s = 0.2", "budget_s = -1"),
            [],
            "budget_s must be a positive number, got -1",
        ),
        (
            "[measure]\nbudgt_s = 1\n",
            [],
            "unknown key 'budgt_s' in [measure]; did you mean 'budget_s'?",
        ),
        (None, ["--case-timeout", "-5"], "--case-timeout -5.0: must be a positive number"),
        (
            None,
            ["--resume", "20990101T000000Z-abcdef"],
            "--resume 20990101T000000Z-abcdef: no such run",
        ),
        (None, ["--reports", "{tmp}/file"], "reports folder {tmp}/file is not writable"),
    ],
)
def test_bad_input_is_one_line_with_exit_2(
    tmp_path: Path, fault_workloads: Path, setup: str | None, argv: list[str], expected: str
) -> None:
    (tmp_path / "file").write_text("")
    suite = tmp_path / "s.toml"
    suite.write_text((setup or MEASURE) + '[[matrix]]\nworkloads = ["fine"]\n')
    args = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    done = run_cli(
        "run",
        "--suite",
        str(suite),
        "--workloads",
        str(fault_workloads),
        "--results",
        str(tmp_path / "r"),
        *args,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert expected.replace("{tmp}", str(tmp_path)) in lines[0]


def test_a_ctrl_c_while_a_worker_starts_is_held_until_it_has_started() -> None:
    reached = []

    def start() -> None:
        with _interrupt_after():
            signal.raise_signal(signal.SIGINT)
            reached.append("the rest of the start")  # not cut off half way

    # Python's own handler, as in `benchsuite run` (pytest-xdist's workers ignore SIGINT)
    outer = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            start()
        assert reached == ["the rest of the start"]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
    finally:
        signal.signal(signal.SIGINT, outer)
