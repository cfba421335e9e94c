"""False alarms and detections of benchsuite's gate against pytest-benchmark's compare-fail.

On this machine, for one real case (the digits CNN, batch 1, one thread, about 70 µs a call):

* benchsuite: separate ``benchsuite run`` processes: N unchanged (A) runs with groups of three
  slowed runs spread among them (a real 10 % or 5 % slowdown: a busy wait after each call; the
  second and third runs of a group are the first's re-runs). Each A run is gated against the A
  runs before it (A/A: every regression is a false alarm) and each group's first run likewise
  (a miss is a regression not caught), with the gate's default rule (latency p50 at most +5 %),
  for two baselines (the A run just before; ``rolling:7``, the seven A runs just before), each
  with 0, 1 and 2 re-runs as ``--confirm`` (the next runs of the same code, back to back: the
  example nightly workflow re-runs the suite twice when the gate fails).
* pytest-benchmark: M ``pytest --benchmark-autosave`` A runs, each with ``--benchmark-compare
  --benchmark-compare-fail=median:5%`` against the run before, and slowed runs spread among them,
  each compared with the A run before it.

Targets (issue 7): at most 1 % false alarms; at least 95 % of the 10 % slowdowns caught. About
35 minutes with the defaults; run it on an otherwise idle machine.
Usage: python benchmarks/bench_gate.py [--aa-runs 121] [--slowed-groups 40] [--pb-runs 21]
       [--pb-slowed 20]
"""

from __future__ import annotations

import argparse
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
from benchsuite.gate.decide import MetricVerdict  # noqa: E402


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
    results: Path, baseline: list[str], candidate: str, reruns: list[str]
) -> MetricVerdict:
    """The gate's latency verdict, in a view of ``results`` that holds only the runs named
    (so ``rolling:N`` is exactly ``baseline``, whatever else the benchmark ran in between)."""
    with tempfile.TemporaryDirectory() as view:
        for run in (*baseline, candidate, *reruns):
            (Path(view) / run).symlink_to(results / run)
        selector = baseline[0] if len(baseline) == 1 else f"rolling:{len(baseline)}"
        result = run_gate(Path(view), selector, candidate, trend_window=0, confirm=reruns)
    (case,) = result.cases
    return next(m for m in case.metrics if m.metric == "latency_p50_ms")


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


def schedule(unchanged_runs: int, slowed_groups: int, group_size: int = 3) -> list[float]:
    """The order of runs: ``0.0`` is an unchanged (A) run; each slowed group (a candidate and its
    re-runs, 10 % and 5 % alternately) follows an A run, spread evenly through the A runs, so a
    slowed run is gated against the A runs just before it, as an A run is. Gating slowed runs
    made after all the A runs against ever older A runs measured the VM's drift (its speed moves
    in ±5-6 % steps over minutes), not the gate."""
    after = {
        round((group + 1) * unchanged_runs / (slowed_groups + 1)): group
        for group in range(slowed_groups)
    }
    order: list[float] = []
    for index in range(unchanged_runs):
        order.append(0.0)
        if index in after:
            order += [SLOWDOWNS[after[index] % len(SLOWDOWNS)]] * group_size
    return order


SLOWDOWNS = (0.10, 0.05)
ROLLING = 7
RERUNS = (0, 1, 2)


def rate(hits: int, total: int) -> str:
    return f"{hits}/{total} ({hits / total:.1%})" if total else "0/0"


def gate_figures(results: Path, runs: list[tuple[float, str]]) -> None:
    """Every gating the runs allow, for a one-run baseline (the A run just before) and for
    ``rolling:7`` (the seven A runs just before), each with 0, 1 and 2 re-runs (``--confirm``):
    an A run's re-runs are the next A runs; a slowed run's are the rest of its group."""
    unchanged = [run for slowdown, run in runs if slowdown == 0.0]
    baselines: dict[str, list[str]] = {}  # candidate -> the A runs before it, oldest first
    seen: list[str] = []
    for slowdown, run in runs:
        baselines[run] = list(seen)
        if slowdown == 0.0:
            seen.append(run)
    followers: dict[str, list[str]] = {}  # candidate -> later runs of the same code, in order
    for index, run in enumerate(unchanged):
        followers[run] = unchanged[index + 1 : index + 1 + max(RERUNS)]
    group_firsts: dict[float, list[str]] = {slowdown: [] for slowdown in SLOWDOWNS}
    for index, (slowdown, run) in enumerate(runs):
        if slowdown and (index == 0 or runs[index - 1][0] != slowdown):
            group = [r for s, r in runs[index : index + 1 + max(RERUNS)] if s == slowdown]
            followers[run] = group[1:]
            group_firsts[slowdown].append(run)
    for label, depth in (("one-run baseline", 1), (f"rolling:{ROLLING} baseline", ROLLING)):
        print(f"benchsuite, {label}:", flush=True)
        for reruns in RERUNS:
            kind = f"--confirm x{reruns}" if reruns else "one run"
            for slowdown, candidates in ((0.0, unchanged), *group_firsts.items()):
                verdicts = [
                    latency_verdict(results, baselines[run][-depth:], run, followers[run][:reruns])
                    for run in candidates
                    if len(baselines[run]) >= depth and len(followers[run]) >= reruns
                ]
                _print_figures(slowdown, kind, verdicts)


