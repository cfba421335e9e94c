"""Load generation and a dynamically batching serving loop, in one thread, on one clock.

The load is *open-loop*: each request has a scheduled arrival time (Poisson, or a replayed
trace) fixed before the run starts, and it arrives then whether or not the server is busy, as
MLPerf LoadGen's server scenario issues queries. A request's latency is its completion time
minus its scheduled arrival, so it includes its time in the queue, and any lateness of the loop
itself counts against the server, never in its favour.

The generator and the server share one thread: on a small machine a second thread would take a
core from the model, and Python's GIL would make the two contend. The loop:

1. admits every request whose arrival time has passed into the queue (FIFO);
2. with an empty queue, sleeps until the next arrival (the hardware idles, as it would);
3. with fewer queued requests than the maximum batch, waits for the next arrival or until the
   oldest has waited ``max_queue_wait``, whichever comes first (no wait when no request is left
   to come);
4. runs one batch of up to ``max_batch_size`` queued requests and stamps their completion.

What the loop spends outside the model and outside sleeping is its own overhead, kept with the
result, as is how late each sleep woke. Both must stay small beside the model's service time,
or the loop, not the model, would limit the rate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchsuite.errors import UsageError

_NS_PER_S = 1_000_000_000


def poisson_arrivals_ns(rate_per_s: float, count: int, seed: int) -> np.ndarray:
    """``count`` arrival times (ns from the start) of a Poisson process of ``rate_per_s``: the
    gaps are independent exponentials of mean 1/rate. The first request arrives at 0."""
    if rate_per_s <= 0 or count < 1:
        raise ValueError(f"a Poisson load needs a positive rate and count ({rate_per_s}, {count})")
    gaps_s = np.random.default_rng(seed).exponential(1.0 / rate_per_s, count)
    gaps_s[0] = 0.0
    return np.round(np.cumsum(gaps_s) * _NS_PER_S).astype(np.int64)


def read_trace_s(path: Path) -> np.ndarray:
    """Arrival timestamps in seconds from a text file: one number per line (a CSV's first
    column; a header line and blank lines are skipped), in any origin, sorted here."""
    try:
        lines = path.read_text().splitlines()
    except OSError as error:
        raise UsageError(f"arrival trace {path}: cannot read it ({error.strerror})") from None
    stamps: list[float] = []
    for number, line in enumerate(lines, start=1):
        field = line.split(",", 1)[0].strip()
        if not field:
            continue
        try:
            stamps.append(float(field))
        except ValueError:
            if stamps or number > 1:
                raise UsageError(
                    f"arrival trace {path}: line {number} is {field!r}, not a timestamp in "
                    "seconds; the file holds one timestamp per line (a header line is allowed)"
                ) from None
    if len(stamps) < 2:
        raise UsageError(f"arrival trace {path}: needs at least two timestamps, has {len(stamps)}")
    return np.sort(np.asarray(stamps, dtype=float))


def trace_arrivals_ns(stamps_s: np.ndarray, rate_per_s: float) -> np.ndarray:
    """A trace's arrivals from 0, stretched or squeezed in time so its mean rate is
    ``rate_per_s``: its bursts and lulls keep their shape, the level is the case's."""
    offsets_s = stamps_s - stamps_s[0]
    span_s = offsets_s[-1]
    if span_s <= 0:
        raise UsageError("arrival trace: every timestamp is the same; it has no rate to scale")
    native_rate = (len(offsets_s) - 1) / span_s
    return np.round(offsets_s * (native_rate / rate_per_s) * _NS_PER_S).astype(np.int64)


