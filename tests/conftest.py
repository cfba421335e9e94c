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


@pytest.fixture(scope="session")
def smoke_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """One real ``benchsuite run --suite smoke`` for the whole session: results in out/r,
    the report in out/h."""
    out = tmp_path_factory.mktemp("out")
    done = run_cli(
        "run", "--suite", "smoke", "--results", str(out / "r"), "--reports", str(out / "h")
    )
    return done, out
