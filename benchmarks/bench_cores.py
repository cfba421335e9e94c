"""Whether this machine's cores run int8 and fp32 at the same relative speed: why a comparison
group's processes share their CPUs (``benchsuite.run.affinity``).

A block of two transformer-sized MLPs (384 -> 1536 -> 384, a batch of 16, one thread) in fp32 and
dynamically quantized to int8 (torch.ao, which needs nothing beyond torch). The process moves
from CPU to CPU; on each it times a short slice of fp32 calls, then one of int8 calls, and takes
the ratio of their median call times. Repeated ``--cycles`` times, side by side, so that the
machine's drift over the run touches every CPU alike. It prints, per CPU, the median call
times and the median int8 / fp32 ratio; and each CPU's speed against the first's.

If the ratio differs between CPUs by more than the noise, two variants measured on different
cores carry that difference into their ratio. On this project's 2-core VM (2026-11-24, three
readings): int8 / fp32 0.292 / 0.292 / 0.289 on CPU 0, 0.296 / 0.299 / 0.294 on CPU 1, while
fp32 ran at the same speed on both (CPU 1 / CPU 0: 0.990, 1.006, 1.001); an hour later the two
agreed (0.296 / 0.294, 0.295 / 0.295, 0.301 / 0.301): the difference comes and goes.

Usage: python benchmarks/bench_cores.py [--cycles 50] [--slice-s 0.15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import torch


def models() -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(0)
    fp32 = torch.nn.Sequential(
        *[
            torch.nn.Sequential(
                torch.nn.Linear(384, 1536), torch.nn.GELU(), torch.nn.Linear(1536, 384)
            )
            for _ in range(2)
        ]
    ).eval()
    with warnings.catch_warnings():  # torch.ao's deprecation notice
        warnings.simplefilter("ignore")
        int8 = torch.ao.quantization.quantize_dynamic(fp32, {torch.nn.Linear}, dtype=torch.qint8)
    return fp32, int8


def median_call_ms(model: torch.nn.Module, batch: torch.Tensor, slice_s: float) -> float:
    durations = []
    with torch.inference_mode():
        end = time.perf_counter() + slice_s
        while time.perf_counter() < end:
            started = time.perf_counter_ns()
            model(batch)
            durations.append(time.perf_counter_ns() - started)
    return statistics.median(durations) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=50)
    parser.add_argument("--slice-s", type=float, default=0.15)
    args = parser.parse_args()
    if not hasattr(os, "sched_setaffinity"):
        raise SystemExit("bench_cores.py needs os.sched_setaffinity (Linux)")
    cpus = sorted(os.sched_getaffinity(0))
    torch.set_num_threads(1)
    fp32, int8 = models()
    batch = torch.randn(16, 384)
    times: dict[int, dict[str, list[float]]] = {cpu: {"fp32": [], "int8": []} for cpu in cpus}
    for _ in range(args.cycles):
        for cpu in cpus:
            os.sched_setaffinity(0, {cpu})
            time.sleep(0.002)  # let the move happen before timing
            times[cpu]["fp32"].append(median_call_ms(fp32, batch, args.slice_s))
            times[cpu]["int8"].append(median_call_ms(int8, batch, args.slice_s))
    first = times[cpus[0]]
    for cpu in cpus:
        mine = times[cpu]
        ratio = statistics.median(i / f for f, i in zip(mine["fp32"], mine["int8"], strict=True))
        speed = statistics.median(m / f for f, m in zip(first["fp32"], mine["fp32"], strict=True))
        print(
            f"CPU {cpu}: fp32 {statistics.median(mine['fp32']):.4f} ms, "
            f"int8 {statistics.median(mine['int8']):.4f} ms, int8 / fp32 {ratio:.3f}, "
            f"fp32 time against CPU {cpus[0]} {speed:.3f}"
        )


if __name__ == "__main__":
    main()
