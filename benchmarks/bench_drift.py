"""Six back-to-back runs of one suite: how far each variant's ratio to fp32 moves between runs.

This is issue 21's table: digits-cnn and text-transformer, fp32 / int8 / distilled, single-stream,
batch 1, one thread, a latency budget of 1 s. Each run is a fresh ``benchsuite run`` (its own
processes, minutes after the last), so the spread below is what a user comparing two nights
would see with no change to the model at all. The spread of a ratio is (max - min) / median
across the runs; the target is at most 2 %.

``--mode sequential`` measures as benchsuite did before rounds (each case alone, one process:
``interleave = false``, ``repeats = 1``); ``--mode interleaved`` uses the suite defaults of
``benchsuite.instruments.rounds`` (the variants of a comparison group take turns in rounds, in several worker
processes). The ratio read from each run is the one the report shows: the paired per-round ratio
where the row has one, else the ratio of the two medians. Below the table: the mean standard
deviation of the ratios across the runs (steadier than a range of six), and which int8 ran:
issue 21's table had ``torch.ao.quantization``'s (1.49 times fp32 here); with the ``[torchao]``
extra installed, int8 is torchao's (6.7 times fp32 on this CPU, and noisier).

Usage: python benchmarks/bench_drift.py [--mode sequential|interleaved|both] [--runs 6]
                                        [--set repeats=3 --set rounds=2]
(an untimed first run trains and caches the distilled students and the int8 calibration)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

SUITE = """
name = "drift-{mode}"
description = "issue 21's six-run table: two workloads x fp32/int8/distilled, single-stream b1 t1"

[measure]
warmup_max_s = 2.0
ci_target_rel = 0.01
budget_s = 1.0
energy_windows = 5
energy_min_windows = 3
energy_target_rel = 0.05
energy_window_s = 1.0
idle_s = 0.5
{extra}

[[matrix]]
workloads = ["digits-cnn", "text-transformer"]
variants = ["fp32", "int8", "distilled"]
scenario = "single-stream"
threads = [1]
"""

MODES = {"sequential": "interleave = false\nrepeats = 1", "interleaved": ""}
RATIOS = (
    ("latency", "latency_p50_ms", "latency_ratio"),
    ("energy", "energy_per_sample_j", "energy_ratio"),
)


def run_once(suite: Path, results: Path) -> float:
    started = time.perf_counter()
    command = [sys.executable, "-m", "benchsuite", "run", "--suite", str(suite)]
    subprocess.run(
        [*command, "--results", str(results), "--no-report"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def ratios_of_run(rows: pd.DataFrame) -> dict[tuple[str, str, str], float]:
    """Each non-fp32 variant's ratio to its workload's fp32: paired where the row has one."""
    out: dict[tuple[str, str, str], float] = {}
    for workload, group in rows.groupby("workload"):
        fp32 = group[group["variant"] == "fp32"].iloc[0]
        for _, row in group[group["variant"] != "fp32"].iterrows():
            for name, column, paired in RATIOS:
                value = row.get(paired)
                if value is None or pd.isna(value):
                    value = row[column] / fp32[column]
                out[(str(workload), str(row["variant"]), name)] = float(value)
    return out


def table(mode: str, runs: int, work: Path, settings: list[str]) -> str:
    suite = work / f"drift-{mode}.toml"
    suite.write_text(SUITE.format(mode=mode, extra="\n".join([MODES[mode], *settings])))
    results = work / f"results-{mode}"
    run_once(suite, work / "warm-up")  # untimed: trains and caches what the variants need
    walls = []
    for index in range(runs):
        walls.append(run_once(suite, results))
        print(f"  {mode} run {index + 1}/{runs}: {walls[-1]:.1f} s", file=sys.stderr)
    cases = pd.concat(pd.read_parquet(path) for path in results.glob("*/run-cases.parquet"))
    per_run = pd.DataFrame(
        [
            {"run": run_id, "key": key, "ratio": ratio}
            for run_id, rows in cases.groupby("run_id")
            for key, ratio in ratios_of_run(rows).items()
        ]
    )
    lines = [
        f"### {mode}{' (' + ', '.join(settings) + ')' if settings else ''}: {runs} runs, "
        f"median wall {sorted(walls)[len(walls) // 2]:.1f} s per run",
        "",
        "| ratio to fp32 | median | min – max | spread |",
        "| --- | --- | --- | --- |",
    ]
    deviations = []
    for (workload, variant, metric), ratios in per_run.groupby("key")["ratio"]:
        median = ratios.median()
        deviations.append(ratios.std() / median)
        spread = (ratios.max() - ratios.min()) / median
        lines.append(
            f"| {workload} {variant}, {metric} | {median:.3f} | "
            f"{ratios.min():.3f} – {ratios.max():.3f} | {spread:.1%} |"
        )
    lines += ["", f"mean standard deviation of a ratio across the runs: {np.mean(deviations):.2%}"]
    # which int8 this was: torchao's (the [torchao] extra) or torch.ao's; they differ 4x here
    built = cases[cases["variant"] != "fp32"].drop_duplicates(["workload", "variant"])
    lines += ["", *(f"- {r.workload} {r.variant}: {r.variant_detail}" for r in built.itertuples())]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=[*MODES, "both"], default="both")
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a [measure] setting for the interleaved runs, e.g. --set repeats=3 --set rounds=2",
    )
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep the results in DIR")
    args = parser.parse_args()
    modes = list(MODES) if args.mode == "both" else [args.mode]
    with tempfile.TemporaryDirectory(prefix="bench-drift-") as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for mode in modes:
            settings = args.set if mode == "interleaved" else []
            print(table(mode, args.runs, folder, settings), flush=True)
            print()


if __name__ == "__main__":
    main()
