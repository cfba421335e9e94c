"""Scenarios ``endpoint``, ``endpoint-capacity`` and ``endpoint-users``: a deployment under load.

The model is an OpenAI-compatible endpoint (``openai:<base url>``), measured where it serves.
Every case:

1. checks the endpoint (it answers, it serves the model named) and whether it takes
   ``min_tokens``/``ignore_eos``, which force each answer's length; without them ``max_tokens``
   alone is sent and the tokens actually received are counted;
2. measures the client's own TTFT against a loopback server that answers at once (the share of
   every TTFT that is the client's), and warms the endpoint up;
3. measures the maximum throughput: ``max_users`` closed-loop users (``load_pct`` is a
   percentage of it);
4. reads the server's idle power, then serves its load window(s) inside one meter window each.

``endpoint`` (``/l50``): open-loop arrivals (Poisson or gamma) at ``load_pct`` % of the maximum
throughput. ``endpoint-capacity``: the highest rate whose p99 TTFT, TPOT and end-to-end time meet
the SLO, by bisection (each probe a load window); its row holds that rate, and the goodput of the
last passing probe. ``endpoint-users`` (``b4``: 4 users): closed loop.

Energy is read where the server runs. An endpoint on this machine is metered by the machine's
meters (RAPL, NVML: the whole package or GPU, so the client's own work is inside a RAPL reading
and the row says so). Without a counter, the estimate charges the CPU time of the server's
process tree (found by its listening port), never the client's, whose own CPU time is a column of
its own. An endpoint on another machine gets latency figures and no energy, and says why.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from benchsuite import units
from benchsuite.case import Case
from benchsuite.errors import UsageError
from benchsuite.instruments.config import MeasureConfig
from benchsuite.instruments.endpoint_client import (
    Endpoint,
    RequestBody,
    client_ttft_overhead_ms,
    probe_forcing,
)
from benchsuite.instruments.endpoint_load import (
    EndpointConfig,
    LevelFigures,
    LoadRun,
    PromptStream,
    arrival_times_ns,
    closed_loop,
    open_loop,
)
from benchsuite.instruments.energy import (
    EnergyResult,
    EnergyWindow,
    min_window_s,
    one_window,
    read_idle,
)
from benchsuite.instruments.meters.base import EnergyReading, Meter
from benchsuite.instruments.meters.composite import CompositeMeter
from benchsuite.instruments.meters.nvml import NvmlMeter
from benchsuite.instruments.meters.process_tree import (
    ProcessTreeEstimate,
    listening_pid,
    server_root,
)
from benchsuite.instruments.meters.rapl import RaplMeter
from benchsuite.instruments.split_window import Part, read_in_parts, summed
from benchsuite.instruments.stats import process_interval
from benchsuite.instruments.timing import SamplingResult
from benchsuite.results import CaseResult, LatencyResult
from benchsuite.scenarios.base import Metric, Role, Scenario, SummaryCells, energy_flag
from benchsuite.scenarios.endpoint_pairs import PairedLevels, serve_pair
from benchsuite.scenarios.server import capacity_search
from benchsuite.variants import Variant
from benchsuite.workload.base import Workload

if TYPE_CHECKING:  # the source imports scenarios' registry; this module is imported by it
    from benchsuite.sources.openai_endpoint import EndpointWorkload

_NS_PER_S = 1e9
MIN_PARTS = 3
MIN_PART_S = 0.5


def _endpoint_workload(workload: Workload) -> EndpointWorkload | None:
    from benchsuite.sources.openai_endpoint import EndpointWorkload

    return workload if isinstance(workload, EndpointWorkload) else None


@dataclass(frozen=True)
class ServerMeter:
    """The meter a load window is read with, or why there is none."""

    meter: Meter | None
    note: str


def server_meter(
    meter: Meter,
    local: bool,
    endpoint: Endpoint,
    gpu_ids: Sequence[int] | None = None,
    nvml: Any = None,
) -> ServerMeter:
    """The machine's meter for a local server: NVML over the server's GPUs (``gpu_ids``,
    CUDA-visible indices, so ``CUDA_VISIBLE_DEVICES`` applies) with RAPL where it reads; the
    case's meter otherwise, with the server's process tree in place of the client when that
    meter is the process estimate. None for a server elsewhere."""
    if not local:
        return ServerMeter(
            None,
            f"no energy: the endpoint runs on another machine ({endpoint.host}); its meters are "
            "not readable from here, so the row has latency figures only",
        )
    if gpu_ids:
        gpus = NvmlMeter(list(gpu_ids), nvml=nvml)
        info = gpus.info()
        if info.available:
            rapl = RaplMeter()
            names = ", ".join(info.domains)
            if rapl.info().available:
                return ServerMeter(
                    CompositeMeter([gpus, rapl]),
                    f"nvml over the server's GPUs ({names}) and rapl over the host's packages "
                    "(the client's own CPU time, client_cpu_s, is inside the packages')",
                )
            return ServerMeter(
                gpus, f"nvml over the server's GPUs ({names}); the host's CPU is not in it"
            )
        meter_note = f"--gpu-ids: the server's GPUs cannot be read ({info.detail}); "
        chosen = server_meter(meter, local, endpoint)
        return ServerMeter(chosen.meter, meter_note + chosen.note)
    if meter.source != "estimate":
        return ServerMeter(
            meter,
            f"{meter.source} reads the whole {'/'.join(meter.info().domains)}: the client's own "
            "CPU time (client_cpu_s) is inside it",
        )
    pid = listening_pid(endpoint.port)
    if pid is None:
        return ServerMeter(
            None,
            f"no energy: no process on this machine listens on port {endpoint.port} that this "
            "user can see, so the server's process tree cannot be charged (the client's would "
            "be the wrong process)",
        )
    root = server_root(pid)
    return ServerMeter(
        ProcessTreeEstimate(root.pid),
        f"estimate: the CPU time of the server's process tree (PID {root.pid}, "
        f"{root.name()}), not the client's",
    )


@dataclass(frozen=True)
class EndpointLevel:
    """One load window: its figures, its reading (``None`` without a meter) and the client's
    CPU time in it."""

    figures: LevelFigures
    arrival_process: str
    reading: EnergyReading | None
    idle: EnergyReading | None
    client_cpu_s: float
    window_note: str = ""
    parts: tuple[Part, ...] = ()
    """The window's reading in consecutive parts (:mod:`benchsuite.instruments.split_window`):
    three or more give the level's energy figures their interval."""

    @property
    def run(self) -> LoadRun:
        return self.figures.run

    def _per_part(self, per: str) -> list[float]:
        """Each part's energy per answered request (``request``) or per output token."""
        figures = []
        for part in self.parts:
            count: float
            if per == "request":
                count = sum(
                    1
                    for record in self.run.completed
                    if part.start_ns <= self.run.origin_ns + record.done_ns < part.end_ns
                )
            else:
                count = self.run.tokens_between(part.start_ns, part.end_ns)
            if count > 0:
                figures.append(part.reading.energy_j / count)
        return figures

    def part_interval(self, per: str) -> tuple[float, float] | None:
        """The 95 % interval of the energy per request or per output token, by batch means
        over the parts (``None`` with fewer than three parts that served anything)."""
        figures = self._per_part(per)
        if len(figures) < MIN_PARTS:
            return None
        interval = process_interval(figures)
        return interval.low, interval.high

    def failure(self) -> str | None:
        """Why the level cannot stand as a row: nothing answered, or the server went away."""
        run = self.run
        answered = len(run.completed)
        if answered and not run.server_gone:
            return None
        return (
            f"endpoint failed under load: {answered} of {run.planned_requests} requests "
            f"answered, {len(run.records) - answered} failed ({run.faults() or 'none sent'}); "
            f"{run.stop_reason}; first error: {run.first_error() or '(none)'}"
        )

    def energy(self) -> EnergyResult | None:
        if self.reading is None or self.idle is None:
            return None
        window = EnergyWindow(
            0,
            len(self.run.records),
            len(self.run.completed),
            self.reading,
            self.idle.average_power_w,
        )
        whole = one_window(self.idle, window, self.window_note)
        interval = self.part_interval("request")
        if interval is None:
            return whole
        return dataclasses.replace(
            whole,
            energy_per_sample_low_j=interval[0],
            energy_per_sample_high_j=interval[1],
            interval_method=f"95% CI by batch means over the load window's {len(self.parts)} "
            "consecutive parts (each part's energy over the requests answered in it), "
            "Student-t",
        )

    def latency(self) -> LatencyResult:
        """Each answered request's end-to-end time (from its scheduled arrival) as the samples."""
        e2e = np.array([record.e2e_ns for record in self.run.completed], dtype=np.int64)
        sampling = SamplingResult(
            e2e, self.run.duration_ns / _NS_PER_S, self.run.stop_reason, math.nan
        )
        return LatencyResult(sampling, 1, None)

    def columns(self) -> dict[str, Any]:
        figures = self.figures
        columns = figures.columns()
        columns.update(arrival_process=self.arrival_process, client_cpu_s=self.client_cpu_s)
        completed = max(len(self.run.completed), 1)
        columns["client_cpu_per_request_ms"] = self.client_cpu_s / completed * 1e3
        if self.reading is not None and self.idle is not None:
            energy_j = self.reading.energy_j
            net_j = energy_j - self.idle.average_power_w * self.reading.duration_s
            output = figures.output_tokens
            total_tokens = (figures.prompt_tokens or 0) + output
            per_token = self.part_interval("token")
            columns.update(
                energy_per_output_token_low_j=per_token[0] if per_token else None,
                energy_per_output_token_high_j=per_token[1] if per_token else None,
                energy_per_request_j=energy_j / completed,
                energy_per_request_net_j=net_j / completed,
                energy_per_output_token_j=energy_j / output if output else None,
                energy_per_output_token_net_j=net_j / output if output else None,
                energy_per_total_token_j=energy_j / total_tokens
                if figures.prompt_tokens is not None and total_tokens
                else None,
                tokens_per_j=output / energy_j if energy_j > 0 else None,
                idle_energy_share=1 - net_j / energy_j if energy_j > 0 else None,
            )
        return columns


