"""How often a GPU's NVML energy counter and power reading change, and whether they agree.

benchsuite stretches energy windows to 100 update periods of the meter (docs/energy.md) and takes
NVML's energy counter to move every 100 ms. This checks that on your GPU:

1. reads ``nvmlDeviceGetTotalEnergyConsumption`` (mJ) and ``nvmlDeviceGetPowerUsage`` (mW) in a
   tight loop, idle and under a bf16 matrix-product load, and prints the median, min and max
   time between changes;
2. under load, compares the counter's energy over ``--window-s`` with 100 Hz power polling
   integrated by the trapezoid rule;
3. prints five back-to-back 1 s counter windows, to show how far a short window can stray.

Needs a CUDA GPU, torch with CUDA and nvidia-ml-py. Reads only; changes no GPU setting.
Usage: python benchmarks/bench_nvml_counter.py [--gpu 0] [--window-s 10]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import threading
import time
from collections.abc import Callable

import pynvml
import torch


def change_times_s(read: Callable[[], int], seconds: float) -> tuple[int, list[float]]:
    """(reads made, times in s at which the value changed) over ``seconds`` of tight reading."""
    start = time.perf_counter()
    last, reads, changes = read(), 0, []
    while (now := time.perf_counter()) - start < seconds:
        value = read()
        reads += 1
        if value != last:
            changes.append(now - start)
            last = value
    return reads, changes


def report_gaps(label: str, reads: int, changes: list[float]) -> None:
    gaps_ms = [1e3 * (b - a) for a, b in itertools.pairwise(changes)]
    summary: dict[str, object] = {"what": label, "reads": reads, "changes": len(changes)}
    if gaps_ms:
        summary |= {
            "gap_median_ms": round(statistics.median(gaps_ms), 2),
            "gap_min_ms": round(min(gaps_ms), 2),
            "gap_max_ms": round(max(gaps_ms), 2),
        }
    print(json.dumps(summary), flush=True)


def matmul_load(stop: threading.Event) -> None:
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    while not stop.is_set():
        for _ in range(20):
            a @ a
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gpu", type=int, default=0, help="NVML index of the GPU")
    parser.add_argument("--window-s", type=float, default=10.0)
    args = parser.parse_args()

    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as error:
        raise SystemExit(
            f"NVML could not start ({error}): this needs an NVIDIA GPU and driver"
        ) from None
    handle = pynvml.nvmlDeviceGetHandleByIndex(args.gpu)
    print(
        json.dumps(
            {
                "gpu": pynvml.nvmlDeviceGetName(handle),
                "driver": pynvml.nvmlSystemGetDriverVersion(),
                "power_limit_w": pynvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000,
            }
        )
    )

    def energy_mj() -> int:
        return pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)

    def power_mw() -> int:
        return pynvml.nvmlDeviceGetPowerUsage(handle)

    report_gaps("energy counter, idle", *change_times_s(energy_mj, 3.0))
    report_gaps("power reading, idle", *change_times_s(power_mw, 3.0))

    stop = threading.Event()
    load = threading.Thread(target=matmul_load, args=(stop,))
    load.start()
    try:
        time.sleep(2.0)  # clocks up
        report_gaps("energy counter, busy", *change_times_s(energy_mj, 3.0))
        report_gaps("power reading, busy", *change_times_s(power_mw, 3.0))

        start_mj, start = energy_mj(), time.perf_counter()
        points: list[tuple[float, float]] = []
        while (now := time.perf_counter()) - start < args.window_s:
            points.append((now, power_mw() / 1000))
            time.sleep(0.01)
        counter_j = (energy_mj() - start_mj) / 1000
        polled_j = sum(
            (t1 - t0) * (p0 + p1) / 2 for (t0, p0), (t1, p1) in itertools.pairwise(points)
        )
        print(
            json.dumps(
                {
                    "what": f"busy {args.window_s:g} s window",
                    "counter_j": round(counter_j, 1),
                    "polled_100hz_j": round(polled_j, 1),
                    "difference_pct": round(100 * (polled_j / counter_j - 1), 3),
                }
            )
        )

        short_windows_w = []
        for _ in range(5):
            start_mj, start = energy_mj(), time.perf_counter()
            time.sleep(1.0)
            joules = (energy_mj() - start_mj) / 1000
            short_windows_w.append(round(joules / (time.perf_counter() - start), 1))
        print(json.dumps({"what": "five 1 s counter windows, busy", "power_w": short_windows_w}))
    finally:
        stop.set()
        load.join()
        pynvml.nvmlShutdown()


if __name__ == "__main__":
    main()
