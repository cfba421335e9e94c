"""How much the harness adds to a timed call, and how close and how fast its median is.

(a) Overhead: wall time per call of benchsuite's sampling (timed loop + periodic CI checks) on a
    no-op call, minus the same for a bare ``perf_counter_ns`` loop; and the floor each reports.
(b) Accuracy: the digits CNN at batch 1 on one CPU thread (about 60 µs a call). A 20-second
    careful reference loop (2 s warm-up, gc off, every call timed) gives the reference median.
    benchsuite's warm-up + sampling is run several times; each median is compared with the
    reference and its sampling wall time printed. pytest-benchmark's defaults time the same call
    in a subprocess and its median/mean/min are printed beside.

Targets (issue 2): overhead <= 0.3 µs per call; median within 2 % of the reference in <= 2 s of
sampling. Usage: python benchmarks/bench_harness.py [--reference-s 20] [--repeats 5]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import torch

from benchsuite.instruments.timing import SamplingConfig, Timer, gc_paused
from benchsuite.workload.discovery import discover_workloads

REPO = Path(__file__).resolve().parent.parent


def bare_loop_ns_per_call(call, count: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Wall ns per iteration of the minimal timing loop, and the median it reports."""
    clock = time.perf_counter_ns
    out = [0] * count
    with gc_paused():
        begin = clock()
        for i in range(count):
            start = clock()
            call()
            out[i] = clock() - start
        wall = clock() - begin
    return wall / count, statistics.median(out)


def harness_ns_per_call(call, budget_s: float) -> tuple[float, float, int]:  # type: ignore[no-untyped-def]
    """Wall ns per sample of benchsuite's Timer.sample (loop + CI checks), its median, count."""
    timer = Timer(call)
    # an unreachable target: sampling runs its whole budget, CI checks included
    config = SamplingConfig(ci_target_rel=1e-12, budget_s=budget_s, max_samples=10**8)
    begin = time.perf_counter_ns()
    result = timer.sample(config, typical_call_ns=100)
    wall = time.perf_counter_ns() - begin
    return (
        wall / result.samples_ns.size,
        float(statistics.median(result.samples_ns)),
        result.samples_ns.size,
    )


def overhead(repeats: int) -> None:
    def noop() -> None:
        return None

    bare_rates, harness_rates, bare_floor, harness_floor = [], [], [], []
    for _ in range(repeats):
        per_call, _, count = harness_ns_per_call(noop, budget_s=1.0)
        harness_rates.append(per_call)
        harness_floor.append(harness_ns_per_call(noop, 0.2)[1])
        rate, floor = bare_loop_ns_per_call(noop, count)
        bare_rates.append(rate)
        bare_floor.append(floor)
    bare, harness = statistics.median(bare_rates), statistics.median(harness_rates)
    print("(a) overhead on a no-op call, median of", repeats, "alternating repeats")
    bare_reports, harness_reports = statistics.median(bare_floor), statistics.median(harness_floor)
    print(
        f"    bare perf_counter_ns loop : {bare:7.1f} ns wall per call, reports {bare_reports:.0f} ns"
    )
    print(
        f"    benchsuite Timer.sample   : {harness:7.1f} ns wall per call, reports {harness_reports:.0f} ns"
    )
    added_us = (harness - bare) / 1000
    print(f"    added overhead            : {added_us:+.3f} µs per call (target <= 0.3 µs)")


def reference_median_ns(call, seconds: float) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    clock = time.perf_counter_ns
    end = clock() + int(2e9)
    while clock() < end:  # warm-up
        call()
    samples: list[int] = []
    end = clock() + int(seconds * 1e9)
    gc.collect()
    with gc_paused():
        while True:
            start = clock()
            call()
            stop = clock()
            samples.append(stop - start)
            if stop >= end:
                break
    return statistics.median(samples), len(samples)


PYTEST_BENCHMARK_TEST = textwrap.dedent(
    """
    import sys
    import torch
    sys.path.insert(0, {workloads!r})
    from digits_cnn import DigitsCNN

    def test_digits_b1(benchmark):
        torch.set_num_threads(1)
        workload = DigitsCNN()
        model = workload.reference_model()
        x = workload.example_batch(1)
        with torch.inference_mode():
            benchmark(model, x)
    """
)


def pytest_benchmark_defaults() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        test = Path(folder) / "test_pb.py"
        test.write_text(PYTEST_BENCHMARK_TEST.format(workloads=str(REPO / "workloads")))
        report = Path(folder) / "pb.json"
        begin = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                str(test),
                f"--benchmark-json={report}",
                "-o",
                "addopts=",
                "-W",
                "ignore",
            ],
            check=True,
            capture_output=True,
            cwd=folder,
        )
        wall = time.perf_counter() - begin
        stats = json.loads(report.read_text())["benchmarks"][0]["stats"]
    return {
        "median": stats["median"] * 1e9,
        "mean": stats["mean"] * 1e9,
        "min": stats["min"] * 1e9,
        "rounds": stats["rounds"],
        "wall_s": wall,
    }


def accuracy(reference_s: float, repeats: int) -> None:
    torch.set_num_threads(1)
    workload = discover_workloads(REPO / "workloads")["digits-cnn"]
    model = workload.reference_model()
    inputs = workload.example_batch(1)

    def call() -> object:
        return model(inputs)

    with torch.inference_mode():
        reference, reference_count = reference_median_ns(call, reference_s)
        print(
            f"\n(b) digits-cnn fp32, batch 1, 1 thread; reference: {reference / 1000:.2f} µs "
            f"median of {reference_count} calls over {reference_s:g} s (after 2 s warm-up)"
        )
        config = SamplingConfig()  # the defaults: CI of the median within ±1 %, 10 s budget
        for repeat in range(repeats):
            timer = Timer(call)
            warmup = timer.warm_up(config)
            result = timer.sample(config, float(statistics.median(warmup.samples_ns[-100:])))
            median = statistics.median(result.samples_ns)
            print(
                f"    benchsuite #{repeat + 1}: median {median / 1000:.2f} µs "
                f"({(median / reference - 1) * 100:+.2f} % vs reference), "
                f"sampling {result.duration_s:.2f} s / {result.samples_ns.size} samples "
                f"({result.stop_reason}), warm-up {warmup.duration_s:.2f} s / {warmup.calls} calls"
            )
        again, _ = reference_median_ns(call, min(reference_s, 5.0))
        drift_pct = (again / reference - 1) * 100
        print(f"    reference again after   : {again / 1000:.2f} µs (drift {drift_pct:+.2f} %)")
    pb = pytest_benchmark_defaults()
    print(
        f"    pytest-benchmark defaults: median {pb['median'] / 1000:.2f} µs "
        f"({(pb['median'] / reference - 1) * 100:+.2f} %), mean {pb['mean'] / 1000:.2f} µs, "
        f"min {pb['min'] / 1000:.2f} µs, {pb['rounds']} rounds, pytest wall {pb['wall_s']:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reference-s", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    overhead(args.repeats)
    accuracy(args.reference_s, args.repeats)


if __name__ == "__main__":
    main()