@dataclass(frozen=True)
class ServingConfig:
    """A suite's ``[serving]`` table: the load, the batching policy and the latency bound."""

    latency_bound_ms: float = 100.0
    """The bound on the p99 end-to-end latency (queue included) a load level must meet."""
    max_queue_wait_ms: float = 2.0
    duration_s: float = 10.0
    """How long a load window lasts at its offered rate (it sets the number of requests)."""
    requests: int | None = None
    """A fixed number of requests per load window instead of ``duration_s``."""
    arrival_trace: Path | None = None
    """Replay these timestamps (scaled to each level's rate) instead of Poisson arrivals."""
    seed: int = 0
    search_probes: int = 6
    """Bisection steps of the capacity search: the rate is found to max throughput / 2^N."""

    def __post_init__(self) -> None:
        for name in ("latency_bound_ms", "duration_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.max_queue_wait_ms < 0:
            raise ValueError(f"max_queue_wait_ms must be >= 0, got {self.max_queue_wait_ms!r}")
        if self.requests is not None and self.requests < 2:
            raise ValueError(f"requests must be at least 2, got {self.requests!r}")
        if self.search_probes < 1:
            raise ValueError(f"search_probes must be at least 1, got {self.search_probes!r}")

    def planned_requests(self, rate_per_s: float) -> int:
        if self.requests is not None:
            return self.requests
        return max(2, round(rate_per_s * self.duration_s))


@dataclass(frozen=True)
class ServingPolicy:
    """How the server forms batches: at most ``max_batch_size`` requests, and a request waits
    at most ``max_queue_wait_ns`` for others to join it (0: run what is queued at once)."""

    max_batch_size: int
    max_queue_wait_ns: int

    def __post_init__(self) -> None:
        if self.max_batch_size < 1 or self.max_queue_wait_ns < 0:
            raise ValueError(f"invalid serving policy {self}")


@dataclass(frozen=True)
class ServedLoad:
    """What one load window did, request by request and batch by batch (ns from its start)."""

    arrivals_ns: np.ndarray
    """Scheduled arrival of each request that was served."""
    done_ns: np.ndarray
    """Completion of each served request (its batch's end)."""
    batch_sizes: np.ndarray
    """The size of each batch formed, in order."""
    planned_requests: int
    duration_ns: int
    busy_ns: int
    """Inside the model's calls."""
    sleep_ns: int
    """Asleep, waiting for an arrival or for a batch to fill."""
    late_wakeups_ns: np.ndarray
    """How long after its target each sleep woke."""
    stopped_early: bool = False
    """True when the run stopped because its latency bound could no longer be met."""

    @property
    def latencies_ns(self) -> np.ndarray:
        return self.done_ns - self.arrivals_ns

    @property
    def requests(self) -> int:
        return int(self.done_ns.size)

    @property
    def overhead_ns(self) -> int:
        """The loop's own time: neither in the model nor asleep."""
        return self.duration_ns - self.busy_ns - self.sleep_ns

    def batch_histogram(self) -> dict[int, int]:
        sizes, counts = np.unique(self.batch_sizes, return_counts=True)
        return {int(size): int(count) for size, count in zip(sizes, counts, strict=True)}


def sleep_until_ns(target_ns: int, clock: Callable[[], int] = time.perf_counter_ns) -> None:
    """Sleep until ``clock()`` reaches ``target_ns`` (the OS may wake us a little late)."""
    remaining = target_ns - clock()
    if remaining > 0:
        time.sleep(remaining / _NS_PER_S)


def serve(
    run_batch: Callable[[int], object],
    arrivals_ns: np.ndarray,
    policy: ServingPolicy,
    clock: Callable[[], int] = time.perf_counter_ns,
    sleep_until: Callable[[int], None] = sleep_until_ns,
    bound_ns: int | None = None,
    allowed_violations: int | None = None,
) -> ServedLoad:
    """Serve every request of ``arrivals_ns`` with ``run_batch(size)``; see the module doc.

    With ``bound_ns`` and ``allowed_violations``, the run stops as soon as more than
    ``allowed_violations`` requests have finished later than the bound: its percentile can no
    longer meet the bound, whatever the rest would do (a level that clearly fails ends early).
    """
    count = int(arrivals_ns.size)
    done = np.zeros(count, dtype=np.int64)
    batches: list[int] = []
    late: list[int] = []
    busy = slept = 0
    violations = 0
    head = admitted = 0  # requests [head, admitted) are queued
    stopped = False
    start = clock()
    while head < count:
        now = clock() - start
        while admitted < count and arrivals_ns[admitted] <= now:
            admitted += 1
        queued = admitted - head
        wake_ns: int | None = None
        if queued == 0:
            wake_ns = int(arrivals_ns[admitted])
        elif queued < policy.max_batch_size and admitted < count:
            deadline = int(arrivals_ns[head]) + policy.max_queue_wait_ns
            if now < deadline:
                wake_ns = min(deadline, int(arrivals_ns[admitted]))
        if wake_ns is not None:
            before = clock()
            sleep_until(start + wake_ns)
            after = clock()
            slept += after - before
            late.append(max(0, after - (start + wake_ns)))
            continue
        size = min(queued, policy.max_batch_size)
        began = clock()
        run_batch(size)
        finished = clock()
        busy += finished - began
        done[head : head + size] = finished - start
        if bound_ns is not None:
            violations += int(
                np.count_nonzero(finished - start - arrivals_ns[head : head + size] > bound_ns)
            )
        batches.append(size)
        head += size
        if allowed_violations is not None and violations > allowed_violations:
            stopped = head < count
            break
    duration = clock() - start
    return ServedLoad(
        arrivals_ns=arrivals_ns[:head].copy(),
        done_ns=done[:head],
        batch_sizes=np.asarray(batches, dtype=np.int64),
        planned_requests=count,
        duration_ns=int(duration),
        busy_ns=int(busy),
        sleep_ns=int(slept),
        late_wakeups_ns=np.asarray(late, dtype=np.int64),
        stopped_early=stopped,
    )
