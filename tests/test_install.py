"""Installed as a user installs it: a wheel in a fresh virtual environment, run from an empty
folder far from the repository (no ./workloads, no source tree on the path). The session's smoke
run (``smoke_run`` in conftest.py) is that installed command's run."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import user_env


@pytest.mark.slow
def test_the_wheel_runs_list_and_the_smoke_suite_from_an_empty_folder(
    installed: tuple[Path, Path],
    smoke_run: tuple[subprocess.CompletedProcess[str], Path],
    tmp_path: Path,
) -> None:
    wheel, bin_folder = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert "benchsuite/standard_workloads/digits_cnn.py" in names
    assert "benchsuite/py.typed" in names  # type checkers read the installed package's hints
    assert not [name for name in names if "__pycache__" in name]

    def run(*command: str) -> str:
        done = subprocess.run(
            [str(bin_folder / command[0]), *command[1:]],
            cwd=tmp_path,
            env=user_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    assert list(tmp_path.iterdir()) == []  # an empty folder
    listing = run("benchsuite", "list")
    assert "digits-cnn" in listing and "standard" in listing and "smoke" in listing
    where = run("python", "-c", "import benchsuite; print(benchsuite.__file__)")
    assert str(bin_folder.parent) in where  # the installed package, not this checkout

    done, out = smoke_run
    assert done.returncode == 0, done.stderr[-3000:]
    (run_folder,) = (out / "r").iterdir()
    cases = pd.read_parquet(run_folder / "cases")
    assert (cases["status"] == "ok").sum() == 4 and (out / "h" / "index.html").is_file()