def _print_figures(slowdown: float, kind: str, verdicts: list[MetricVerdict]) -> None:
    """A/A (``slowdown`` 0): false alarms; otherwise slowdowns caught; and every alarm or miss."""
    what = "A/A" if slowdown == 0.0 else f"{slowdown:.0%} slowdown"
    if not verdicts:
        print(f"  {what} {kind}: nothing to gate", flush=True)
        return
    regressions = [v for v in verdicts if v.verdict == "regression"]
    changes = [(v.change or 0.0) * 100 for v in verdicts]
    if slowdown == 0.0:
        absolute = [abs(c) for c in changes]
        print(
            f"  {what} {kind}: false alarms {rate(len(regressions), len(verdicts))}; |change| "
            f"median {statistics.median(absolute):.2f} %, max {max(absolute):.2f} %",
            flush=True,
        )
        for alarm in regressions:
            print(f"    alarm: {alarm.reason}", flush=True)
        return
    print(
        f"  {what} {kind}: caught {rate(len(regressions), len(verdicts))}; measured change "
        f"median {statistics.median(changes):+.1f} %",
        flush=True,
    )
    for miss in (v for v in verdicts if v.verdict != "regression"):
        print(f"    missed ({miss.verdict}): {miss.reason}", flush=True)


def pytest_benchmark_figures(storage: Path, env: dict[str, str], runs: int, slowed: int) -> None:
    """The same interleaving for pytest-benchmark: each A run saved and compared with the A run
    before; ``slowed`` slowed runs, each compared with the A run before it (not saved)."""
    alarms, caught = 0, dict.fromkeys(SLOWDOWNS, 0)
    tried = dict.fromkeys(SLOWDOWNS, 0)
    for slowdown in schedule(runs, slowed, group_size=1):
        if slowdown == 0.0:
            first = not storage.exists()
            alarms += pytest_run(storage, env, None if first else "", save=True)
        else:
            slow_env = {**env, "BENCH_SLOWDOWN": str(slowdown)}
            caught[slowdown] += pytest_run(storage, slow_env, "", save=False)
            tried[slowdown] += 1
    print(f"pytest-benchmark A/A: false alarms {rate(alarms, runs - 1)}", flush=True)
    for slowdown in SLOWDOWNS:
        print(
            f"pytest-benchmark {slowdown:.0%} slowdown: caught {rate(caught[slowdown], tried[slowdown])}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--aa-runs", type=int, default=121, help="unchanged (A) runs")
    parser.add_argument(
        "--slowed-groups",
        type=int,
        default=40,
        help="slowed runs, each with two re-runs, 10 %% and 5 %% alternately",
    )
    parser.add_argument("--pb-runs", type=int, default=21, help="pytest-benchmark A runs")
    parser.add_argument("--pb-slowed", type=int, default=20, help="pytest-benchmark slowed runs")
    parser.add_argument(
        "--keep", type=Path, help="keep the benchsuite results here (default: a temporary folder)"
    )
    args = parser.parse_args()
    if args.keep and args.keep.exists() and any(args.keep.iterdir()):
        parser.error(f"--keep {args.keep}: the folder is not empty; name a new one")
    base_ns = base_call_ns()
    print(f"unslowed median call: {base_ns / 1000:.2f} µs", flush=True)
    env = {**os.environ, "BENCH_BASE_NS": str(base_ns), "BENCH_SLOWDOWN": "0"}
    with tempfile.TemporaryDirectory() as scratch:
        results = args.keep or Path(scratch) / "results"
        order = schedule(args.aa_runs, args.slowed_groups)
        started = time.monotonic()
        runs = []
        for index, slowdown in enumerate(order):
            runs.append((slowdown, bench_run(results, {**env, "BENCH_SLOWDOWN": str(slowdown)})))
            if (index + 1) % 25 == 0:
                print(
                    f"  {index + 1}/{len(order)} runs, {time.monotonic() - started:.0f} s",
                    flush=True,
                )
        if args.keep:  # which run was slowed by how much, for a later look at the samples
            lines = [f"{run}\t{slowdown}" for slowdown, run in runs]
            (results / "bench_gate_runs.tsv").write_text("\n".join(lines) + "\n")
        gate_figures(results, runs)
        pytest_benchmark_figures(Path(scratch) / "pb", env, args.pb_runs, args.pb_slowed)


if __name__ == "__main__":
    main()
