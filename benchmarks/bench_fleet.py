"""The smoke suite's wall time on a simulated Ray fleet of one node against two.

Both clusters are ``ray.cluster_utils.Cluster`` on this one machine, each node declaring one CPU;
the store is a local folder both reach. ``--executor ray`` keeps one case per node at a time, so
two nodes run two cases at once. On this 2-core machine the two nodes share the same two cores
(and the estimate meter reads this process tree's CPU time), so only the wall times mean
anything here: on real separate machines, each case would have its node to itself.

Usage: python benchmarks/bench_fleet.py [--suite smoke]
(the first, untimed pass trains and caches the suite's weights so both timed passes find them)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ray
from ray.cluster_utils import Cluster


def run_suite(suite: str, results: Path, *extra: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchsuite",
            "run",
            "--suite",
            suite,
            "--results",
            str(results),
            "--no-report",
            *extra,
        ],
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        sys.exit(f"benchsuite run failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return elapsed


def on_cluster(nodes: int, suite: str, results: Path) -> float:
    folder = Path(tempfile.mkdtemp(prefix="bsr", dir="/tmp"))
    (folder / "ray").mkdir()
    os.environ["RAY_TMPDIR"] = str(folder)
    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False}
    )
    for _ in range(nodes - 1):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    try:
        return run_suite(suite, results, "--executor", "ray", "--ray-address", cluster.address)
    finally:
        ray.shutdown()
        cluster.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="smoke")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        results = Path(scratch) / "results"
        warm = run_suite(args.suite, results)
        print(f"untimed warm-up (local executor, weights trained and cached): {warm:.1f} s")
        one = on_cluster(1, args.suite, results)
        two = on_cluster(2, args.suite, results)
        local = run_suite(args.suite, results)
    print(f"suite {args.suite}, wall time of `benchsuite run` (cluster start excluded):")
    print(f"  local executor, one case after another: {local:6.1f} s")
    print(f"  --executor ray, 1 simulated node:       {one:6.1f} s")
    print(f"  --executor ray, 2 simulated nodes:      {two:6.1f} s  ({one / two:.2f}x faster)")


if __name__ == "__main__":
    main()
