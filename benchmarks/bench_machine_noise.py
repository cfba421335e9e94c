"""How much this machine's speed wanders, and on what time scale: why rounds are many and short.

One small model call (a conv layer and a linear layer, one thread) runs back to back for
``--seconds``; each call's duration is kept. The run is cut into slices of ``tau`` seconds and the
mean call time of each slice taken; the Allan deviation at ``tau`` is the root mean square of the
difference between consecutive slices, over sqrt(2), relative to the mean. It is what a paired
ratio of two slices ``tau`` long, measured one after the other, is up against.

White noise would fall as 1 / sqrt(tau): then longer rounds would cancel more of it. Where it
stays flat (on this project's 2-core VM, about 2 % from 50 ms to seconds), a round's length buys
little and the number of rounds paired is what counts (``benchsuite.instruments.rounds.RoundsConfig``).

Usage: python benchmarks/bench_machine_noise.py [--seconds 30]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

TAUS_S = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 4.0)


def call_durations(seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """Start times (s since the first call) and durations (s) of back-to-back calls."""
    torch.set_num_threads(1)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(16 * 6 * 6, 10),
    ).eval()
    batch = torch.randn(1, 1, 8, 8)
    stamps = []
    with torch.inference_mode():
        end = time.perf_counter() + seconds
        while (now := time.perf_counter()) < end:
            model(batch)
            stamps.append(now)
    times = np.asarray(stamps)
    return times[:-1] - times[0], np.diff(times)


def allan_deviation(starts_s: np.ndarray, durations_s: np.ndarray, tau_s: float) -> float:
    """Relative Allan deviation of the mean call time over slices of ``tau_s``. A slice in which
    no call started (one call ran longer than the slice) is left out with its neighbours' pairs."""
    index = (starts_s / tau_s).astype(int)
    counts = np.bincount(index)
    totals = np.bincount(index, weights=durations_s)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = totals / counts
    both = (counts[1:] > 0) & (counts[:-1] > 0)
    steps = np.diff(means)[both]
    return float(np.sqrt(0.5 * np.mean(steps**2)) / np.nanmean(means))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    starts, durations = call_durations(args.seconds)
    print(
        f"{len(durations)} calls in {args.seconds:g} s, median {np.median(durations) * 1e6:.1f} µs"
    )
    print("| slice | Allan deviation | slices |")
    print("| --- | --- | --- |")
    for tau in TAUS_S:
        slices = int(args.seconds / tau)
        print(f"| {tau:g} s | {allan_deviation(starts, durations, tau):.2%} | {slices} |")


if __name__ == "__main__":
    main()
