"""Each case in its own worker process, with a timeout, as pyperf runs each benchmark.

A case that raises, segfaults, is killed by the out-of-memory killer or runs past its timeout
becomes a ``failed`` row that says which, and the run goes on. Workers are forked from a
``forkserver`` that has imported torch and benchsuite once, so a worker starts in milliseconds and
never inherits the parent's threads (forking a process that runs OpenMP threads can deadlock).
The worker rebuilds the workload from its source file and class name, so only plain data crosses
the process boundary.
"""

from __future__ import annotations

import contextlib
import ctypes
import inspect
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from benchsuite.case import Case
from benchsuite.errors import VariantUnavailable
from benchsuite.instruments.config import MeasureConfig
from benchsuite.results import CaseResult
from benchsuite.run.affinity import CpuSet, allowed_cpus, node_cpus, pin_process
from benchsuite.run.held_case import Readiness
from benchsuite.sources.spec import ModelSpec
from benchsuite.workload.base import Workload

# torch._dynamo too: torch imports it lazily on the first FLOP count or compile, which cost every
# case seconds (docs/measurement.md); it starts no thread, so the forkserver stays safe to fork.
# (transformers is not preloaded: importing it starts native threads, and a fork keeps none.)
PR_SET_PDEATHSIG = 1  # prctl(2): the signal this process gets when its parent dies
_PRELOAD = ["benchsuite.run.worker", "benchsuite.scenarios", "torch", "torch._dynamo"]


@dataclass(frozen=True)
class WorkerOutcome:
    result: CaseResult | None
    error: str | None
    traceback: str | None = None
    skipped: str | None = None
    """Why the case's variant could not be built for this model (:class:`VariantUnavailable`)."""


@dataclass(frozen=True)
class FileOrigin:
    """A workload class in a file: the worker imports the file and instantiates the class."""

    path: str
    class_name: str

    def build(self) -> Workload:
        from benchsuite.workload.discovery import import_workload_file

        workload: Workload = getattr(import_workload_file(Path(self.path)), self.class_name)()
        return workload


@dataclass(frozen=True)
class SpecOrigin:
    """A model named by the user: the worker loads it again from its spec."""

    spec: ModelSpec

    def build(self) -> Workload:
        from benchsuite.sources import build_workload

        return build_workload(self.spec)


class WorkloadOrigin(Protocol):
    """What a worker rebuilds a workload from: plain data that crosses the process boundary
    (:class:`FileOrigin`, :class:`SpecOrigin`, or one arm's code first on ``sys.path``:
    :class:`benchsuite.run.code_arms.ArmOrigin`)."""

    def build(self) -> Workload: ...


def workload_origin(workload: Workload) -> WorkloadOrigin | None:
    """What a worker can rebuild the workload from (only plain data crosses the process
    boundary), or ``None`` when it cannot (a class defined inside a function)."""
    spec = workload.rebuild_spec()
    if spec is not None:
        return SpecOrigin(spec)
    cls = type(workload)
    source = inspect.getsourcefile(cls)
    if source is None or "<locals>" in cls.__qualname__:
        return None
    return FileOrigin(source, cls.__name__)


def _context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


@contextlib.contextmanager
def _interrupt_after() -> Iterator[None]:
    """Hold a Ctrl-C that comes while a worker is being started until it has started. Starting
    sends the worker its case through a pipe; interrupted half way, the worker read half a
    message and printed a traceback beside the run's clean "resume with" line (seen once in CI:
    ``tests/test_faults.py``). Only the main thread can hold signals; elsewhere this does
    nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)
        if held:
            signal.raise_signal(signal.SIGINT)  # now, to whoever handled it before


def _child(
    conn: Connection,
    origin: WorkloadOrigin,
    case: Case,
    config: MeasureConfig,
    meter: str,
    environment: dict[str, str],
) -> None:
    _adopt_parent(environment)
    try:
        from benchsuite.instruments.meters import meter_for
        from benchsuite.scenarios import run_case

        workload = origin.build()
        result = run_case(case, workload, meter_for(meter, case.device), config)
        _reply(conn, ("ok", result))
    except VariantUnavailable as reason:
        _reply(conn, ("skipped", str(reason)))
    except BaseException as error:  # everything a case can raise becomes its row's error
        _reply(conn, ("error", (f"{type(error).__name__}: {error}", traceback.format_exc())))
    finally:
        conn.close()


def _adopt_parent(environment: dict[str, str]) -> None:
    """What every worker does first: take the parent's ``BENCHSUITE_*`` environment (the
    forkserver started with the environment of its first use), leave Ctrl-C to the parent, and
    die with it."""
    for key in [k for k in os.environ if k.startswith("BENCHSUITE_")]:
        del os.environ[key]
    os.environ.update(environment)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when the process that forked it dies. The forkserver exits
    when its own parent does (a Ray worker killed mid-case, say), so an orphaned worker does not
    go on measuring beside the next case. Elsewhere, the parent's kill on timeout still holds."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _reply(conn: Connection, message: tuple[str, Any]) -> None:
    """Send the result; if the parent has gone (Ctrl-C closed its end first), say nothing: a
    traceback from a worker nobody waits for is noise on the user's terminal."""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        conn.send(message)


def _death(exitcode: int | None) -> str:
    if exitcode is None:
        return "worker did not exit"
    if exitcode < 0:
        name = signal.Signals(-exitcode).name
        cause = {
            "SIGKILL": " (killed: the kernel's out-of-memory killer sends SIGKILL)",
            "SIGSEGV": " (segmentation fault)",
            "SIGABRT": " (aborted)",
        }.get(name, "")
        return f"worker died from {name}{cause}"
    return f"worker exited with code {exitcode} without a result"


