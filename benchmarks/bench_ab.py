"""False alarms and slowdowns caught by the A/B mode (``benchsuite compare``, base and head side
by side in one job) against the one-run ``previous`` gate, under a background load that starts
and stops at random.

The code under test is a user's own module in two checkouts (folders written here): a stack of
``--layers`` square matmuls (about 70 µs a call at 20 layers). The candidate's code is the same
(A/A: every regression is a false alarm), or has 10 % or 5 % more layers: a real slowdown of the
code, whose true size the table states as the A/B runs measured it (the median of their ratios).

* **A/B**: ``run_ab`` (what ``benchsuite compare`` runs), then ``gate_ab`` (what ``benchsuite
  gate`` with no ``--baseline`` runs), with a 3 % latency allowance and no re-run.
* **previous**: one plain run of the baseline's code, then one of the candidate's, gated
  ``previous`` against ``latest`` with the same allowance and no re-run, as a job with a stored
  one-run baseline would.

A background process burns one of the two cores for random spells (0.5-4 s on, 0.5-6 s off),
seeded, for the whole benchmark. Each comparison's wall time is measured. Targets (issue 34):
at most 1 % false alarms for A/B with no re-run, at least 95 % of +10 % caught, at least 80 % of
+5 % caught under a 3 % allowance.

Usage: python benchmarks/bench_ab.py [--aa 40] [--slowed 20] [--previous-aa 40]
       [--previous-slowed 10] [--layers 20] [--no-load]
(about 25 minutes with the defaults on two cores; ``--aa 0 --slowed 0`` runs the previous gate
alone, ``--previous-aa 0 --previous-slowed 0`` the A/B mode alone)
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchsuite.gate import run_gate
from benchsuite.gate.paired import gate_ab
from benchsuite.gate.rules import load_rules
from benchsuite.run.ab import AbSettings, run_ab
from benchsuite.run.code_arms import BASELINE, CANDIDATE, load_arm
from benchsuite.store.runs import ResultStore

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.user_code import suite_text, write_arm

SUITE = suite_text("ab-bench", budget_s=1.0, warmup_max_s=0.3, energy_window_s=0.2, idle_s=0.3)
RULES = """[metrics.latency_p50_ms]
direction = "lower"
max_increase = 0.03