@dataclass(frozen=True)
class EndpointRow:
    """The parts of an endpoint row beyond the level's own: what was probed before the load."""

    max_throughput_rps: float
    forcing_note: str
    prompt_stream: str
    client_ttft_overhead_ms: float
    meter_note: str
    level: EndpointLevel
    capacity_rps: float | None = None
    capacity_search: str | None = None

    def columns(self) -> dict[str, Any]:
        columns = {
            "max_throughput_rps": self.max_throughput_rps,
            "output_tokens_forced": self.forcing_note,
            "prompt_stream": self.prompt_stream,
            "client_ttft_overhead_ms": self.client_ttft_overhead_ms,
            **self.level.columns(),
        }
        if self.level.reading is None:
            columns.update(energy_valid=False, energy_invalid_reason=self.meter_note)
        else:
            columns["energy_meter_note"] = self.meter_note
        if self.capacity_search is not None:
            columns.update(capacity_rps=self.capacity_rps, capacity_search=self.capacity_search)
        return columns


@dataclass(frozen=True)
class EndpointAccuracy:
    """The task's accuracy on labelled eval data: the share of greedy answers that begin with
    their label (case and surrounding space ignored)."""

    correct: int
    answered: int
    asked: int

    @classmethod
    def of(cls, plan: LoadPlan, pairs: Sequence[tuple[str, str]]) -> EndpointAccuracy:
        bodies = [RequestBody(text, plan.output_tokens, plan.forced) for text, _ in pairs]
        settings = plan.settings
        run = closed_loop(plan.endpoint, bodies, settings.max_users, settings.request_timeout_s)
        correct = answered = 0
        for record, (_, label) in zip(run.records, pairs, strict=True):
            if record.ok:
                answered += 1
                correct += record.text.strip().lower().startswith(label.strip().lower())
        return cls(correct, answered, len(pairs))

    def columns(self) -> dict[str, Any]:
        return {
            "accuracy": self.correct / self.answered if self.answered else None,
            "eval_samples": self.answered,
            "quality_metric": "accuracy: the greedy answer begins with the label "
            f"({self.answered} of {self.asked} eval_data prompts answered)",
        }


