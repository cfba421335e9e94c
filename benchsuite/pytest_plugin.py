"""The pytest plugin: energy, memory and FLOPs beside pytest-benchmark's timings.

Registered through the ``pytest11`` entry point, so installing benchsuite is enough. The
``energy_benchmark`` fixture wraps pytest-benchmark's ``benchmark`` fixture:

1. it times through pytest-benchmark (its calibration, warm-up, rounds, statistics and JSON);
2. then, outside anything pytest-benchmark timed, it runs benchsuite's energy protocol around an
   exactly counted series of calls (idle window, then busy windows), counts FLOPs over one call
   and reads the host's peak RSS, and adds them to ``benchmark.extra_info`` with units in the keys
   and the energy's provenance;
3. with ``--benchsuite-results DIR`` each benchmark is also a row in benchsuite's Parquet store,
   with the same schema as ``benchsuite run``, so ``benchsuite report`` and the gate read it.

When pytest-benchmark does not measure (``--benchmark-disable``, or under pytest-xdist, where it
disables itself), the function runs once as a plain test and nothing is measured or stored.
"""

from __future__ import annotations

import importlib.util
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchsuite.case import Case
from benchsuite.instruments.carbon import grid_intensity
from benchsuite.instruments.config import MeasureConfig
from benchsuite.instruments.devices import synchronizer
from benchsuite.instruments.energy import EnergyConfig, measure_energy
from benchsuite.instruments.meters import METER_CHOICES, choose_meter
from benchsuite.instruments.timing import SamplingResult
from benchsuite.results import CaseResult, LatencyResult, ModelFacts
from benchsuite.run.context import RunContext
from benchsuite.run.fingerprint import capture_fingerprint
from benchsuite.run.rows import CaseOutcome, case_row, now_utc
from benchsuite.scenarios.flops import count_flops
from benchsuite.scenarios.single_stream import SingleStream
from benchsuite.scenarios.steps import memory_peaks
from benchsuite.store.runs import ResultStore, RunWriter
from benchsuite.store.schema import Status

_RESULTS_KEY = pytest.StashKey["_Recorder"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(
        "benchsuite", "benchsuite energy measurement (energy_benchmark fixture)"
    )
    group.addoption(
        "--benchsuite-results",
        metavar="DIR",
        default=None,
        help="also write one Parquet row per energy benchmark to this results folder",
    )
    group.addoption(
        "--benchsuite-meter",
        default="auto",
        choices=METER_CHOICES,
        help="energy meter (default auto: RAPL / NVML when readable, else estimate)",
    )
    group.addoption(
        "--benchsuite-energy-windows",
        type=int,
        default=5,
        metavar="N",
        help="busy energy windows per benchmark (default 5, the protocol's minimum)",
    )
    group.addoption(
        "--benchsuite-window-s",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="length of each energy window and of the idle window (default 1.0)",
    )


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=,+-]+", "-", text).strip("-") or "default"


def case_for_node(node: pytest.Item) -> Case:
    """A case id from the test's node id: file and function as the workload, parameters as the
    variant (``default`` without parameters), on the CPU, single-stream."""
    path = Path(str(node.nodeid.split("::", 1)[0])).with_suffix("")
    function = getattr(node, "originalname", node.name)
    callspec = getattr(node, "callspec", None)
    variant = _slug(callspec.id) if callspec is not None else "default"
    return Case(_slug(f"{path.as_posix()}.{function}"), variant, "cpu", SingleStream.name, 1)


class _Recorder:
    """Holds the pytest run's store writer, created on the first row."""

    def __init__(self, results: str | None) -> None:
        self.results = results
        self.writer: RunWriter | None = None
        self.context: RunContext | None = None

    def write(
        self, case: Case, result: CaseResult, started_at_utc: str, wall_s: float, note: str | None
    ) -> None:
        if self.results is None:
            return
        if self.writer is None or self.context is None:
            fingerprint = capture_fingerprint()
            self.context = RunContext("pytest", MeasureConfig(), fingerprint, grid_intensity())
            self.writer = ResultStore(self.results).start_run(
                "pytest", suite_source="pytest", hardware_id=fingerprint.hardware_id
            )
        outcome = CaseOutcome(
            case,
            Status.OK,
            started_at_utc,
            now_utc(),
            wall_s,
            result=result,
            fingerprint=self.context.fingerprint,
            meter_note=note,
        )
        row = case_row(outcome, self.context)
        self.writer.add_case(row, result.samples_table(), result.energy_window_rows())

    def finish(self) -> None:
        if self.writer is not None:
            self.writer.finish()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_RESULTS_KEY] = _Recorder(config.getoption("benchsuite_results"))


def pytest_unconfigure(config: pytest.Config) -> None:
    recorder = config.stash.get(_RESULTS_KEY, None)
    if recorder is not None:
        recorder.finish()


