"""Which CPUs a comparison group's worker processes run on: the same ones for every member.

A group's variants are compared round by round, each in its own worker process, and a ratio
cancels what touches both of its members alike. A shared machine's cores are not alike, and not
in a steady way: each virtual CPU of this project's VM shares a physical core with whatever else
its host runs there, so how fast a core runs int8 code *relative to* fp32 code differs between
the cores, by an amount that changes over minutes (``benchmarks/bench_cores.py``, int8 / fp32 on
CPU 0 and CPU 1: 0.292 and 0.296-0.299 in three readings, then 0.296 / 0.294, 0.295 / 0.295 and
0.301 / 0.301 an hour later). A process mostly stays on the core the scheduler first gave it, so
the members of a group landed on different cores in each process and each run, and carried
those cores' difference into their ratio. So every process of a group, in every repeat, runs on
the same CPUs: the last ``threads`` of those this process may use (CPU 0 takes more of the
machine's housekeeping: here 4.8 times the function-call interrupts and 5 times the TLB
shootdowns of CPU 1, ``/proc/interrupts``).

Measured with ``benchmarks/bench_drift.py`` (docs/measurement.md): moving each repeat to the
next CPU instead spread the ratios across runs as much as not pinning at all did, since the
rounds then pool two cores' ratios.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

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


def pin_to(cpus: CpuSet | None) -> CpuSet:
    """Run this process (and the threads it starts from now on) on ``cpus``; ``None`` leaves it
    where it is. Returns where it runs now, as the row will say."""
    if cpus is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cpus)
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
