"""The GitHub Actions examples, run as far as they run outside GitHub, so that they cannot rot."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, user_env

EXAMPLES = REPO / "examples" / "github-actions"


def _step(workflow: Path, name: str) -> dict[str, str]:
    jobs = yaml.safe_load(workflow.read_text())["jobs"]
    steps = [step for job in jobs.values() for step in job.get("steps", [])]
    return next(step for step in steps if step.get("name") == name)


@pytest.mark.slow
def test_the_nightly_install_step_works_as_written(tmp_path: Path) -> None:
    """The Install step, verbatim, in a job's working folder where the workflow's checkout of
    benchsuite (path .benchsuite) is this repository, in a fresh virtual environment (on top of
    this one's packages through a .pth file, so torch is not fetched again); then the installed
    command runs."""
    workflow = EXAMPLES / "nightly.yml"
    checkout = next(
        step
        for step in yaml.safe_load(workflow.read_text())["jobs"]["benchmark"]["steps"]
        if step.get("with", {}).get("path") == ".benchsuite"
    )
    assert checkout["uses"].startswith("actions/checkout@")
    (tmp_path / ".benchsuite").symlink_to(REPO)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=300)
    (site,) = (venv / "lib").glob("python3.*/site-packages")
    (site / "_this_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = user_env() | {"PATH": f"{venv / 'bin'}:{user_env()['PATH']}"}
    done = subprocess.run(
        ["bash", "-e", "-c", _step(workflow, "Install")["run"]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    listing = subprocess.run(
        [venv / "bin" / "benchsuite", "list"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert listing.returncode == 0 and "digits-cnn" in listing.stdout, listing.stderr[-2000:]
