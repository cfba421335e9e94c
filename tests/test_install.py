"""Installed as a user installs it: a wheel in a fresh virtual environment, run from an empty
folder far from the repository (no ./workloads, no source tree on the path)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parent.parent
TORCH_PIN = "torch==2.13.0"  # the CPU build tox.ini pins; the package itself asks for a range


def _run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, f"{command}: {done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.mark.slow
def test_the_wheel_runs_list_and_the_smoke_suite_from_an_empty_folder(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, REPO, cwd=tmp_path)
    (wheel,) = dist.glob("benchsuite-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "benchsuite/standard_workloads/digits_cnn.py" in names
    assert not [name for name in names if "__pycache__" in name]

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    _run(venv / "bin" / "pip", "install", "-q", TORCH_PIN, wheel, cwd=tmp_path)

    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    listing = _run(venv / "bin" / "benchsuite", "list", cwd=empty, env=env)
    assert "digits-cnn" in listing and "standard" in listing and "smoke" in listing
    _run(
        venv / "bin" / "benchsuite",
        "run",
        "--suite",
        "smoke",
        "--results",
        "r",
        "--reports",
        "h",
        cwd=empty,
        env=env,
    )
    (run,) = (empty / "r").iterdir()
    cases = pd.read_parquet(run / "cases")
    assert set(cases["status"]) == {"ok", "skipped"} and (cases["status"] == "ok").sum() == 4
    assert (empty / "h" / "index.html").is_file()
    # the installed package ran, not this checkout
    where = _run(
        venv / "bin" / "python",
        "-c",
        "import benchsuite; print(benchsuite.__file__)",
        cwd=empty,
        env=env,
    )
    assert str(venv) in where