class LoadPlan:
    """What the load windows of one case share: the endpoint, its prompts, meter and idle."""

    def __init__(
        self,
        endpoint: Endpoint,
        settings: EndpointConfig,
        stream: PromptStream,
        output_tokens: int,
        forced: bool,
        meter: Meter | None,
        idle: EnergyReading | None,
    ) -> None:
        self.endpoint, self.settings, self.stream = endpoint, settings, stream
        self.output_tokens, self.forced = output_tokens, forced
        self.meter, self.idle = meter, idle
        resolution = meter.info().resolution_s if meter is not None else None
        self.shortest_window_s = min_window_s(resolution or 0.0) if meter is not None else 0.0

    def bodies(self, count: int) -> list[RequestBody]:
        return [
            RequestBody(prompt, self.output_tokens, self.forced)
            for prompt in self.stream.prompts(count)
        ]

    def _metered(
        self, load: Any, expected_s: float
    ) -> tuple[LoadRun, EnergyReading | None, float, tuple[Part, ...]]:
        """The load, read by the meter in parts of a fifth of ``expected_s`` (never shorter than
        the meter's shortest valid window), and the client's CPU time."""
        client_start = time.process_time()
        parts: tuple[Part, ...] = ()
        if self.meter is None:
            run, reading = load(), None
        else:
            part_s = max(expected_s / 5, self.shortest_window_s, MIN_PART_S)
            run, split = read_in_parts(self.meter, part_s, load)
            reading = summed([part.reading for part in split], "parts of the load window")
            parts = tuple(split) if len(split) >= MIN_PARTS else ()
        return run, reading, time.process_time() - client_start, parts

    def open_level(self, rate_per_s: float) -> EndpointLevel:
        settings = self.settings
        count = settings.planned_requests(rate_per_s, self.shortest_window_s)
        arrivals = arrival_times_ns(
            rate_per_s, count, settings.arrival, settings.burstiness, settings.seed
        )
        note = ""
        if settings.requests is None and settings.duration_s < self.shortest_window_s:
            note = (
                f"load window stretched from duration_s = {settings.duration_s:g} s to "
                f"{self.shortest_window_s:g} s of arrivals: the meter's shortest valid window"
            )
        bodies = self.bodies(count)
        run, reading, client_s, parts = self._metered(
            lambda: open_loop(
                self.endpoint, bodies, arrivals, settings.request_timeout_s, rate_per_s
            ),
            count / rate_per_s,
        )
        figures = LevelFigures(run, rate_per_s, settings.slo)
        return EndpointLevel(
            figures, settings.arrival_name(), reading, self.idle, client_s, note, parts
        )

    def closed_level(self, users: int, requests: int) -> EndpointLevel:
        bodies = self.bodies(requests)
        run, reading, client_s, parts = self._metered(
            lambda: closed_loop(self.endpoint, bodies, users, self.settings.request_timeout_s),
            self.settings.duration_s,
        )
        figures = LevelFigures(run, math.nan, self.settings.slo)
        arrival = f"closed loop, {users} users"
        return EndpointLevel(figures, arrival, reading, self.idle, client_s, "", parts)


