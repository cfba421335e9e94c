"""Which CPUs a comparison group's worker processes run on: the same ones for every member.

A group's variants are compared round by round, each in its own worker process, and a ratio
cancels what touches both of its members alike. A shared machine's cores are not alike, and not
in a steady way: how fast a core runs int8 code *relative to* fp32 code differed between the two
cores of this project's VM, by an amount that changed within the hour (presumably what else the
host runs beside each virtual CPU; not measured) (``benchmarks/bench_cores.py``, int8 / fp32 on
CPU 0 and CPU 1: 0.292 and 0.296-0.299 in three readings, then 0.296 / 0.294, 0.295 / 0.295 and
0.301 / 0.301 an hour later). Linux's scheduler tends to keep a process on the core it last ran
on, so the members of a group landed on different cores in each process and each run, and carried
those cores' difference into their ratio. So every process of a group, in every repeat, runs on
the same CPUs: the last ``threads`` of those this process may use (CPU 0 takes more of the
machine's housekeeping: here 4.8 times the function-call interrupts and 5 times the TLB
shootdowns of CPU 1, ``/proc/interrupts``).

A worker prepares its case (builds the variant, compiles or exports it) on every allowed CPU of
the NUMA node that holds its measuring CPUs, and narrows to those before its first timed call:
the model's memory is then on the node it is measured from, and a compile keeps its parallel
workers (pinned to one CPU from the start, each compiled case of the standard suite took 3 s
longer to prepare here).

Measured with ``benchmarks/bench_drift.py`` (docs/measurement.md): moving each repeat to the
next CPU instead spread the ratios across runs as much as not pinning at all did, since the
rounds then pool two cores' ratios.
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
