"""The GitHub Actions examples, run as far as they run outside GitHub, so that they cannot rot."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, user_env
from tests.user_code import SUITE, write_arm

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


@pytest.mark.slow
def test_the_pull_request_steps_run_as_written(tmp_path: Path) -> None:
    """The pull-request example's measuring and verdict steps, verbatim, in a job folder where
    the checkouts of base and head (paths base and head) are two versions of a user's code,
    the head's slower: the verdict step fails the job (exit 1) and leaves the summary that the
    next step posts, and the job summary has it too."""
    workflow = EXAMPLES / "pull-request.yml"
    document = yaml.safe_load(workflow.read_text())
    paths = {step.get("with", {}).get("path") for step in document["jobs"]["ab"]["steps"]}
    assert {"base", "head", ".benchsuite"} <= paths
    suite = document["env"]["SUITE"]
    for name, layers in (("base", 3), ("head", 9)):
        root = write_arm(tmp_path / name, layers, name)
        (root / suite).parent.mkdir(parents=True, exist_ok=True)
        (root / suite).write_text(SUITE)
    summary = tmp_path / "summary.md"
    env = user_env() | {
        "PATH": f"{Path(sys.executable).parent}:{user_env()['PATH']}",
        "SUITE": suite,
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    outcomes = {}
    for name in ("Measure base and head side by side", "Verdict"):
        done = subprocess.run(
            ["bash", "-e", "-c", _step(workflow, name)["run"]],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        outcomes[name] = done.returncode
        assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    assert outcomes == {"Measure base and head side by side": 0, "Verdict": 1}
    posted = _step(workflow, "Post the verdict on the pull request")["run"]
    assert "--body-file gate.md" in posted
    assert "regression" in (tmp_path / "gate.md").read_text()
    assert summary.read_text() == (tmp_path / "gate.md").read_text()
    page = (tmp_path / "ab-report" / "index.html").read_text()
    assert "latency, candidate / baseline" in page and "A/B run" in page
