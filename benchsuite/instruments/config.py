"""How carefully one case is measured: sampling, energy windows, rounds, the serving load and
the case's timeout, gathered in one frozen value that a suite sets and every step reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from benchsuite.instruments.endpoint_load import EndpointConfig
from benchsuite.instruments.energy import EnergyConfig
from benchsuite.instruments.meters.base import EnergyReading
from benchsuite.instruments.rounds import RoundsConfig
from benchsuite.instruments.serving_loop import ServingConfig
from benchsuite.instruments.timing import SamplingConfig


@dataclass(frozen=True)
class MeasureConfig:
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    energy: EnergyConfig = field(default_factory=EnergyConfig)
    case_timeout_s: float = 900.0
    """A case's worker is killed after this long and its row says so."""
    serving: ServingConfig = field(default_factory=ServingConfig)
    """The load, batching policy and latency bound of server cases (a suite's ``[serving]``)."""
    run_idle: Mapping[str, EnergyReading] = field(default_factory=dict)
    """The idle reading the runner took once for the run, by device, with a meter that reads
    the whole machine (RAPL, NVML): a case on that device uses it instead of reading its own
    (:func:`benchsuite.instruments.energy.run_level_idle`). Empty: each case reads its idle
    window."""
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    """The load, SLO and timeouts of endpoint cases (a suite's ``[endpoints]``)."""
    rounds: RoundsConfig = field(default_factory=RoundsConfig)
    """How a suite's single-stream and offline cases are spread over rounds and processes
    (:mod:`benchsuite.run.comparison`); ``benchsuite.measure()`` and the pytest plugin measure a
    case in one go, in one process, and do not use it."""

    def idle_for(self, device: str) -> EnergyReading | None:
        return self.run_idle.get(device)