def max_throughput_rps(plan: LoadPlan, settings: EndpointConfig) -> float:
    """Answered requests per second of ``max_users`` closed-loop users: what ``load_pct`` is a
    percentage of."""
    probe = closed_loop(
        plan.endpoint,
        plan.bodies(settings.probe_requests),
        settings.max_users,
        settings.request_timeout_s,
    )
    answered = len(probe.completed)
    if not answered:
        raise RuntimeError(
            f"endpoint failed its throughput probe: 0 of {settings.probe_requests} answered "
            f"({probe.faults()}); first error: {probe.first_error()}"
        )
    return answered / (probe.duration_ns / _NS_PER_S)


class EndpointScenario(Scenario):
    """What the endpoint scenarios share; subclasses choose the load windows."""

    role = Role.INFERENCE
    token_axes = True
    metrics = (
        Metric("ttft_p99_ms", "p99 time to first token under load"),
        Metric("tpot_p99_ms", "p99 time per output token under load"),
        Metric(
            "latency_p50_ms",
            "end-to-end p50 under load",
            interval=("latency_p50_ci_low_ms", "latency_p50_ci_high_ms"),
        ),
        Metric(
            "latency_ratio",
            "end-to-end p50 against the reference endpoint",
            interval=("latency_ratio_low", "latency_ratio_high"),
        ),
        Metric(
            "energy_ratio",
            "energy per output token against the reference endpoint",
            interval=("energy_ratio_low", "energy_ratio_high"),
        ),
        Metric(
            "energy_per_output_token_j",
            "energy per output token under load",
            needs_measured_energy=True,
        ),
        Metric(
            "goodput_rps", "goodput (requests meeting the SLO per second)", lower_is_better=False
        ),
    )

    def check_case(self, case: Case, workload: Workload) -> None:
        endpoint = _endpoint_workload(workload)
        if endpoint is None:
            raise UsageError(
                f"scenario {self.name} measures an endpoint: workload {workload.name} is not one "
                "(name it with --model openai:<base url>)"
            )
        if endpoint.spec.reference is not None and not self.load_axis:
            raise UsageError(
                f"{workload.name}: an endpoint with a reference is compared at load levels "
                f"(scenario endpoint), not by {self.name}; drop reference or the scenario"
            )

    def unsupported_reason(self, case: Case, workload: Workload, variant: Variant) -> str | None:
        return workload.variant_unsupported_reason(variant, case.device)

    def run(
        self, case: Case, workload: Workload, variant: Variant, meter: Meter, config: MeasureConfig
    ) -> CaseResult:
        ours = _endpoint_workload(workload)
        assert ours is not None and case.prompt_tokens and case.output_tokens
        settings = config.endpoint
        theirs = ours.reference_workload
        arms = [ours] if theirs is None else [theirs, ours]
        stream = PromptStream(case.prompt_tokens, settings.seed, ours.eval_texts())
        forcing = [
            asyncio.run(probe_forcing(arm.endpoint, stream.prompt(0), settings.request_timeout_s))
            for arm in arms
        ]
        forced = all(taken for taken, _ in forcing)  # every arm gets the same requests
        forcing_note = forcing[-1][1] if forced else next(n for t, n in forcing if not t)
        overhead_ms = client_ttft_overhead_ms()
        chosen = [
            server_meter(meter, arm.facts.local, arm.endpoint, arm.spec.gpu_ids) for arm in arms
        ]
        plans = [
            LoadPlan(arm.endpoint, settings, stream, case.output_tokens, forced, c.meter, None)
            for arm, c in zip(arms, chosen, strict=True)
        ]
        for plan in plans:
            if settings.warmup_requests:
                closed_loop(
                    plan.endpoint,
                    plan.bodies(settings.warmup_requests),
                    1,
                    settings.request_timeout_s,
                )
        max_rps = settings.max_rps or max_throughput_rps(plans[0], settings)  # the reference's
        for plan in plans:
            if plan.meter is not None:
                plan.idle = config.idle_for(case.device) or read_idle(
                    plan.meter, config.energy.idle_s
                )
        pair: PairedLevels | None = None
        if theirs is None:
            level, capacity, method = self.load_windows(case, plans[0], max_rps)
        else:
            assert case.load_pct is not None
            pair, level = serve_pair(
                plans[0],
                plans[1],
                max_rps * case.load_pct / 100,
                settings.pair_rounds,
                config.rounds,
            )
            capacity, method = None, ""
        problem = level.failure()
        if problem:
            raise RuntimeError(problem)
        pairs = ours.labelled_prompts()
        accuracy = EndpointAccuracy.of(plans[-1], pairs) if pairs else None
        row = EndpointRow(
            max_rps,
            forcing_note,
            stream.describe(len(level.run.records)),
            overhead_ms,
            chosen[-1].note,
            level,
            capacity,
            method or None,
        )
        return CaseResult(
            case,
            latency=level.latency(),
            energy=level.energy(),
            extra=(
                ours.source_facts(),
                ours.facts,
                row,
                *((pair,) if pair else ()),
                *((accuracy,) if accuracy else ()),
            ),
        )

    @abstractmethod
    def load_windows(
        self, case: Case, plan: LoadPlan, max_rps: float
    ) -> tuple[EndpointLevel, float | None, str]:
        """The level the row reports, the capacity found (or None) and how it was found."""

    def summary(self, row: Mapping[str, Any]) -> SummaryCells:
        energy = row.get("energy_per_output_token_j")
        return SummaryCells(
            latency=f"TTFT p99 {units.duration_ms(row['ttft_p99_ms'])}"
            if row.get("ttft_p99_ms") is not None
            else "",
            throughput=f"{units.plain(row['achieved_rps'])} of "
            f"{units.plain(row['offered_rps'])} req/s",
            energy=f"{units.energy(energy)}/tok" + energy_flag(row)
            if energy is not None and not math.isnan(energy)
            else "none",
            notes=str(row.get("stop_reason") or ""),
        )


