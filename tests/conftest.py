from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# registered with pyarrow once, before pytester's sys.modules snapshots can drop and re-import it
import pandas.core.arrays.arrow.extension_types  # noqa: F401
import pytest

from tests.host import counters, probes

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


def pytest_configure(config: pytest.Config) -> None:
    """The second pass dresses this machine as a host with counters; the first records which
    tests ask the host (tests/host/)."""
    scratch = Path(tempfile.mkdtemp(prefix="benchsuite-host-"))
    log = os.environ.get(probes.LOG_ENV)
    if log and not hasattr(config, "workerinput"):  # the controller starts this run's log
        Path(log).parent.mkdir(parents=True, exist_ok=True)
        Path(log).write_text("")
    if os.environ.get(counters.HOST_ENV) == "counters":
        counters.dress_as_host_with_counters(scratch)
    probes.start_recording(scratch)


_PROBING_FIXTURES: set[str] = set()


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef: Any, request: pytest.FixtureRequest) -> Iterator[None]:
    recorder = probes.RECORDER
    if recorder is None:
        yield
        return
    asked_before = recorder.take()
    yield
    if recorder.take():
        _PROBING_FIXTURES.add(fixturedef.argname)
        asked_before = True
    recorder.asked = asked_before  # the test that set the fixture up asked too


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    recorder = probes.RECORDER
    if recorder is not None:
        recorder.take()
    yield
    if recorder is not None and (
        recorder.take() or _PROBING_FIXTURES.intersection(getattr(item, "fixturenames", ()))
    ):
        probes.record(item.nodeid)


def shared_folder(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """This session's temporary root, which pytest-xdist's workers share (each worker's own
    base folder lies inside it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if hasattr(request.config, "workerinput") else base


@contextlib.contextmanager
def made_once(folder: Path) -> Iterator[bool]:
    """Yields True to the one process (of the xdist workers) that must make ``folder``; the others
    wait on a lock until it is made and get False. A folder is made once per session."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.with_name(folder.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = folder / ".made"
        if done.exists():
            probes.note_shared(f"{folder.name}, made by another worker")
            yield False
            return
        folder.mkdir(exist_ok=True)
        yield True
        done.touch()


@pytest.fixture(scope="session", autouse=True)
def _weights_cache(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> None:
    """Trained weights go to a temporary cache (subprocesses inherit it), never to ~/.cache.
    Under pytest-xdist the workers share one (the cache writes each file once, by rename), so
    the standard classifiers train once per session, not once per worker."""
    folder = shared_folder(tmp_path_factory, request) / "weights"
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["BENCHSUITE_CACHE_DIR"] = str(folder)


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

HANG_GUARD_S = 600.0
"""The longest any test waits for something to happen. Tests wait on events (a file, a port, a
process's exit); a wait this long is a hang, never a slow machine: a tighter deadline fails on a
loaded runner (a 120 s one did, on a fresh clone under load)."""


def sigint_as_from_a_terminal() -> None:
    """A ``preexec_fn`` for a run a test stops with SIGINT, as Ctrl-C from a terminal: a test
    suite started in the background (``cmd &`` in a script) inherits SIGINT ignored, and Python
    then never turns it into KeyboardInterrupt (the run would go on to its end)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


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
def installed(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> tuple[Path, Path]:
    """benchsuite as a user installs it: this checkout built into a wheel, installed into a fresh
    virtual environment, once per session (xdist workers share it). Returns (wheel, the venv's
    bin folder)."""
    root = shared_folder(tmp_path_factory, request) / "install"
    with made_once(root) as making:
        if making:
            _checked(
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "-q",
                "-w",
                root / "dist",
                REPO,
                cwd=root,
            )
            (wheel,) = (root / "dist").glob("benchsuite-*.whl")
            _checked(sys.executable, "-m", "venv", root / "venv", cwd=root)
            _checked(root / "venv" / "bin" / "pip", "install", "-q", TORCH_PIN, wheel, cwd=root)
    (wheel,) = (root / "dist").glob("benchsuite-*.whl")
    return wheel, root / "venv" / "bin"


def user_env() -> dict[str, str]:
    """The environment of a user's shell: no source tree on the path, no active venv."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


@pytest.fixture(scope="session")
def smoke_run(
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
    installed: tuple[Path, Path],
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """One real ``benchsuite run --suite smoke --meter estimate`` for the whole session (xdist
    workers share it), by the installed wheel's command in an empty folder: results in out/r, the
    report in out/h."""
    out = shared_folder(tmp_path_factory, request) / "smoke"
    command = [str(installed[1] / "benchsuite"), "run", "--suite", "smoke"]
    command += ["--results", "r", "--reports", "h", "--benchmark-json", "pytest-benchmark.json"]
    # the tests read the estimate's labels in its rows and report: on a host with RAPL (or a
    # GPU) the default meter would measure instead, so the run names its meter
    command += ["--meter", "estimate"]
    with made_once(out) as making:
        if making:
            done = subprocess.run(
                command, cwd=out, env=user_env(), capture_output=True, text=True, timeout=600
            )
            (out / ".returncode").write_text(str(done.returncode))
            (out / ".stdout").write_text(done.stdout)
            (out / ".stderr").write_text(done.stderr)
    done = subprocess.CompletedProcess(
        command,
        int((out / ".returncode").read_text()),
        (out / ".stdout").read_text(),
        (out / ".stderr").read_text(),
    )
    return done, out


def tiny_llama() -> Any:
    """A one-layer Llama from a config (random weights, 64-token vocabulary): a causal LM with
    transformers' forward signature, built in milliseconds."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    return LlamaForCausalLM(config)
