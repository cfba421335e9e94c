from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# registered with pyarrow once, before pytester's sys.modules snapshots can drop and re-import it
import pandas.core.arrays.arrow.extension_types  # noqa: F401
import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session", autouse=True)
def _weights_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Trained weights go to a temporary cache (subprocesses inherit it), never to ~/.cache."""
    os.environ["BENCHSUITE_CACHE_DIR"] = str(tmp_path_factory.mktemp("weights"))


@pytest.fixture
def tiny_workloads() -> Path:
    return DATA / "tiny_workloads"


@pytest.fixture
def tiny_suite() -> Path:
    return DATA / "tiny.toml"


class FakeClock:
    """A clock in ns that only moves when told: each fake call advances it by its duration."""

    def __init__(self) -> None:
        self.now_ns = 0

    def __call__(self) -> int:
        return self.now_ns

    def advance(self, ns: int) -> None:
        self.now_ns += ns


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


pytest_plugins = ["pytester"]


def run_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """``python -m benchsuite ARGS`` in a subprocess, as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "benchsuite", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


TORCH_PIN = "torch==2.13.0"  # the CPU build tox.ini pins; the package itself asks for a range


def _checked(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
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


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """benchsuite as a user installs it: this checkout built into a wheel, installed into a fresh
    virtual environment. Returns (wheel, the venv's bin folder)."""
    root = tmp_path_factory.mktemp("install")
    _checked(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", root / "dist", REPO, cwd=root
    )
    (wheel,) = (root / "dist").glob("benchsuite-*.whl")
    _checked(sys.executable, "-m", "venv", root / "venv", cwd=root)
    _checked(root / "venv" / "bin" / "pip", "install", "-q", TORCH_PIN, wheel, cwd=root)
    return wheel, root / "venv" / "bin"


def user_env() -> dict[str, str]:
    """The environment of a user's shell: no source tree on the path, no active venv."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


@pytest.fixture(scope="session")
def smoke_run(
    tmp_path_factory: pytest.TempPathFactory, installed: tuple[Path, Path]
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """One real ``benchsuite run --suite smoke`` for the whole session, by the installed wheel's
    command in an empty folder: results in out/r, the report in out/h."""
    out = tmp_path_factory.mktemp("out")
    done = subprocess.run(
        [
            str(installed[1] / "benchsuite"),
            "run",
            "--suite",
            "smoke",
            "--results",
            "r",
            "--reports",
            "h",
        ],
        cwd=out,
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    return done, out
