"""The serving loop on the real clock: queueing against M/D/1 theory, and what the loop costs.

(a) A model of fixed service time that sleeps (the CPU idles, as a GPU-bound server's host
    does): batches of one, Poisson arrivals at several loads. The mean wait in the queue is
    compared with M/D/1 theory, rho / (2 mu (1 - rho)). On the real clock the OS wakes the loop a
    little late after each sleep, so the service really takes a little longer than asked: theory
    is computed with the mean service time measured. The loop's own time and late wake-ups land
    in the waits, so the measured mean sits slightly above theory; both are printed.
(b) digits-cnn on one thread, batches of up to 8, 2 ms queue wait, at 20/50/80 % of its measured
    maximum throughput: the loop's overhead per request beside the model's service time per
    request, and the share of the window it takes. The target (issue 16): the loop is not what
    limits the rate, i.e. its overhead per request is well below the model's service time.

Usage: python benchmarks/bench_server.py [--requests 4000] [--service-ms 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from benchsuite.instruments.serving_loop import ServingPolicy, poisson_arrivals_ns, serve
from benchsuite.workload.batch import bound_call
from benchsuite.workload.discovery import load_workloads


def md1(requests: int, service_ms: float) -> None:
    service_s = service_ms / 1e3
    mu = 1 / service_s
    print(f"(a) M/D/1, service {service_ms} ms (sleeping), {requests} requests per load")
    print(
        "  rho (real service)   theory wait ms   measured ms   ratio   loop overhead us/req   late wake mean us"
    )
    for rho in (0.3, 0.5, 0.8):
        arrivals = poisson_arrivals_ns(rho * mu, requests, seed=11)
        served = serve(lambda size: time.sleep(service_s), arrivals, ServingPolicy(1, 0))
        # theory with the service time the sleeps really took (they overshoot a little)
        real_service_s = served.busy_ns / served.batch_sizes.size / 1e9
        real_rho = rho * mu * real_service_s
        theory_ms = real_rho * real_service_s / (2 * (1 - real_rho)) * 1e3
        waits_ms = served.latencies_ns / 1e6 - real_service_s * 1e3
        overhead_us = served.overhead_ns / served.requests / 1e3
        late_us = float(np.mean(served.late_wakeups_ns)) / 1e3
        print(
            f"  {real_rho:18.3f}   {theory_ms:14.3f}   {waits_ms.mean():11.3f}   "
            f"{waits_ms.mean() / theory_ms:5.3f}   {overhead_us:20.2f}   {late_us:17.1f}"
        )


def digits(requests: int) -> None:
    torch.set_num_threads(1)
    workload = load_workloads()["digits-cnn"]
    model = workload.reference_model().eval()
    calls = {size: bound_call(model, workload.example_batch(size)) for size in range(1, 9)}
    with torch.inference_mode():
        for call in calls.values():
            call()
        times = []
        for _ in range(300):
            start = time.perf_counter_ns()
            calls[8]()
            times.append(time.perf_counter_ns() - start)
        max_rps = 8 / (float(np.median(times)) / 1e9)
        print(f"(b) digits-cnn, 1 thread, batches <= 8: maximum throughput {max_rps:.0f} req/s")
        print("  load   offered req/s   achieved   mean batch   model us/req   loop us/req   share")
        for load in (0.2, 0.5, 0.8):
            arrivals = poisson_arrivals_ns(load * max_rps, requests, seed=3)
            served = serve(lambda size: calls[size](), arrivals, ServingPolicy(8, 2_000_000))
            achieved = served.requests / (served.duration_ns / 1e9)
            model_us = served.busy_ns / served.requests / 1e3
            loop_us = served.overhead_ns / served.requests / 1e3
            share = served.overhead_ns / served.duration_ns
            print(
                f"  {load:.1f}   {load * max_rps:13.0f}   {achieved:8.0f}   "
                f"{served.batch_sizes.mean():10.2f}   {model_us:12.2f}   {loop_us:11.2f}   "
                f"{share:5.3f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--service-ms", type=float, default=2.0)
    args = parser.parse_args()
    md1(args.requests, args.service_ms)
    digits(args.requests * 5)


if __name__ == "__main__":
    main()
