"""Which CPUs a comparison group's worker processes run on: the same ones for every member.

A ratio between a group's variants cancels what touches both alike, and a shared machine's cores
are not alike: how fast a core runs one variant relative to another differs from core to core,
and drifts. So every process of a group, in every repeat, runs on the same CPUs: the last
``threads`` of those this process may use (CPU 0 takes more of the machine's housekeeping).

A worker prepares its case (builds the variant, compiles or exports it) on every allowed CPU of
the NUMA node that holds its measuring CPUs, and narrows to those before its first timed call:
the model's memory is on the node it is measured from, and a compile keeps its parallel workers.

What was measured, and which of these reasons are presumed: docs/measurement.md, "Rounds,
repeats and which interval a row carries" (``benchmarks/bench_cores.py``, ``bench_drift.py``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path

NUMA_NODES = Path("/sys/devices/system/node")

CpuSet = tuple[int, ...]
"""CPU numbers, ascending, as ``os.sched_getaffinity`` counts them."""


def allowed_cpus() -> CpuSet:
    """The CPUs this process may run on (a ``taskset`` or container's limit included); empty
    where the platform cannot say (no ``sched_getaffinity``: macOS, Windows)."""
    if not hasattr(os, "sched_getaffinity"):
        return ()
    return tuple(sorted(os.sched_getaffinity(0)))


def group_cpus(threads: int | None, allowed: Sequence[int]) -> CpuSet | None:
    """The CPUs for every process of a group whose cases use ``threads`` threads: the last
    ``threads`` of ``allowed``. ``None`` (run wherever the scheduler puts them) when there is
    nothing to choose: no thread count (torch's default uses every core), or as many threads as
    CPUs, or more."""
    if threads is None or threads >= len(allowed):
        return None
    return tuple(sorted(allowed)[-threads:])


def node_cpus(cpus: CpuSet, allowed: Sequence[int], nodes: Path = NUMA_NODES) -> CpuSet:
    """The CPUs of ``allowed`` on the NUMA nodes that hold ``cpus``; all of ``allowed`` where
    Linux does not list its nodes."""
    near: set[int] = set()
    for cpulist in sorted(nodes.glob("node[0-9]*/cpulist")):
        members = _cpu_list(cpulist.read_text())
        if members & set(cpus):
            near |= members
    return tuple(sorted(near & set(allowed))) if near else tuple(sorted(allowed))


def _cpu_list(text: str) -> set[int]:
    """Linux's CPU list format: ``"0-3,8-11"``."""
    cpus: set[int] = set()
    for part in text.strip().split(","):
        if part:
            first, _, last = part.partition("-")
            cpus.update(range(int(first), int(last or first) + 1))
    return cpus


def pin_process(cpus: CpuSet | None) -> CpuSet:
    """Run every thread of this process on ``cpus`` (threads it starts later inherit it; a
    runtime's pool started during preparation is moved too); ``None`` leaves it where it is.
    Returns where its main thread runs now, as the row will say."""
    if cpus is not None and hasattr(os, "sched_setaffinity"):
        tasks = Path("/proc/self/task")
        threads = [int(task.name) for task in tasks.iterdir()] if tasks.is_dir() else [0]
        for thread in threads:
            with contextlib.suppress(ProcessLookupError):  # one that ended meanwhile
                os.sched_setaffinity(thread, cpus)
    return allowed_cpus()


def describe(cpus_by_process: Sequence[CpuSet | None]) -> str | None:
    """A row's ``pinned_cpus``: the CPUs its processes ran on (``"1"``; two threads: ``"0,1"``),
    each process's, ``|`` between them, where they differ; ``None`` when none was pinned."""
    if all(cpus is None for cpus in cpus_by_process):
        return None
    named = [
        "any" if cpus is None else ",".join(str(cpu) for cpu in cpus) for cpus in cpus_by_process
    ]
    return named[0] if len(set(named)) == 1 else " | ".join(named)
