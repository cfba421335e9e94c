"""False alarms and detections of benchsuite's gate against pytest-benchmark's compare-fail.

On this machine, for one real case (the digits CNN, batch 1, one thread, about 70 µs a call):

* benchsuite: N separate ``benchsuite run`` processes of the same code, each consecutive pair
  gated (A/A: every regression is a false alarm); then runs with a real 10 % and 5 % slowdown
  (a busy wait after each call), each gated against the A run before it. The gate's default
  rule: latency p50 at most +5 %.
* benchsuite with ``--confirm``: the same runs, each candidate's next run taken as its re-run
  (what the example nightly workflow does when the gate fails); a regression must repeat.
* pytest-benchmark: M ``pytest --benchmark-autosave`` runs, each with
  ``--benchmark-compare --benchmark-compare-fail=median:5%`` against the run before (A/A), then
  the slowed runs compared against the last A run.

Targets (issue 7): at most 1 % false alarms; at least 95 % of the 10 % slowdowns caught.
Usage: python benchmarks/bench_gate.py [--aa-runs 151] [--slow-runs 20] [--pb-runs 21]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent / "gate_workloads"
sys.path.insert(0, str(HERE))

from slowable_digits import SlowableDigits  # noqa: E402

from benchsuite.gate import run_gate  # noqa: E402


def base_call_ns() -> float:
    """The unslowed median call, so a slowdown fraction becomes a busy wait in ns."""
    torch.set_num_threads(1)
    workload = SlowableDigits()
    model, x = workload.reference_model(), workload.example_batch(1)
    with torch.inference_mode():
        for _ in range(3000):
            model(x)
        times = []
        for _ in range(20000):
            start = time.perf_counter_ns()
            model(x)
            times.append(time.perf_counter_ns() - start)
    return statistics.median(times)


def bench_run(results: Path, env: dict[str, str]) -> str:
    before = set(results.iterdir()) if results.exists() else set()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "benchsuite",
            "run",
            "--suite",
            str(HERE / "gate.toml"),
            "--workloads",
            str(HERE),
            "--results",
            str(results),
            "--no-report",
        ],
        check=True,
        capture_output=True,
        env=env,
        cwd=REPO,
    )
    (new,) = set(results.iterdir()) - before
    return new.name


def latency_verdict(
    results: Path, baseline: str, candidate: str, confirm: str | None = None
) -> tuple[str, float]:
    (case,) = run_gate(results, baseline, candidate, confirm=confirm).cases
    latency = next(m for m in case.metrics if m.metric == "latency_p50_ms")
    return latency.verdict, latency.change or 0.0


def pytest_run(folder: Path, env: dict[str, str], compare: str | None, save: bool) -> bool:
    """True when pytest-benchmark's compare-fail failed the run."""
    args = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",
        str(HERE / "test_pb_slowable.py"),
        f"--benchmark-storage={folder}",
    ]
    if save:
        args.append("--benchmark-autosave")
    if compare is not None:  # "" compares with the latest saved run
        args.append(f"--benchmark-compare={compare}" if compare else "--benchmark-compare")
        args.append("--benchmark-compare-fail=median:5%")
    done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=HERE)
    if done.returncode not in (0, 1):
        raise RuntimeError(done.stdout[-2000:] + done.stderr[-2000:])
    return done.returncode == 1 and "Performance has regressed" in done.stdout + done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--aa-runs", type=int, default=151)
    parser.add_argument("--slow-runs", type=int, default=20)
    parser.add_argument("--pb-runs", type=int, default=21)
    args = parser.parse_args()
    base_ns = base_call_ns()
    print(f"unslowed median call: {base_ns / 1000:.2f} µs", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        results = Path(scratch) / "results"
        env = {**os.environ, "BENCH_BASE_NS": str(base_ns), "BENCH_SLOWDOWN": "0"}
        a_runs = [bench_run(results, env) for _ in range(args.aa_runs)]
        changes, alarms = [], 0
        for previous, current in itertools.pairwise(a_runs):
            verdict, change = latency_verdict(results, previous, current)
            alarms += verdict == "regression"
            changes.append(change)
        pairs = len(a_runs) - 1
        print(
            f"benchsuite A/A: {alarms} false alarms in {pairs} pairs ({alarms / pairs:.1%}); "
            f"median |change| {statistics.median(abs(c) for c in changes) * 100:.2f} %, "
            f"max |change| {max(abs(c) for c in changes) * 100:.2f} %",
            flush=True,
        )
        for (previous, current), change in zip(itertools.pairwise(a_runs), changes, strict=True):
            if abs(change) > 0.05:
                print(f"  {previous} -> {current}: {change:+.1%}", flush=True)
        # --confirm: the run after the candidate is its re-run (as a nightly job re-runs the
        # suite when the gate fails); a regression must repeat there
        triples = list(zip(a_runs, a_runs[1:], a_runs[2:], strict=False))
        confirmed = sum(
            latency_verdict(results, base, cand, again)[0] == "regression"
            for base, cand, again in triples
        )
        print(
            f"benchsuite A/A with --confirm: {confirmed} false alarms in {len(triples)} "
            f"triples ({confirmed / len(triples):.1%})",
            flush=True,
        )
        for slowdown in (0.10, 0.05):
            env_slow = {**env, "BENCH_SLOWDOWN": str(slowdown)}
            caught, seen, slow_runs = 0, [], []
            for index in range(args.slow_runs):
                run = bench_run(results, env_slow)
                verdict, change = latency_verdict(results, a_runs[-1 - index % len(a_runs)], run)
                caught += verdict == "regression"
                seen.append(change)
                slow_runs.append(run)
            confirmed = sum(
                latency_verdict(results, a_runs[-1 - index % len(a_runs)], cand, again)[0]
                == "regression"
                for index, (cand, again) in enumerate(itertools.pairwise(slow_runs))
            )
            print(
                f"benchsuite {slowdown:.0%} slowdown: caught {caught}/{args.slow_runs} "
                f"({caught / args.slow_runs:.0%}); measured change median "
                f"{statistics.median(seen) * 100:+.1f} %; with --confirm caught "
                f"{confirmed}/{args.slow_runs - 1} ({confirmed / (args.slow_runs - 1):.0%})",
                flush=True,
            )

        storage = Path(scratch) / "pb"
        pb_alarms = 0
        pytest_run(storage, env, None, save=True)
        for _ in range(args.pb_runs - 1):
            pb_alarms += pytest_run(storage, env, "", save=True)  # "" = compare with the latest
        pb_pairs = args.pb_runs - 1
        print(
            f"pytest-benchmark A/A: {pb_alarms} false alarms in {pb_pairs} pairs "
            f"({pb_alarms / pb_pairs:.1%})",
            flush=True,
        )
        for slowdown in (0.10, 0.05):
            env_slow = {**env, "BENCH_SLOWDOWN": str(slowdown)}
            caught = sum(
                pytest_run(storage, env_slow, "", save=False) for _ in range(args.slow_runs // 2)
            )
            print(
                f"pytest-benchmark {slowdown:.0%} slowdown: caught {caught}/{args.slow_runs // 2} "
                f"({caught / (args.slow_runs // 2):.0%})",
                flush=True,
            )


if __name__ == "__main__":
    main()
