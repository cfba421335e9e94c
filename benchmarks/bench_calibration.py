"""Do the rows' 95 % intervals of a ratio to fp32 hold the next run? Ten back-to-back runs.

The same suite as ``bench_drift.py`` (digits-cnn and text-transformer, fp32 / int8 / distilled,
single-stream, batch 1, one thread, a latency budget of 1 s) runs ``--runs`` times, each a fresh
``benchsuite run`` (its own processes, a minute after the last). For each paired ratio to fp32
(latency and energy) it prints:

- the median of the runs' ratios (what they agree on),
- the spread, (max - min) / median,
- the median half-width of a row's interval, relative to its ratio,
- the share of runs whose interval holds the median of all runs (nominal: 95 %),
- how many runs flagged the ratio unresolved (its interval wider than ``ratio_resolution_rel``).

The target (issue 31): at least 90 % of intervals hold the runs' median, for latency and for
energy. ``--set repeats=6 --set rounds=8`` tries another spread over processes; run it with
another checkout's code on ``PYTHONPATH`` to measure that code's intervals the same way.

Usage: python benchmarks/bench_calibration.py [--runs 10] [--set KEY=VALUE ...] [--keep DIR]
(an untimed first run trains and caches the distilled students)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from bench_drift import SUITE, run_once

FIGURES = ("latency", "energy")


def rows_of(results: Path) -> pd.DataFrame:
    cases = pd.concat(pd.read_parquet(path) for path in results.glob("*/run-cases.parquet"))
    return cases[(cases["variant"] != "fp32") & (cases["status"] == "ok")]


def table(cases: pd.DataFrame) -> tuple[list[str], list[float]]:
    lines = [
        "| ratio to fp32 | median of runs | spread | median half-width | intervals holding "
        "the median | unresolved |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    shares = []
    for (workload, variant), group in cases.groupby(["workload", "variant"]):
        for figure in FIGURES:
            ratio = group[f"{figure}_ratio"].astype(float)
            low = group[f"{figure}_ratio_low"].astype(float)
            high = group[f"{figure}_ratio_high"].astype(float)
            median = float(ratio.median())
            held = ((low <= median) & (median <= high)).mean()
            half = np.maximum(high - ratio, ratio - low) / ratio
            flag = f"{figure}_ratio_resolved"
            unresolved = int((group[flag] == False).sum()) if flag in group else 0  # noqa: E712
            shares.append(float(held))
            lines.append(
                f"| {workload} {variant}, {figure} | {median:.3f} | "
                f"{(ratio.max() - ratio.min()) / median:.1%} | {half.median():.1%} | "
                f"{held:.0%} ({int(held * len(group))}/{len(group)}) | {unresolved} |"
            )
    return lines, shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep the results in DIR")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-calibration-") as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        suite = folder / "calibration.toml"
        suite.write_text(SUITE.format(mode="calibration", extra="\n".join(args.set)))
        results = folder / "results"
        run_once(suite, folder / "warm-up")  # untimed: trains and caches the students
        walls = []
        for index in range(args.runs):
            walls.append(run_once(suite, results))
            print(f"  run {index + 1}/{args.runs}: {walls[-1]:.1f} s", file=sys.stderr)
        lines, shares = table(rows_of(results))
        settings = ", ".join(args.set) or "the defaults"
        print(
            f"### {args.runs} runs ({settings}), median wall {float(np.median(walls)):.1f} s "
            f"per run, {time.strftime('%Y-%m-%d')}\n"
        )
        print("\n".join(lines))
        print(f"\nintervals holding the runs' median, over all ratios: {np.mean(shares):.0%}")


if __name__ == "__main__":
    main()
