"""One inference case prepared in a worker process and kept there, measured a round at a time.

A session does once what a case does once (build the variant, judge its quality, count its
FLOPs, warm up, read idle power) and then answers :meth:`InferenceSession.round` as often as the
coordinator (:mod:`benchsuite.run.comparison`) asks, between the rounds of the other variants of its
group, each in its own process. Each variant keeps a process of its own, so its peak memory and
its runtime's thread pools are its own, as with one case per process; the processes of a group
are alive together but only one runs at a time.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

from benchsuite.case import Case
from benchsuite.instruments import devices
from benchsuite.instruments.config import MeasureConfig
from benchsuite.instruments.energy import read_idle, resolution_window_s
from benchsuite.instruments.meters.base import EnergyReading, Meter
from benchsuite.instruments.rounds import RoundResult, RoundRunner
from benchsuite.instruments.timing import Timer, WarmupResult
from benchsuite.results import MemoryResult, ModelFacts, QualityResult, SourceFacts
from benchsuite.run.affinity import CpuSet, pin_process
from benchsuite.scenarios.steps import evaluate_quality, fp32_twin, memory_peaks, torch_threads
from benchsuite.variants import get_variant
from benchsuite.workload.base import Workload
from benchsuite.workload.batch import batch_to, bound_call


@dataclass(frozen=True)
class Readiness:
    """A session's answer once its case is prepared."""

    skipped: str | None = None
    """Why the variant cannot run here; the session is then of no use."""
    most_rounds: int | None = None
    """The rounds per process its model's speed allows (:meth:`RoundsConfig.most_rounds`);
    ``None``: as many as asked."""
    cpus: CpuSet | None = None
    """The CPUs the process was pinned to (:mod:`benchsuite.run.affinity`); ``None``: not pinned."""


@dataclass(frozen=True)
class SessionResult:
    """What one process learnt about its case besides its rounds. Quality and model facts are
    the same in every process and are read in the first only (``None`` in the others)."""

    warmup: WarmupResult
    idle: EnergyReading
    window_s: float
    memory: MemoryResult
    model: ModelFacts | None
    quality: QualityResult | None
    source: SourceFacts | None


class InferenceSession:
    """A single-stream or offline case held ready in this process (see the module's doc)."""

    def __init__(
        self,
        case: Case,
        workload: Workload,
        meter: Meter,
        config: MeasureConfig,
        first: bool,
        cpus: CpuSet | None = None,
    ) -> None:
        """Prepare ``case``; with ``cpus``, move the whole process onto them once the model has
        run once (compiled, kernels initialised), before its warm-up and every timed call."""
        from benchsuite.scenarios.inference import model_facts

        self.case = case
        self.config = config
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(torch_threads(case.threads))
        self._peaks = self._stack.enter_context(memory_peaks(case.device))
        try:
            variant = get_variant(case.variant)
            prepared = workload.prepare_variant(variant, case.device)
            batch = batch_to(workload.example_batch(case.batch_size), case.device)
            self.quality = self.model = None
            if first:
                twin = fp32_twin(workload, variant, prepared)
                self.quality = evaluate_quality(workload, prepared, twin)
                self.model = model_facts(variant, prepared, batch, case.batch_size)
            self.source = workload.source_facts() if first else None
            call = bound_call(prepared.module, batch)
            self._stack.enter_context(prepared.context())
            sync = devices.synchronizer(case.device)
            call()  # where a compiled model compiles and kernels initialise: never timed
            if sync is not None:
                sync()
            self.cpus = pin_process(cpus) if cpus is not None else None
            self.warmup = Timer(call, sync).warm_up(config.sampling)
            shared = config.idle_for(case.device)
            self.idle = shared if shared is not None else read_idle(meter, config.energy.idle_s)
            shortest = resolution_window_s(self.idle.resolution_s)
            self._metered_s = config.energy.fewest_windows * max(config.energy.window_s, shortest)
            self.window_s = config.rounds.window_s(self._metered_s, self.idle.resolution_s)
            # no rewarm after the idle window: each round's latency slice runs before its
            # energy window, and wakes the core from the idle sleep
            self.runner = RoundRunner(call, sync, meter, case.batch_size, self.idle.average_power_w)
        except BaseException:
            self._stack.close()
            raise

    @property
    def most_rounds(self) -> int:
        """The rounds per process this model's speed allows (:meth:`RoundsConfig.most_rounds`),
        judged by the median call of the warm-up's last block."""
        blocks = self.warmup.block_medians_ns
        call_ns = blocks[-1] if blocks else float(np.median(self.warmup.samples_ns))
        return self.config.rounds.most_rounds(call_ns / 1e9, self.config.sampling.budget_s)

    def round(self, index: int, rounds: int, window: bool = True) -> RoundResult:
        """Round ``index`` of ``rounds`` in this process, with an energy window or not
        (:meth:`RoundsConfig.window_rounds`): the case's latency budget is split over
        ``repeats`` x ``rounds``, its metered time over its windows."""
        plan = self.config.rounds.with_rounds(rounds)
        latency_s = plan.latency_slice_s(self.config.sampling.budget_s)
        self.window_s = plan.window_s(self._metered_s, self.idle.resolution_s)
        return self.runner.round(index, latency_s, self.window_s if window else None)

    def finish(self) -> SessionResult:
        memory = self._peaks()
        self._stack.close()
        return SessionResult(
            self.warmup, self.idle, self.window_s, memory, self.model, self.quality, self.source
        )
