"""Scenarios ``server`` and ``server-capacity``: energy per request under a load, with a bound.

A model in production is not called back to back: requests arrive at random, the server batches
what is queued, and between bursts the hardware idles while still drawing power. MLPerf's server
scenario measures this with Poisson arrivals and a p99 latency bound; these scenarios add energy.

``server`` (one load level per case, ``/l50`` in the id):

1. build the variant and judge its quality, as inference cases do;
2. warm up at the largest batch, then measure the maximum throughput: the largest batch back to
   back (its median call time), which is the rate the load levels are fractions of;
3. read idle power (an idle window), then serve one load window at ``load_pct`` % of that rate:
   Poisson arrivals (or a replayed trace scaled to the rate), batched dynamically
   (:mod:`benchsuite.instruments.serving_loop`), inside one meter window;
4. per request: end-to-end latency (queue included, the samples table holds each one); per
   window: offered and achieved rate, whether p99 met the bound, energy per request total and
   net of idle, average power, the share of energy that idle power accounts for, the batches
   formed (mean and histogram), and the load generator's own overhead.

A window stops early once more than 1 % of its planned requests have missed the bound: its p99
can no longer meet it, and an overloaded queue would otherwise grow for as long as the window.

``server-capacity`` finds the highest offered rate whose p99 meets the bound, by bisection on the
rate between 0 and the maximum throughput (MLPerf LoadGen's peak-performance search is a binary
search too): each probe is a load window as above; a probe that meets the bound raises the lower
end, one that misses it (or stops early) lowers the upper end. After N probes the rate is known
to within the maximum throughput / 2^N. Its row holds that rate and the last passing probe's
figures.
"""

from __future__ import annotations

import math
import time
from abc import abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

import numpy as np

from benchsuite import units
from benchsuite.case import Case
from benchsuite.instruments import devices
from benchsuite.instruments.config import MeasureConfig
from benchsuite.instruments.energy import (
    EnergyResult,
    EnergyWindow,
    min_window_s,
    one_window,
    read_idle,
)
from benchsuite.instruments.meters.base import EnergyReading, Meter
from benchsuite.instruments.serving_loop import (
    ServedLoad,
    ServingConfig,
    ServingPolicy,
    poisson_arrivals_ns,
    read_trace_s,
    serve,
    sleep_until_ns,
    trace_arrivals_ns,
)
from benchsuite.instruments.timing import SamplingResult, Timer, WarmupResult
from benchsuite.results import CaseResult, LatencyResult
from benchsuite.scenarios.base import Metric, RawSamples, Role, Scenario, SummaryCells, energy_flag
from benchsuite.scenarios.inference import model_facts
from benchsuite.scenarios.steps import evaluate_quality, fp32_twin, memory_peaks, torch_threads
from benchsuite.variants import Variant
from benchsuite.workload.base import Workload
from benchsuite.workload.batch import batch_to, bound_call

LATENCY_PERCENTILE = 99
VIOLATION_SHARE = 1 - LATENCY_PERCENTILE / 100
_NS_PER_S = 1e9
_NS_PER_MS = 1e6