class EndpointLoad(EndpointScenario):
    name = "endpoint"
    description = (
        "an OpenAI-compatible endpoint under open-loop load at load_pct % of its measured "
        "maximum throughput: TTFT, TPOT, goodput, energy per request and per output token"
    )
    load_axis = True
    single_batch = True

    def load_windows(
        self, case: Case, plan: LoadPlan, max_rps: float
    ) -> tuple[EndpointLevel, float | None, str]:
        assert case.load_pct is not None
        return plan.open_level(max_rps * case.load_pct / 100), None, ""


class EndpointCapacity(EndpointScenario):
    name = "endpoint-capacity"
    description = "the highest request rate whose p99 TTFT/TPOT/end-to-end time meet the SLO"
    single_batch = True

    def load_windows(
        self, case: Case, plan: LoadPlan, max_rps: float
    ) -> tuple[EndpointLevel, float | None, str]:
        settings = plan.settings
        if settings.slo.describe() == "none":
            raise UsageError(
                "endpoint-capacity needs an SLO: set slo_ttft_ms, slo_tpot_ms or slo_e2e_ms in "
                "the suite's [endpoints] table (or --slo-ttft-ms/--slo-tpot-ms)"
            )
        rate, best, last = capacity_search(
            plan.open_level, max_rps, settings.search_probes, lambda level: level.figures.slo_met()
        )
        method = (
            f"bisection on the offered rate over [0, {max_rps:.4g}] req/s (the measured maximum "
            f"throughput), {settings.search_probes} probes, each a load window whose p99 must meet "
            f"{settings.slo.describe()} with no faults; precision "
            f"{max_rps / 2**settings.search_probes:.3g} req/s"
        )
        return (best if best is not None else last), rate, method


class EndpointUsers(EndpointScenario):
    name = "endpoint-users"
    description = "closed loop: batch size = concurrent users, each sending on its last answer"

    def load_windows(
        self, case: Case, plan: LoadPlan, max_rps: float
    ) -> tuple[EndpointLevel, float | None, str]:
        users = case.batch_size
        settings = plan.settings
        requests = settings.requests or max(
            2 * users, round(max_rps * max(settings.duration_s, plan.shortest_window_s))
        )
        return plan.closed_level(users, requests), None, ""
