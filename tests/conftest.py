from __future__ import annotations

import os
from pathlib import Path

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