@dataclass(frozen=True)
class LoadLevel:
    """One load window: its rate, what the serving loop did, and the energy it read."""

    offered_rps: float
    arrival_process: str
    served: ServedLoad
    reading: EnergyReading
    idle: EnergyReading
    bound_ms: float
    window_note: str = ""
    """How the window's length was chosen, when not simply ``duration_s`` (stretched for a
    coarse meter)."""

    @property
    def p99_ms(self) -> float:
        latencies = self.served.latencies_ns
        return float(np.percentile(latencies, LATENCY_PERCENTILE)) / _NS_PER_MS

    @property
    def bound_met(self) -> bool:
        return not self.served.stopped_early and self.p99_ms <= self.bound_ms

    @cached_property
    def window(self) -> EnergyWindow:
        """The load window as an energy window: its batches, requests and reading."""
        return EnergyWindow(
            0,
            int(self.served.batch_sizes.size),
            self.served.requests,
            self.reading,
            self.idle.average_power_w,
        )

    @property
    def stop_reason(self) -> str:
        return "bound_exceeded" if self.served.stopped_early else "requests"

    def energy(self) -> EnergyResult:
        """The load window as the store's energy columns: one window, so no interval."""
        return one_window(self.idle, self.window, self.window_note)

    @property
    def achieved_rps(self) -> float:
        duration_s = self.served.duration_ns / _NS_PER_S
        return self.served.requests / duration_s if duration_s > 0 else math.nan

    def latency(self, warmup: WarmupResult) -> LatencyResult:
        """Each request's end-to-end latency as the case's samples (the warm-up is the largest
        batch's, before the maximum throughput was measured)."""
        served = self.served
        sampling = SamplingResult(
            served.latencies_ns,
            served.duration_ns / _NS_PER_S,
            self.stop_reason,
            math.nan,
        )
        return LatencyResult(sampling, 1, None, warmup=warmup)

    def columns(self) -> dict[str, Any]:
        served, window = self.served, self.window
        requests = max(served.requests, 1)
        histogram = served.batch_histogram()
        late = served.late_wakeups_ns
        return {
            "offered_rps": self.offered_rps,
            "achieved_rps": self.achieved_rps,
            "throughput_samples_per_s": self.achieved_rps,  # requests served per second
            "arrival_process": self.arrival_process,
            "planned_requests": served.planned_requests,
            "served_requests": served.requests,
            "latency_bound_ms": self.bound_ms,
            "latency_bound_met": self.bound_met,
            "energy_per_request_j": window.energy_per_sample_j if served.requests else None,
            "energy_per_request_net_j": window.net_energy_per_sample_j if served.requests else None,
            "idle_energy_share": 1 - window.net_energy_j / self.reading.energy_j
            if self.reading.energy_j > 0
            else None,
            "mean_batch_size_formed": float(served.batch_sizes.mean())
            if served.batch_sizes.size
            else None,
            "batch_size_histogram": " ".join(f"{size}:{n}" for size, n in histogram.items()),
            "loadgen_overhead_us_per_request": served.overhead_ns / requests / 1e3,
            "loadgen_overhead_share": served.overhead_ns / served.duration_ns
            if served.duration_ns
            else None,
            "loadgen_late_wakeup_p99_us": float(np.percentile(late, 99)) / 1e3
            if late.size
            else 0.0,
            "stop_reason": self.stop_reason,
        }


@dataclass(frozen=True)
class ServerFacts:
    """The maximum throughput the levels are fractions of, and the capacity search's outcome."""

    max_throughput_rps: float
    max_queue_wait_ms: float
    level: LoadLevel
    capacity_rps: float | None = None
    capacity_search: str | None = None

    def columns(self) -> dict[str, Any]:
        columns = {
            "max_throughput_rps": self.max_throughput_rps,
            "max_queue_wait_ms": self.max_queue_wait_ms,
            **self.level.columns(),
        }
        if self.capacity_search is not None:
            columns.update(capacity_rps=self.capacity_rps, capacity_search=self.capacity_search)
        return columns