[metrics.energy_per_sample_j]
direction = "lower"
max_increase = 0.03
"""


def write_bench_arm(folder: Path, layers: int) -> Path:
    return write_arm(folder, layers, folder.name, SUITE, width=96)


def burn_at_random(seed: int) -> None:
    """Busy one core for random spells, idle between them, until killed."""
    chance = random.Random(seed)
    while True:
        time.sleep(chance.uniform(0.5, 6.0))
        until = time.perf_counter() + chance.uniform(0.5, 4.0)
        while time.perf_counter() < until:
            pass


def ab_once(base: Path, head: Path, results: Path, rules: Path) -> tuple[str, float, float]:
    """One A/B comparison: the verdict on latency, its ratio, and the wall time."""
    started = time.perf_counter()
    loaded = load_rules(rules)
    settings = AbSettings(
        latency_allowance_rel=loaded.metrics["latency_p50_ms"].relative or 0.0,
        energy_allowance_rel=loaded.metrics["energy_per_sample_j"].relative or 0.0,
    )
    store = ResultStore(results)
    result = run_ab(
        load_arm(BASELINE, base, "suite.toml", None),
        load_arm(CANDIDATE, head, "suite.toml", None),
        store,
        settings,
    )
    verdict = gate_ab(store, result.run_id, loaded)
    wall = time.perf_counter() - started
    latency = next(m for c in verdict.cases for m in c.metrics if m.metric.startswith("latency"))
    ratio = (latency.change or 0.0) + 1.0
    return latency.verdict, ratio, wall


def plain_run(arm: Path, results: Path) -> None:
    """``benchsuite run`` of the arm's suite, from the arm's folder, its code on PYTHONPATH: how
    a job with a stored baseline measures one version of the code."""
    path = os.pathsep.join(filter(None, (str(arm), os.environ.get("PYTHONPATH"))))
    env = {**os.environ, "PYTHONPATH": path}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "benchsuite",
            "run",
            "--suite",
            "suite.toml",
            "--results",
            str(results),
            "--no-report",
        ],
        cwd=arm,
        env=env,
        check=True,
        capture_output=True,
    )


def previous_gate(results: Path, rules: Path) -> tuple[str, float]:
    verdict = run_gate(results, "previous", "latest", rules)
    latency = next(m for c in verdict.cases for m in c.metrics if m.metric == "latency_p50_ms")
    return latency.verdict, (latency.change or 0.0) + 1.0


def previous_series(
    base: Path, head: Path, count: int, results: Path, rules: Path
) -> list[tuple[str, float, float]]:
    """``count`` one-run gates: A/A (``head`` is ``None``): a run of the baseline's code gated
    against the one before it, so N + 1 runs give N comparisons; else a run of the baseline's
    code then one of the candidate's, gated."""
    found = []
    if head == base:
        plain_run(base, results)
    for _ in range(count):
        started = time.perf_counter()
        if head != base:
            plain_run(base, results)
        plain_run(head, results)
        verdict, ratio = previous_gate(results, rules)
        found.append((verdict, ratio, time.perf_counter() - started))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--aa", type=int, default=40)
    parser.add_argument("--slowed", type=int, default=20)
    parser.add_argument("--previous-aa", type=int, default=40)
    parser.add_argument("--previous-slowed", type=int, default=10)
    parser.add_argument("--layers", type=int, default=20)
    parser.add_argument("--no-load", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-ab-"))
    arms = {
        "A/A": write_bench_arm(folder / "same", args.layers),
        "+10 %": write_bench_arm(folder / "slow10", round(args.layers * 1.10)),
        "+5 %": write_bench_arm(folder / "slow5", round(args.layers * 1.05)),
    }
    base = write_bench_arm(folder / "base", args.layers)
    rules = folder / "rules.toml"
    rules.write_text(RULES)
    load = None
    if not args.no_load:
        load = multiprocessing.get_context("spawn").Process(target=burn_at_random, args=(7,))
        load.start()
    plan = [
        ("A/B", "A/A", args.aa),
        ("A/B", "+10 %", args.slowed),
        ("A/B", "+5 %", args.slowed),
        ("previous", "A/A", args.previous_aa),
        ("previous", "+10 %", args.previous_slowed),
        ("previous", "+5 %", args.previous_slowed),
    ]
    rows = []
    try:
        for mode, change, count in plan:
            if count == 0:
                continue
            tag = f"{mode.replace('/', '')}-{change.strip(' +%').replace('/', '')}"
            if mode == "A/B":
                found = []
                for k in range(count):
                    found.append(ab_once(base, arms[change], folder / f"{tag}-{k}", rules))
                    print(f"{mode} {change} {k + 1}/{count}: {found[-1]}", flush=True)
            else:
                head = base if change == "A/A" else arms[change]
                found = previous_series(base, head, count, folder / tag, rules)
                print(f"{mode} {change}: {found}", flush=True)
            verdicts = [verdict for verdict, _, _ in found]
            ratios = [ratio for _, ratio, _ in found]
            walls = [wall for _, _, wall in found]
            regressions = verdicts.count("regression")
            rows.append(
                f"| {mode} | {change} | {count} | {regressions} ({regressions / count:.0%}) | "
                f"{verdicts.count('inconclusive')} | {statistics.median(ratios):.4f} "
                f"[{min(ratios):.3f}, {max(ratios):.3f}] | {statistics.median(walls):.1f} s |"
            )
    finally:
        if load is not None:
            load.kill()
    print()
    print(
        f"{args.layers} layers; background load: {'none' if args.no_load else 'one core, random spells'}"
    )
    print(
        "| mode | candidate | comparisons | regression verdicts | inconclusive | "
        "ratio median [min, max] | wall per comparison (median) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
