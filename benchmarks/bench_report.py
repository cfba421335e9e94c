"""How long the report takes over a long history: 1,000 runs on one hardware.

Runs the smoke suite once for real, then copies that run 999 times into the same store with new
run ids and latencies/energies scaled by a slow drift plus noise (so the trend charts have
something to draw), each copy in the store's own layout. It then times ``render_report`` for the
newest run, which reads the whole history for its trend charts and card histories.

Target (issue 6): under 5 s on this machine. Usage:
    python benchmarks/bench_report.py [--runs 1000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchsuite.report import render_report
from benchsuite.run.runner import run_suite
from benchsuite.store.runs import CASES_DIR, MANIFEST, RUN_CASES, ResultStore
from benchsuite.suites.load import load_suite
from benchsuite.workload.discovery import discover_workloads

REPO = Path(__file__).resolve().parent.parent


def build_history(root: Path, runs: int) -> str:
    store = ResultStore(root)
    seed_run = run_suite(load_suite("smoke"), discover_workloads(REPO / "workloads"), store)
    table = pq.read_table(root / seed_run.run_id / RUN_CASES)
    manifest = json.loads((root / seed_run.run_id / MANIFEST).read_text())
    rng = np.random.default_rng(0)
    for index in range(1, runs):
        run_id = f"20{index // 10000 + 27:02d}{index % 10000:08d}T000000Z-{index:06x}"
        scale = 1.0 + 0.0001 * index + rng.normal(0, 0.01)
        columns = {name: table.column(name) for name in table.column_names}
        columns["run_id"] = pa.array([run_id] * table.num_rows)
        for name in ("latency_p50_ms", "energy_per_sample_j"):
            columns[name] = pa.array(
                np.asarray(table.column(name).to_pylist(), dtype=float) * scale
            )
        copy = pa.table(columns)
        folder = root / run_id
        (folder / CASES_DIR).mkdir(parents=True)
        pq.write_table(copy, folder / CASES_DIR / "0001.parquet")
        pq.write_table(copy, folder / RUN_CASES)
        (folder / MANIFEST).write_text(json.dumps({**manifest, "run_id": run_id}))
    return store.run_ids()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--keep", type=Path, help="build the store here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = args.keep or Path(scratch) / "results"
        begin = time.perf_counter()
        newest = build_history(root, args.runs)
        built = time.perf_counter() - begin
        store = ResultStore(root)
        rows = len(store.read_cases(columns=["run_id"]))
        print(f"history: {len(store.run_ids())} runs, {rows} case rows (built in {built:.1f} s)")
        timings = []
        for _ in range(3):
            begin = time.perf_counter()
            page = render_report(store, newest, Path(scratch) / "report")
            timings.append(time.perf_counter() - begin)
        cards = len(list((page.parent / "cards").glob("*.html")))
        print(
            f"render_report: {', '.join(f'{t:.2f}' for t in timings)} s "
            f"(median {sorted(timings)[1]:.2f} s; target < 5 s); overview "
            f"{page.stat().st_size / 1024:.0f} KiB + {cards} cards"
        )


if __name__ == "__main__":
    main()