def _synchronised(function: Callable[..., Any], sync: Callable[[], None]) -> Callable[..., Any]:
    """``function`` followed by a device sync, so pytest-benchmark times the work, not a launch."""

    def call(*args: Any, **kwargs: Any) -> Any:
        result = function(*args, **kwargs)
        sync()
        return result

    return call


class EnergyBenchmark:
    """Call it like ``benchmark``: ``energy_benchmark(fn, *args, **kwargs)`` returns fn's result.

    ``case`` (or ``device`` / ``batch_size``) names what is measured; energy per sample divides
    by ``batch_size``.
    """

    def __init__(self, benchmark: Any, request: pytest.FixtureRequest) -> None:
        self.benchmark = benchmark
        self.request = request
        self.case = case_for_node(request.node)

    @property
    def extra_info(self) -> dict[str, Any]:
        return self.benchmark.extra_info

    def __call__(
        self, function: Callable[..., Any], *args: Any, case: Case | None = None, **kwargs: Any
    ) -> Any:
        if case is not None:
            self.case = case
        sync = synchronizer(self.case.device)
        timed = function if sync is None else _synchronised(function, sync)
        result = self.benchmark(timed, *args, **kwargs)
        if self.benchmark.disabled:  # --benchmark-disable or xdist: a plain test, nothing measured
            return result
        self._measure(lambda: function(*args, **kwargs))
        return result

    def _measure(self, call: Callable[[], Any]) -> None:
        config = self.request.config
        case = self.case
        started = now_utc()
        begin = time.perf_counter()
        flops_per_call = count_flops(call)
        choice = choose_meter(case.device, config.getoption("benchsuite_meter"))
        window_s = config.getoption("benchsuite_window_s")
        energy_config = EnergyConfig(
            windows=config.getoption("benchsuite_energy_windows"),
            window_s=window_s,
            idle_s=window_s,
        )
        with memory_peaks(case.device) as peaks:
            energy = measure_energy(
                call, synchronizer(case.device), choice.meter, case.batch_size, energy_config
            )
            memory = peaks()
        calls = sum(window.calls for window in energy.windows)
        per_call_j = energy.energy_per_sample_j * case.batch_size
        # mutate extra_info in place: pytest-benchmark keeps a reference to this very dict
        self.extra_info.update(
            {
                "energy_per_call_j": per_call_j,
                "energy_per_sample_j": energy.energy_per_sample_j,
                "energy_per_sample_low_j": energy.energy_per_sample_low_j,
                "energy_per_sample_high_j": energy.energy_per_sample_high_j,
                "energy_kind": energy.reading.kind,
                "energy_source": energy.reading.source,
                "energy_domains": ",".join(energy.reading.domains),
                "energy_valid": energy.valid,
                "energy_invalid_reason": energy.invalid_reason,
                "energy_calls": calls,
                "energy_windows": len(energy.windows),
                "idle_power_w": energy.idle_power_w,
                "peak_rss_bytes": memory.peak_rss_bytes,
                "flops_per_call": flops_per_call,
                "benchsuite_case_id": case.id,
            }
        )
        if choice.note:
            self.extra_info["energy_meter_note"] = choice.note
        recorder: _Recorder = self.request.config.stash[_RESULTS_KEY]
        if recorder.results is None:
            return
        metadata = self.benchmark.stats
        stats = metadata.stats
        per_call_ns = np.asarray(stats.data, dtype=float) * 1e9
        # pytest-benchmark's rounds are the samples; its calibration and warm-up are its own
        sampling = SamplingResult(
            samples_ns=per_call_ns.round().astype(np.int64),
            duration_s=float(per_call_ns.sum() * 1e-9 * metadata.iterations),
            stop_reason=f"pytest-benchmark {stats.rounds} rounds x {metadata.iterations} calls",
            ci_half_width_rel=float("nan"),
        )
        result = CaseResult(
            case,
            model=ModelFacts(
                f"pytest-benchmark test {self.request.node.nodeid}",
                flops_per_sample=flops_per_call // case.batch_size,
            ),
            latency=LatencyResult(sampling, case.batch_size, ci_target_rel=None),
            energy=energy,
            memory=memory,
        )
        recorder.write(case, result, started, time.perf_counter() - begin, choice.note)


@pytest.fixture
def energy_benchmark(benchmark: Any, request: pytest.FixtureRequest) -> EnergyBenchmark:
    """pytest-benchmark's ``benchmark`` plus energy per call, peak memory and FLOPs."""
    return EnergyBenchmark(benchmark, request)


if importlib.util.find_spec("pytest_benchmark") is None:

    @pytest.fixture
    def benchmark() -> None:
        """Stands in for pytest-benchmark's fixture when it is not installed, to say so."""
        pytest.fail(
            "energy_benchmark times through pytest-benchmark, which is not installed: "
            "pip install 'benchsuite[pytest]'",
            pytrace=False,
        )