class LoadRunner:
    """What every load window of one case shares: the model's batch calls, the policy, the
    meter and the idle reading.

    ``shortest_window_s`` is the shortest window the meter reads validly (100 update periods:
    10 s for NVML). A Poisson window planned by ``duration_s`` is stretched to it, as every other
    energy window is, instead of ending as an invalid reading; a fixed ``requests`` count or a
    trace keeps its length, and a window too short for the meter is then an invalid row that
    says why."""

    def __init__(
        self,
        calls: Mapping[int, Callable[[], object]],
        sync: Callable[[], None] | None,
        meter: Meter,
        idle: EnergyReading,
        settings: ServingConfig,
        max_batch_size: int,
        clock: Callable[[], int] = time.perf_counter_ns,
        sleep_until: Callable[[int], None] = sleep_until_ns,
        shortest_window_s: float = 0.0,
    ) -> None:
        self.calls, self.sync, self.meter, self.idle = calls, sync, meter, idle
        self.shortest_window_ns = round(shortest_window_s * _NS_PER_S)
        self.clock, self.sleep_until = clock, sleep_until
        self.settings = settings
        self.policy = ServingPolicy(max_batch_size, round(settings.max_queue_wait_ms * _NS_PER_MS))
        self.trace_s = (
            read_trace_s(settings.arrival_trace) if settings.arrival_trace is not None else None
        )

    def _run_batch(self, size: int) -> None:
        self.calls[size]()
        if self.sync is not None:
            self.sync()

    def arrivals(self, rate_per_s: float) -> tuple[np.ndarray, str, str]:
        """The window's arrival times, the arrival process and how the length was chosen."""
        count = self.settings.planned_requests(rate_per_s)
        if self.trace_s is None:
            seed = self.settings.seed
            arrivals = poisson_arrivals_ns(rate_per_s, count, seed)
            note = ""
            if self.settings.requests is None and arrivals[-1] < self.shortest_window_ns:
                # more requests of the same seed (the planned ones come first) until the
                # arrivals span the meter's shortest window
                while arrivals[-1] < self.shortest_window_ns:
                    count = math.ceil(count * 1.1) + 1
                    arrivals = poisson_arrivals_ns(rate_per_s, count, seed)
                note = (
                    f"load window stretched from duration_s = {self.settings.duration_s:g} s to "
                    f"{self.shortest_window_ns / _NS_PER_S:g} s of arrivals ({count} requests): "
                    "the meter's shortest valid window, 100 update periods"
                )
            return arrivals, f"poisson (seed {seed})", note
        arrivals = trace_arrivals_ns(self.trace_s, rate_per_s)
        name = self.settings.arrival_trace.name if self.settings.arrival_trace else "trace"
        return arrivals, f"trace {name}, scaled to the rate", ""

    def level(self, rate_per_s: float) -> LoadLevel:
        arrivals, process, note = self.arrivals(rate_per_s)
        bound_ns = round(self.settings.latency_bound_ms * _NS_PER_MS)
        allowed = math.floor(arrivals.size * VIOLATION_SHARE)
        with self.meter.window() as window:
            served = serve(
                self._run_batch,
                arrivals,
                self.policy,
                self.clock,
                self.sleep_until,
                bound_ns=bound_ns,
                allowed_violations=allowed,
            )
        return LoadLevel(
            rate_per_s,
            process,
            served,
            window.reading,
            self.idle,
            self.settings.latency_bound_ms,
            note,
        )


Level = TypeVar("Level")


def capacity_search(
    probe: Callable[[float], Level],
    max_rps: float,
    probes: int,
    passed: Callable[[Level], bool],
) -> tuple[float, Level | None, Level]:
    """Bisection on the offered rate over [0, max_rps]: (highest passing rate, its level or
    None when no probe passed, the last probe). A served model's and an endpoint's search."""
    low, high = 0.0, max_rps
    best: Level | None = None
    last: Level | None = None
    for _ in range(probes):
        rate = (low + high) / 2
        last = probe(rate)
        if passed(last):
            low, best = rate, last
        else:
            high = rate
    assert last is not None
    return low, best, last


