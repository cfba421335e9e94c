"""The estimate for a server that benchsuite does not run in its own process: the CPU time of the
server's process tree, not the client's.

An endpoint's work happens in another process (uvicorn's workers, an engine's scheduler and its
model runners). Without an energy counter, :class:`~benchsuite.instruments.meters.estimate.
EstimateMeter` would charge the load generator's CPU time: the wrong process. This meter finds the
server by the port it listens on (or its PID), and charges, over the window:

    energy_j = tree_cpu_time_s × cpu_w_per_core + tree_rss_gib × memory_w_per_gib × wall_s

the same model and constants as the process estimate, over the server's process and all its
descendants. A process that starts inside the window is charged from zero; one that exits inside
it loses its last CPU time (psutil cannot read a process that is gone), which the reading names.
"""

from __future__ import annotations

import os
import time

import psutil

from benchsuite.instruments.meters.base import ESTIMATED, EnergyReading, Meter, MeterInfo
from benchsuite.instruments.meters.estimate import EstimateMeter

_GIB = 1024**3


def listening_pid(port: int) -> int | None:
    """The PID of the process listening on TCP ``port`` on this machine, or ``None``."""
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return None
    for connection in connections:
        if (
            connection.status == psutil.CONN_LISTEN
            and connection.laddr
            and connection.laddr.port == port
            and connection.pid is not None
        ):
            return connection.pid
    return None


def server_root(pid: int) -> psutil.Process:
    """The top of the server's tree: ``pid``'s ancestors up to the first that is not the same
    program (a worker listening for its parent, as uvicorn's and vLLM's API servers do, is
    charged with its parent and siblings). Never the client's own ancestors: a server that
    benchsuite or a test started is a child of the client's tree, not a part of it."""
    process = psutil.Process(pid)
    own = {ancestor.pid for ancestor in psutil.Process().parents()} | {os.getpid()}
    name = process.name()
    while True:
        parent = process.parent()
        if parent is None or parent.pid <= 1 or parent.pid in own or parent.name() != name:
            return process
        process = parent


def tree(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _cpu_s(process: psutil.Process) -> float | None:
    try:
        times = process.cpu_times()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    return times.user + times.system


def _rss(process: psutil.Process) -> int:
    try:
        return int(process.memory_info().rss)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return 0


class ProcessTreeEstimate(Meter):
    """CPU time × per-core power plus resident memory × per-GiB power, for a server's process
    tree (found again at each window's end, so that workers started meanwhile are charged)."""

    source = "estimate"
    kind = ESTIMATED
    domains = ("server-cpu", "server-memory")
    resolution_s = 0.01  # the kernel's CPU time accounting: one clock tick

    def __init__(self, root_pid: int, per_core: EstimateMeter | None = None) -> None:
        self.root = psutil.Process(root_pid)
        self.model = per_core or EstimateMeter()  # its constants and its formula
        self.cpu_w_per_core = self.model.cpu_w_per_core
        self.memory_w_per_gib = self.model.memory_w_per_gib
        self._start: dict[int, float] = {}
        self._start_wall_ns = 0

    def info(self) -> MeterInfo:
        return MeterInfo(
            self.source,
            self.kind,
            True,
            f"estimate: CPU time of the server's process tree (PID {self.root.pid}, "
            f"{self.root.name()}) x {self.cpu_w_per_core:g} W/core + its RSS x "
            f"{self.memory_w_per_gib:g} W/GiB; the client is not charged",
            self.domains,
            self.resolution_s,
        )

    def start(self) -> None:
        self._start = {
            process.pid: cpu for process in tree(self.root) if (cpu := _cpu_s(process)) is not None
        }
        self._start_wall_ns = time.perf_counter_ns()

    def stop(self) -> EnergyReading:
        wall_s = (time.perf_counter_ns() - self._start_wall_ns) / 1e9
        processes = tree(self.root)
        cpu_s, rss = 0.0, 0
        seen: set[int] = set()
        for process in processes:
            now = _cpu_s(process)
            if now is None:
                continue
            seen.add(process.pid)
            cpu_s += now - self._start.get(process.pid, 0.0)
            rss += _rss(process)
        gone = sorted(set(self._start) - seen)
        cpu_j, memory_j = self.model.charge(cpu_s, rss / _GIB, wall_s)
        invalid = (
            "the server's process tree is gone: it stopped during the window"
            if not processes
            else ""
        )
        model = (
            f"server process tree (PID {self.root.pid}, {len(seen)} processes): "
            f"cpu_time_s={cpu_s:.4f} x cpu_w_per_core={self.cpu_w_per_core:g} + rss_gib="
            f"{rss / _GIB:.3f} x memory_w_per_gib={self.memory_w_per_gib:g} x wall_s={wall_s:.4f}"
        )
        if gone:
            model += f"; {len(gone)} processes exited in the window (their last CPU time unread)"
        return EnergyReading(
            self.source,
            self.kind,
            self.domains,
            cpu_j + memory_j,
            wall_s,
            self.resolution_s,
            {"server-cpu": cpu_j, "server-memory": memory_j},
            model,
            invalid,
        )
