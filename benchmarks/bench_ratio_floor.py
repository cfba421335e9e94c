"""The floor under issue 21's target on this machine: how far each variant's ratio to fp32 moves
between blocks of rounds measured in **one** process, where nothing but the machine can move it.

``bench_drift.py`` measures the spread of a ratio across six back-to-back ``benchsuite run``\\ s.
Part of that spread is the suite's (each run starts fresh worker processes, each with its own
memory layout and luck); part is the machine's (the same int8 kernels running faster or slower
relative to fp32 from one minute to the next). This script takes the suite's part out: it
prepares fp32, int8 and distilled of each workload once, in this process, pins the process to
the CPU a run pins its comparison groups to (the last one), and then measures ``--blocks`` blocks
back to back, each shaped like one run's group: ``--rounds`` rounds taking turns (A B C, C B A),
each round one latency slice of ``budget_s / rounds`` and one energy window of
``metered_s / rounds``, with benchsuite's own :class:`~benchsuite.instruments.rounds.RoundRunner` and this
machine's meter. A block's ratio is the median of its paired per-round ratios, as a row's is.

No process starts, no preparation, no memory layout changes between blocks: whatever spread the
blocks' ratios still show is the machine's, and no way of measuring with blocks this long
removes it. If it is near 2 %, issue 21's target (every ratio within 2 % across six runs) is
at the machine's mercy. The table prints each ratio's spread over the first six blocks (max
minus min, over the median, as ``bench_drift.py``) and over all of them.

Usage: python benchmarks/bench_ratio_floor.py [--blocks 6] [--rounds 80]
                                            [--budget-s 1] [--metered-s 3]
(distilled needs its trained student: run ``bench_drift.py`` or the standard suite once first)
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from benchsuite.instruments.energy import read_idle
from benchsuite.instruments.meters import Meter, choose_meter
from benchsuite.instruments.rounds import RoundRunner
from benchsuite.run.affinity import allowed_cpus, group_cpus, pin_process
from benchsuite.variants import get_variant
from benchsuite.variants.base import PreparedModel
from benchsuite.workload.batch import bound_call
from benchsuite.workload.discovery import load_workloads

REFERENCE = "fp32"


@dataclass
class Member:
    """One prepared variant of a workload and the per-round figures of the current block."""

    name: str
    prepared: PreparedModel
    runner: RoundRunner
    latency_ns: list[float] = field(default_factory=list)
    energy_j: list[float] = field(default_factory=list)


def prepare(workload_name: str, variants: list[str], meter: Meter, idle_w: float) -> list[Member]:
    workload = load_workloads()[workload_name]
    batch = workload.example_batch(1)
    members = []
    for name in variants:
        prepared = workload.prepare_variant(get_variant(name), "cpu")
        call = bound_call(prepared.module, batch)
        with prepared.context():
            call()
        members.append(Member(name, prepared, RoundRunner(call, None, meter, 1, idle_w)))
    return members


def run_block(members: list[Member], rounds: int, latency_s: float, window_s: float) -> None:
    for member in members:
        member.latency_ns.clear()
        member.energy_j.clear()
    for turn in range(rounds):
        for member in members if turn % 2 == 0 else members[::-1]:
            with member.prepared.context():  # its own: int8 turns attention's fast path off
                result = member.runner.round(turn, latency_s, window_s)
            member.latency_ns.append(result.latency_median_ns)
            member.energy_j.append(result.energy_per_sample_j)


def block_ratios(workload: str, members: list[Member]) -> dict[tuple[str, str], float]:
    """Each variant's paired ratio to the reference in this block: latency and energy."""
    reference = next(m for m in members if m.name == REFERENCE)
    out = {}
    for member in members:
        if member is reference:
            continue
        for figure, mine, theirs in (
            ("latency", member.latency_ns, reference.latency_ns),
            ("energy", member.energy_j, reference.energy_j),
        ):
            paired = [a / b for a, b in zip(mine, theirs, strict=True)]
            out[(f"{workload} {member.name}", figure)] = float(np.median(paired))
    return out


def spread(values: list[float]) -> float:
    return (max(values) - min(values)) / float(np.median(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", default=["digits-cnn", "text-transformer"])
    parser.add_argument("--variants", nargs="+", default=[REFERENCE, "int8", "distilled"])
    parser.add_argument("--blocks", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=80, help="per block (a run: 2 x 40)")
    parser.add_argument("--budget-s", type=float, default=1.0, help="latency time per variant")
    parser.add_argument("--metered-s", type=float, default=3.0, help="metered time per variant")
    args = parser.parse_args()

    torch.set_num_threads(1)
    meter = choose_meter("cpu").meter
    idle_w = read_idle(meter, 0.5).average_power_w
    groups = {name: prepare(name, args.variants, meter, idle_w) for name in args.workloads}
    cpus = pin_process(group_cpus(1, allowed_cpus()))
    print(f"meter {meter.source}; one process on CPU {cpus}; {args.rounds} rounds per block")

    by_block: dict[tuple[str, str], list[float]] = {}
    started = time.perf_counter()
    latency_s, window_s = args.budget_s / args.rounds, args.metered_s / args.rounds
    for block in range(args.blocks):
        for workload, members in groups.items():
            run_block(members, args.rounds, latency_s, window_s)
            for key, ratio in block_ratios(workload, members).items():
                by_block.setdefault(key, []).append(ratio)
        print(f"  block {block + 1}/{args.blocks}: {time.perf_counter() - started:.0f} s")

    first = min(6, args.blocks)
    print()
    print(f"| ratio to fp32, one process | blocks | spread, first {first} | spread, all |")
    print("| --- | --- | --- | --- |")
    deviations = []
    for (variant, figure), ratios in sorted(by_block.items()):
        deviations.append(float(np.std(ratios[:first], ddof=1) / np.median(ratios[:first])))
        shown = " ".join(f"{r:.3f}" for r in ratios)
        print(
            f"| {variant}, {figure} | {shown} | {spread(ratios[:first]):.1%} "
            f"| {spread(ratios):.1%} |"
        )
    print(
        f"\nmean standard deviation of a ratio over the first {first} blocks: "
        f"{np.mean(deviations):.2%}"
    )


if __name__ == "__main__":
    main()