class ServerScenario(Scenario):
    """The protocol both server scenarios share; subclasses choose the load windows."""

    role = Role.INFERENCE
    metrics = (
        Metric("latency_p99_ms", "p99 latency under load"),
        Metric("energy_per_request_j", "energy per request under load", needs_measured_energy=True),
        Metric("latency_p50_ms", "latency p50 under load", raw_samples=RawSamples.LATENCY),
        Metric("achieved_rps", "achieved requests per second", lower_is_better=False),
        Metric("peak_rss_bytes", "peak RSS"),
    )

    def run(
        self,
        case: Case,
        workload: Workload,
        variant: Variant,
        meter: Meter,
        config: MeasureConfig,
    ) -> CaseResult:
        settings = config.serving
        largest = case.batch_size
        sync = devices.synchronizer(case.device)
        with torch_threads(case.threads), memory_peaks(case.device) as peaks:
            prepared = workload.prepare_variant(variant, case.device)
            quality = evaluate_quality(workload, prepared, fp32_twin(workload, variant, prepared))
            batches = {
                size: batch_to(workload.example_batch(size), case.device)
                for size in range(1, largest + 1)
            }
            facts = model_facts(variant, prepared, batches[1], 1)
            calls = {size: bound_call(prepared.module, batch) for size, batch in batches.items()}
            with prepared.context():
                for call in calls.values():  # every shape once: first calls may compile
                    call()
                timer = Timer(calls[largest], sync)
                warmup = timer.warm_up(config.sampling)
                typical_ns = float(np.median(warmup.samples_ns[-max(1, warmup.calls // 4) :]))
                saturated = timer.sample(config.sampling, typical_ns)
                max_rps = largest / (float(np.median(saturated.samples_ns)) / _NS_PER_S)
                idle = config.idle_for(case.device) or read_idle(meter, config.energy.idle_s)
                runner = LoadRunner(
                    calls,
                    sync,
                    meter,
                    idle,
                    settings,
                    largest,
                    shortest_window_s=min_window_s(meter.info().resolution_s or 0.0),
                )
                level, capacity, method = self.load_windows(case, runner, max_rps, settings)
            memory = peaks()
        server = ServerFacts(
            max_rps, settings.max_queue_wait_ms, level, capacity, method if method else None
        )
        source = workload.source_facts()
        return CaseResult(
            case,
            model=facts,
            quality=quality,
            latency=level.latency(warmup),
            energy=level.energy(),
            memory=memory,
            extra=(server, *((source,) if source is not None else ())),
        )

    @abstractmethod
    def load_windows(
        self, case: Case, runner: LoadRunner, max_rps: float, settings: ServingConfig
    ) -> tuple[LoadLevel, float | None, str]:
        """The level the row reports, the capacity found (or None) and how it was found."""

    def summary(self, row: Mapping[str, Any]) -> SummaryCells:
        met = "met" if row["latency_bound_met"] else "MISSED"
        return SummaryCells(
            latency=f"p99 {units.duration_ms(row['latency_p99_ms'])} {met}",
            throughput=f"{units.plain(row['achieved_rps'])} of "
            f"{units.plain(row['offered_rps'])} req/s",
            energy=f"{units.energy(row['energy_per_request_j'])}/req" + energy_flag(row),
            notes=f"batch {row['mean_batch_size_formed']:.2g}, {row['stop_reason']}",
        )


class Server(ServerScenario):
    name = "server"
    description = (
        "Poisson arrivals at load_pct % of the maximum throughput, dynamic batching: "
        "p99 latency against a bound, energy per request under load"
    )
    load_axis = True

    def load_windows(
        self, case: Case, runner: LoadRunner, max_rps: float, settings: ServingConfig
    ) -> tuple[LoadLevel, float | None, str]:
        assert case.load_pct is not None
        return runner.level(max_rps * case.load_pct / 100), None, ""


class ServerCapacity(ServerScenario):
    name = "server-capacity"
    description = "the highest Poisson request rate whose p99 latency meets the bound (bisection)"

    def load_windows(
        self, case: Case, runner: LoadRunner, max_rps: float, settings: ServingConfig
    ) -> tuple[LoadLevel, float | None, str]:
        rate, best, last = capacity_search(
            runner.level, max_rps, settings.search_probes, lambda level: level.bound_met
        )
        method = (
            f"bisection on the offered rate over [0, {max_rps:.4g}] req/s (the maximum "
            f"throughput), {settings.search_probes} probes, each a load window whose p99 must "
            f"be <= {settings.latency_bound_ms:g} ms; precision "
            f"{max_rps / 2**settings.search_probes:.3g} req/s"
        )
        return (best if best is not None else last), rate, method
