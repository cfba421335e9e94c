"""Load on an endpoint, shaped as the load generators that teams trust shape it.

* **Open loop** (:func:`open_loop`): requests arrive on a schedule whatever the server does:
  Poisson, or gamma with a burstiness factor (shape = burstiness, mean gap 1/rate; 1 is
  Poisson, below 1 burstier), as vLLM's ``bench serve`` draws them. A request the client sends
  late is timed from its scheduled arrival (no coordinated omission).
* **Closed loop** (:func:`closed_loop`): N users, each sending its next request when the last
  one is answered; at enough users this is the endpoint's maximum throughput.
* **Over-saturation**: an open-loop level stops early, and says so, once the requests in flight
  grow without bound. Little's law gives the backlog a stable server holds (rate x latency); a
  backlog over three times that (and over 8), over half of that all through the last 2.5 s,
  and still growing by at least a fifth of the rate over the last 5 s (least squares over
  0.25 s samples), cannot drain, and a longer window
  would only measure the queue (guidellm stops a level on a slope test too). The test is
  deliberately slow to fire: a shared machine's passing stall must not end a level.
* **A dead server**: a level stops after ``dead_after`` requests in a row fail to connect with
  none answered since; its outcome counts say so.

Prompts are a seeded, recorded stream (:class:`PromptStream`): request ``i`` of every level and
of every arm of a comparison gets the same text.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from importlib import resources

import numpy as np

from benchsuite.instruments.endpoint_client import (
    Endpoint,
    RequestBody,
    RequestOutcome,
    RequestRecord,
    stream_request,
)

_NS_PER_S = 1e9
_NS_PER_MS = 1e6
SATURATION_SAMPLE_S = 0.25
SATURATION_SPAN_S = 5.0
ARRIVAL_PROCESSES = ("poisson", "gamma")


def arrival_times_ns(
    rate_per_s: float, count: int, process: str = "poisson", burstiness: float = 1.0, seed: int = 0
) -> np.ndarray:
    """``count`` arrival times (ns from the window's start, the first at 0) at ``rate_per_s``:
    exponential gaps (Poisson), or gamma gaps of shape ``burstiness``, scaled so that the
    ``count`` gaps add up to ``count / rate_per_s`` exactly. Unscaled, a window of 100 Poisson
    arrivals offers its rate only within about ±10 % (the spread of a sum of 100 gaps); scaled,
    the window offers the rate it names, and keeps the gaps' shape (for Poisson: the arrivals
    of a Poisson process given their number in the window)."""
    if rate_per_s <= 0 or count < 1:
        raise ValueError(f"an arrival schedule needs a positive rate and count, got {rate_per_s}")
    generator = np.random.default_rng(seed)
    if process == "poisson" or burstiness == 1.0:
        gaps = generator.exponential(1 / rate_per_s, count)
    elif process == "gamma":
        gaps = generator.gamma(burstiness, 1 / (rate_per_s * burstiness), count)
    else:
        raise ValueError(f"arrival process {process!r}: one of {', '.join(ARRIVAL_PROCESSES)}")
    gaps *= (count / rate_per_s) / gaps.sum()
    return np.concatenate(([0.0], np.cumsum(gaps[:-1]))) * _NS_PER_S


def _bundled_texts() -> list[str]:
    text = resources.files("benchsuite.instruments").joinpath("prompt_texts.txt").read_text()
    return [line.strip() for line in text.splitlines() if line.strip()]


@dataclass(frozen=True)
class PromptStream:
    """Prompts of ``words`` words each, cut from real text (the bundled prose, or the texts of
    a model's ``eval_data``) in a seeded order; ``prompt(i)`` is the same for every level and arm.
    Words, not tokens: the server's tokenizer is not ours; the prompt tokens the server counted
    are recorded from its ``usage``."""

    words: int
    seed: int = 0
    texts: tuple[str, ...] = ()

    @cached_property
    def _pool(self) -> list[str]:
        """The texts' words in the seeded order of the texts (read once per stream)."""
        texts = list(self.texts) or _bundled_texts()
        order = np.random.default_rng(self.seed).permutation(len(texts))
        return [word for index in order for word in texts[index].split()]

    def prompt(self, index: int) -> str:
        pool = self._pool
        start = (index * 7919 + self.seed) % len(pool)  # a prime stride: prompts overlap little
        picked = [pool[(start + offset) % len(pool)] for offset in range(self.words)]
        return " ".join(picked)

    def prompts(self, count: int) -> list[str]:
        return [self.prompt(index) for index in range(count)]

    def describe(self, count: int) -> str:
        digest = hashlib.sha256("\n".join(self.prompts(count)).encode()).hexdigest()[:12]
        origin = "the model's eval_data texts" if self.texts else "benchsuite's bundled prose"
        return (
            f"{self.words}-word prompts cut from {origin}, seed {self.seed}; the first {count} "
            f"hash to {digest}"
        )


@dataclass(frozen=True)
class LoadRun:
    """What one load window did: every request's record and why the window ended."""

    records: tuple[RequestRecord, ...]
    planned_requests: int
    duration_ns: int
    stop_reason: str
    saturated: bool = False
    server_gone: bool = False
    late_sends_p99_ms: float = 0.0
    origin_ns: int = 0
    """The window's start on ``time.perf_counter_ns``: the records' times are from it."""

    @cached_property
    def completed(self) -> list[RequestRecord]:
        """The requests answered in full, in the order they were sent."""
        return [record for record in self.records if record.ok]

    def tokens_between(self, start_ns: int, end_ns: int) -> float:
        """Output tokens that arrived in [start_ns, end_ns) (``perf_counter_ns``): a chunk
        carries its record's tokens shared evenly over its chunks; an answer with no text
        arrives at its end."""
        total = 0.0
        for record in self.completed:
            times = record.chunk_ns or (record.done_ns,)
            share = record.output_tokens / len(times)
            total += share * sum(1 for t in times if start_ns <= self.origin_ns + t < end_ns)
        return total

    def outcome_counts(self) -> Counter[str]:
        return Counter(str(record.outcome) for record in self.records)

    def faults(self) -> str:
        """``timeout:2 http-error:1`` (empty when every request was answered in full)."""
        counts = self.outcome_counts()
        return " ".join(
            f"{outcome}:{counts[outcome]}"
            for outcome in RequestOutcome
            if outcome != "ok" and counts[outcome]
        )

    def first_error(self) -> str:
        return next((record.error for record in self.records if record.error), "")


class _Saturation:
    """The over-saturation test above, fed with (time, requests in flight) samples."""

    def __init__(self, rate_per_s: float) -> None:
        self.rate_per_s = rate_per_s
        self.samples: list[tuple[float, int]] = []

    def saturated(self, now_s: float, in_flight: int, latencies_s: Sequence[float]) -> bool:
        self.samples.append((now_s, in_flight))
        recent = [(t, n) for t, n in self.samples if t >= now_s - SATURATION_SPAN_S]
        if now_s < SATURATION_SPAN_S or len(recent) < 6:
            return False
        typical_s = float(np.median(latencies_s)) if latencies_s else now_s
        stable_backlog = max(8.0, 3 * self.rate_per_s * typical_s)
        times, counts = np.array(recent, dtype=float).T
        slope = float(np.polyfit(times, counts, 1)[0])
        building = counts[len(counts) // 2 :].min() > stable_backlog / 2  # not a passing stall
        return in_flight > stable_backlog and building and slope >= 0.2 * self.rate_per_s


class _OpenLoop:
    """The state of one open-loop window while it sends: its tasks, and its stop tests."""

    def __init__(self, rate_per_s: float, dead_after: int) -> None:
        self.origin = time.perf_counter_ns()
        self.tasks: list[asyncio.Task[RequestRecord]] = []
        self.late_ns: list[int] = []
        self.saturation = _Saturation(rate_per_s)
        self.latencies_s: list[float] = []
        self.refused_in_row = 0
        self.dead_after = dead_after
        self.saturated = self.gone = False
        self.next_check_ns = SATURATION_SAMPLE_S * _NS_PER_S

    def finished(self, task: asyncio.Task[RequestRecord]) -> None:
        record = task.result()
        if record.ok:
            self.latencies_s.append(record.e2e_ns / _NS_PER_S)
            self.refused_in_row = 0
        elif record.outcome is RequestOutcome.CONNECTION:
            self.refused_in_row += 1

    async def wait_until(self, due_ns: float) -> bool:
        """Sleep until ``due_ns``; ``False`` when the window must stop sending first."""
        while True:
            now_ns = time.perf_counter_ns() - self.origin
            if now_ns >= self.next_check_ns:
                self.next_check_ns += SATURATION_SAMPLE_S * _NS_PER_S
                in_flight = sum(1 for task in self.tasks if not task.done())
                if self.saturation.saturated(now_ns / _NS_PER_S, in_flight, self.latencies_s):
                    self.saturated = True
            self.gone = self.refused_in_row >= self.dead_after
            if self.saturated or self.gone:
                return False
            if now_ns >= due_ns:
                self.late_ns.append(int(now_ns - due_ns))
                return True
            await asyncio.sleep(min((due_ns - now_ns) / _NS_PER_S, SATURATION_SAMPLE_S))

    def stop_reason(self, sent: int, planned: int) -> str:
        if self.saturated:
            return (
                f"over-saturated: stopped sending after {sent} of {planned} requests (the "
                "requests in flight kept growing past twice the stable backlog)"
            )
        if self.gone:
            return f"server stopped answering: {self.dead_after} connections failed in a row"
        return "all planned requests sent and answered"


def open_loop(
    endpoint: Endpoint,
    bodies: Sequence[RequestBody],
    arrivals_ns: np.ndarray,
    timeout_s: float,
    rate_per_s: float,
    dead_after: int = 5,
) -> LoadRun:
    """Send ``bodies[i]`` at ``arrivals_ns[i]``; wait for the answers (each within
    ``timeout_s``). Stops sending early on over-saturation or a dead server."""

    async def run() -> LoadRun:
        window = _OpenLoop(rate_per_s, dead_after)
        for body, due_ns in zip(bodies, arrivals_ns, strict=False):
            if not await window.wait_until(float(due_ns)):
                break
            task = asyncio.create_task(
                stream_request(endpoint, body, int(due_ns), window.origin, timeout_s)
            )
            task.add_done_callback(window.finished)
            window.tasks.append(task)
        records = await asyncio.gather(*window.tasks)
        late = window.late_ns
        # the window lasts the schedule's length (its requests at its rate: the last one's gap
        # included), or until the last answer when that comes later
        scheduled_ns = round(len(window.tasks) / rate_per_s * _NS_PER_S)
        return LoadRun(
            tuple(records),
            len(bodies),
            max(time.perf_counter_ns() - window.origin, scheduled_ns),
            window.stop_reason(len(window.tasks), len(bodies)),
            window.saturated,
            window.gone,
            float(np.percentile(late, 99)) / _NS_PER_MS if late else 0.0,
            window.origin,
        )

    return asyncio.run(run())


def closed_loop(
    endpoint: Endpoint, bodies: Sequence[RequestBody], users: int, timeout_s: float
) -> LoadRun:
    """``users`` concurrent users share ``bodies`` in order, each sending its next request as
    soon as its last is answered. The records come back in the bodies' order."""

    async def run() -> LoadRun:
        origin = time.perf_counter_ns()
        queue = list(enumerate(bodies))
        records: dict[int, RequestRecord] = {}

        async def user() -> None:
            while queue:
                index, body = queue.pop(0)
                scheduled = time.perf_counter_ns() - origin
                records[index] = await stream_request(endpoint, body, scheduled, origin, timeout_s)

        await asyncio.gather(*(user() for _ in range(users)))
        return LoadRun(
            tuple(records[index] for index in sorted(records)),
            len(bodies),
            time.perf_counter_ns() - origin,
            f"closed loop: {users} users, {len(bodies)} requests",
            origin_ns=origin,
        )

    return asyncio.run(run())


@dataclass(frozen=True)
class Slo:
    """Bounds a request must meet to count towards goodput, and a level's p99s to pass the
    capacity search (``None``: not bounded)."""

    ttft_ms: float | None = None
    tpot_ms: float | None = None
    e2e_ms: float | None = None

    def __post_init__(self) -> None:
        for name in ("ttft_ms", "tpot_ms", "e2e_ms"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"slo_{name} must be positive, got {value!r}")

    def met_by(self, record: RequestRecord) -> bool:
        """Answered in full within every bound; an answer of one token has no TPOT to bound."""
        if not record.ok or record.ttft_ns is None:
            return False
        tpot = record.tpot_ns if record.tpot_ns is not None else 0.0
        checks = (
            (self.ttft_ms, record.ttft_ns),
            (self.tpot_ms, tpot),
            (self.e2e_ms, record.e2e_ns),
        )
        return all(bound is None or value / _NS_PER_MS <= bound for bound, value in checks)

    def describe(self) -> str:
        parts = [
            f"{name} <= {bound:g} ms"
            for name, bound in (
                ("TTFT", self.ttft_ms),
                ("TPOT", self.tpot_ms),
                ("E2E", self.e2e_ms),
            )
            if bound is not None
        ]
        return " and ".join(parts) or "none"


BATCHES = 10


def batch_means_interval(values_ns: Sequence[float]) -> tuple[float, float] | None:
    """The 95 % interval of a load window's median request time, in ms, by batch means: the
    requests in the order they were sent, cut into ``BATCHES`` consecutive batches, a Student-t
    interval over the batches' medians. Requests that queue behind each other are not
    independent, so an interval over the requests as if they were would be too narrow."""
    from benchsuite.instruments.stats import process_interval

    count = len(values_ns) // BATCHES
    if count < 3:
        return None
    medians = [
        float(np.median(values_ns[index * count : (index + 1) * count])) / _NS_PER_MS
        for index in range(BATCHES)
    ]
    interval = process_interval(medians)
    return interval.low, interval.high


def percentile_ms(values_ns: Sequence[float], q: float) -> float | None:
    return float(np.percentile(values_ns, q)) / _NS_PER_MS if len(values_ns) else None


@dataclass(frozen=True)
class LevelFigures:
    """A load window's latency and throughput figures, from the answered requests."""

    run: LoadRun
    offered_rps: float
    slo: Slo

    @property
    def duration_s(self) -> float:
        return self.run.duration_ns / _NS_PER_S

    @property
    def achieved_rps(self) -> float:
        """Answers per second while they came: their count less one over the time from the
        first answer to the last. Counted over the whole window instead, a short window's
        start (before the first answer) and drain (after the last arrival) would read a stable
        server as slower than the rate it kept up with."""
        done = sorted(record.done_ns for record in self.run.completed)
        if len(done) >= 2 and done[-1] > done[0]:
            return (len(done) - 1) / ((done[-1] - done[0]) / _NS_PER_S)
        return len(done) / self.duration_s if self.duration_s > 0 else math.nan

    @property
    def output_tokens(self) -> int:
        return sum(record.output_tokens for record in self.run.completed)

    @property
    def prompt_tokens(self) -> int | None:
        counted = [record.prompt_tokens for record in self.run.completed]
        if not counted or any(count is None for count in counted):
            return None
        return sum(count for count in counted if count is not None)

    def p99(self, what: str) -> float | None:
        return self._percentiles(what)[99]

    def _values(self, what: str) -> list[float]:
        completed = self.run.completed
        if what == "ttft":
            return [r.ttft_ns for r in completed if r.ttft_ns is not None]
        if what == "tpot":
            return [r.tpot_ns for r in completed if r.tpot_ns is not None]
        if what == "itl":
            return [gap for r in completed for gap in r.itl_ns]
        return [r.e2e_ns for r in completed]

    def _percentiles(self, what: str) -> dict[int, float | None]:
        values = self._values(what)
        return {q: percentile_ms(values, q) for q in (50, 90, 99)}

    def slo_met(self) -> bool:
        """The level passes when its p99s meet the bounds and nothing failed."""
        bounds = (("ttft", self.slo.ttft_ms), ("tpot", self.slo.tpot_ms), ("e2e", self.slo.e2e_ms))
        if self.run.saturated or self.run.faults() or not self.run.completed:
            return False
        for what, bound in bounds:
            value = self.p99(what)
            if bound is not None and (value is None or value > bound):
                return False
        return True

    @property
    def goodput_rps(self) -> float:
        """The achieved rate's share of answers that met every bound."""
        completed = self.run.completed
        met = sum(1 for record in completed if self.slo.met_by(record))
        return self.achieved_rps * met / len(completed) if completed else 0.0

    def columns(self) -> dict[str, object]:
        completed = self.run.completed
        counts = [record.output_tokens for record in completed]
        columns: dict[str, object] = {
            "offered_rps": self.offered_rps,
            "achieved_rps": self.achieved_rps,
            "throughput_samples_per_s": self.achieved_rps,
            "planned_requests": self.run.planned_requests,
            "served_requests": len(completed),
            "requests_failed": len(self.run.records) - len(completed),
            "request_faults": self.run.faults(),
            "output_tokens_per_s": self.achieved_rps * self.output_tokens / len(completed)
            if completed
            else 0.0,
            "output_tokens_mean": float(np.mean(counts)) if counts else None,
            "stream_chunks_per_token": sum(len(r.chunk_ns) for r in completed) / sum(counts)
            if counts and sum(counts)
            else None,
            "goodput_rps": self.goodput_rps,
            "slo": self.slo.describe(),
            "slo_ttft_ms": self.slo.ttft_ms,
            "slo_tpot_ms": self.slo.tpot_ms,
            "slo_e2e_ms": self.slo.e2e_ms,
            "latency_bound_met": self.slo_met(),
            "saturated": self.run.saturated,
            "loadgen_late_wakeup_p99_us": self.run.late_sends_p99_ms * 1e3,
            "stop_reason": self.run.stop_reason,
        }
        for what in ("ttft", "tpot", "itl"):
            for q, value in self._percentiles(what).items():
                columns[f"{what}_p{q}_ms"] = value
        interval = batch_means_interval(self._values("e2e"))  # the records are in send order
        columns.update(
            latency_p50_ci_low_ms=interval[0] if interval else None,
            latency_p50_ci_high_ms=interval[1] if interval else None,
            latency_interval_method=f"95% CI of the median by batch means: {BATCHES} consecutive "
            "batches of the window's requests, Student-t over their medians"
            if interval
            else f"no interval: under {3 * BATCHES} requests answered",
        )
        for what in ("ttft", "tpot"):  # the records are in the order they were sent
            interval = batch_means_interval(self._values(what))
            columns[f"{what}_p50_low_ms"] = interval[0] if interval else None
            columns[f"{what}_p50_high_ms"] = interval[1] if interval else None
        return columns


@dataclass(frozen=True)
class EndpointConfig:
    """A suite's ``[endpoints]`` table: the load on an endpoint, its SLO and its patience."""

    duration_s: float = 10.0
    """How long a load window lasts at its offered rate (stretched to the meter's shortest
    valid window: 100 update periods, 10 s on NVML)."""
    requests: int | None = None
    """A fixed number of requests per load window instead of ``duration_s``."""
    arrival: str = "poisson"
    burstiness: float = 1.0
    """Gamma arrivals' shape: 1 is Poisson, below 1 burstier (with ``arrival = "gamma"``)."""
    seed: int = 0
    """Of the arrivals and of the prompt stream."""
    max_rps: float | None = None
    """A stated maximum: ``load_pct`` is a percentage of it, the same rates every night (a
    nightly gate compares like with like); ``None``: of the maximum throughput measured by
    ``max_users`` closed-loop users at each case's start."""
    max_users: int = 8
    """Closed-loop users of the maximum-throughput probe (what ``load_pct`` is a percentage of)."""
    probe_requests: int = 32
    warmup_requests: int = 4
    request_timeout_s: float = 60.0
    slo_ttft_ms: float | None = None
    slo_tpot_ms: float | None = None
    slo_e2e_ms: float | None = None
    search_probes: int = 5
    """Bisection steps of endpoint-capacity: the rate is found to max throughput / 2^N."""
    pair_rounds: int = 4
    """An endpoint with a reference: rounds of two adjacent windows (R C, C R, ...) per level."""

    def __post_init__(self) -> None:
        if self.arrival not in ARRIVAL_PROCESSES:
            raise ValueError(f"arrival must be one of {', '.join(ARRIVAL_PROCESSES)}")
        for name in ("duration_s", "burstiness", "request_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        for name in ("max_users", "probe_requests", "search_probes", "pair_rounds"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if self.requests is not None and self.requests < 2:
            raise ValueError(f"requests must be at least 2, got {self.requests!r}")
        if self.warmup_requests < 0:
            raise ValueError("warmup_requests must be >= 0")
        Slo(self.slo_ttft_ms, self.slo_tpot_ms, self.slo_e2e_ms)
        if self.max_rps is not None and not self.max_rps > 0:
            raise ValueError(f"max_rps must be positive, got {self.max_rps!r}")

    @property
    def slo(self) -> Slo:
        return Slo(self.slo_ttft_ms, self.slo_tpot_ms, self.slo_e2e_ms)

    def arrival_name(self) -> str:
        if self.arrival == "gamma" and self.burstiness != 1.0:
            return f"gamma (burstiness {self.burstiness:g}, seed {self.seed})"
        return f"poisson (seed {self.seed})"

    def planned_requests(self, rate_per_s: float, shortest_window_s: float) -> int:
        if self.requests is not None:
            return self.requests
        return max(2, round(rate_per_s * max(self.duration_s, shortest_window_s)))