def run_in_worker(
    origin: WorkloadOrigin, case: Case, config: MeasureConfig, meter: str, timeout_s: float
) -> WorkerOutcome:
    """Measure ``case`` in a fresh worker process; never raises for what the case does."""
    context = _context()
    receiver, sender = context.Pipe(duplex=False)
    environment = {k: v for k, v in os.environ.items() if k.startswith("BENCHSUITE_")}
    process = context.Process(
        target=_child,
        args=(sender, origin, case, config, meter, environment),
        name=f"benchsuite-worker {case.id}",
        daemon=True,
    )
    with _interrupt_after():
        process.start()
    sender.close()
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                process.kill()
                process.join()
                return WorkerOutcome(None, f"timed out after {timeout_s:g} s (case_timeout_s)")
            if receiver.poll(min(remaining, 0.5)):
                try:
                    status, payload = receiver.recv()
                except EOFError:  # the worker died before sending anything
                    process.join()
                    return WorkerOutcome(None, _death(process.exitcode))
                process.join()
                if status == "ok":
                    return WorkerOutcome(payload, None)
                if status == "skipped":
                    return WorkerOutcome(None, None, skipped=payload)
                message, where = payload
                return WorkerOutcome(None, message, where)
            if not process.is_alive():
                process.join()
                if receiver.poll(0):
                    continue
                return WorkerOutcome(None, _death(process.exitcode))
    except BaseException:
        process.kill()  # Ctrl-C or anything else in the parent: no orphan keeps measuring
        process.join()
        raise
    finally:
        receiver.close()


class SessionLost(Exception):
    """A session's worker failed or died between rounds (its message is the case's error)."""

    def __init__(self, message: str, where: str | None = None) -> None:
        super().__init__(message)
        self.where = where


def _session_child(
    conn: Connection,
    origin: WorkloadOrigin,
    case: Case,
    config: MeasureConfig,
    meter: str,
    first: bool,
    cpus: CpuSet | None,
    environment: dict[str, str],
) -> None:
    """Prepare the case on ``cpus``' NUMA node and measure it on ``cpus``
    (:mod:`benchsuite.run.affinity`), say ``ready``, then answer ``round`` requests until
    ``finish``."""
    _adopt_parent(environment)
    try:
        from benchsuite.instruments.meters import meter_for
        from benchsuite.run.held_case import InferenceSession

        if cpus is not None:
            pin_process(node_cpus(cpus, allowed_cpus()))
        session = InferenceSession(
            case, origin.build(), meter_for(meter, case.device), config, first, cpus
        )
        _reply(conn, ("ready", Readiness(most_rounds=session.most_rounds, cpus=session.cpus)))
        while True:
            command, argument = conn.recv()
            if command == "round":
                _reply(conn, ("round", session.round(*argument)))
            else:
                _reply(conn, ("done", session.finish()))
                return
    except VariantUnavailable as reason:
        _reply(conn, ("skipped", str(reason)))
    except EOFError:  # the coordinator went away
        pass
    except BaseException as error:
        _reply(conn, ("error", (f"{type(error).__name__}: {error}", traceback.format_exc())))
    finally:
        conn.close()


class SessionWorker:
    """A case held ready in its own worker process
    (:class:`benchsuite.run.held_case.InferenceSession`) that measures a round whenever asked, on
    ``cpus`` when given (:mod:`benchsuite.run.affinity`). Each request is bounded by the case's
    timeout; a worker that fails, dies or runs past it raises :class:`SessionLost` and is gone."""

    def __init__(
        self,
        origin: WorkloadOrigin,
        case: Case,
        config: MeasureConfig,
        meter: str,
        first: bool,
        cpus: CpuSet | None = None,
    ) -> None:
        context = _context()
        self._conn, child_end = context.Pipe(duplex=True)
        environment = {k: v for k, v in os.environ.items() if k.startswith("BENCHSUITE_")}
        self._process = context.Process(
            target=_session_child,
            args=(child_end, origin, case, config, meter, first, cpus, environment),
            name=f"benchsuite-session {case.id}",
            daemon=True,
        )
        self._timeout_s = config.case_timeout_s
        with _interrupt_after():
            self._process.start()
        child_end.close()

    def ready(self) -> Readiness:
        """Wait until the case is prepared: how many rounds its speed allows, or why its
        variant cannot be built here (:class:`~benchsuite.errors.VariantUnavailable`)."""
        status, payload = self._request(None)
        if status == "skipped":
            return Readiness(skipped=payload)
        readiness: Readiness = payload
        return readiness

    def round(self, index: int, rounds: int, window: bool = True) -> Any:
        return self._request(("round", (index, rounds, window)))[1]

    def finish(self) -> Any:
        result = self._request(("finish", None))[1]
        self._process.join()
        return result

    def kill(self) -> None:
        if self._process.is_alive():
            self._process.kill()
        self._process.join()
        self._conn.close()

    def _request(self, message: tuple[str, Any] | None) -> tuple[str, Any]:
        try:
            if message is not None:
                self._conn.send(message)
            if not self._conn.poll(self._timeout_s):
                raise SessionLost(f"timed out after {self._timeout_s:g} s (case_timeout_s)")
            status, payload = self._conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError):
            self._process.join(5)
            raise SessionLost(_death(self._process.exitcode)) from None
        except BaseException:
            self.kill()
            raise
        if status == "error":
            self.kill()
            raise SessionLost(*payload)
        return status, payload
