"""Scenarios as plug-ins: the registry, and the one place a case is dispatched to its protocol.

| name | role | batch | what it answers |
| --- | --- | --- | --- |
| single-stream | inference | 1 | the latency one user sees |
| offline | inference | any | throughput and energy per sample in large batches |
| training | training | training batch | what training to the target costs |
| generation | inference | any | per request and per output token: TTFT, TPOT, energy/token |
| server | inference | largest formed | at a load level: p99 against a bound, energy per request |
| server-capacity | inference | largest formed | the highest rate whose p99 meets the bound |
| endpoint | inference | 1 | an OpenAI-compatible endpoint at a load: TTFT, TPOT, goodput, J/token |
| endpoint-capacity | inference | 1 | the highest rate whose p99s meet the endpoint's SLO |
| endpoint-users | inference | users | an endpoint under N closed-loop users |

A new scenario subclasses :class:`~benchsuite.scenarios.base.Scenario` and is registered with
:func:`register_scenario`; the suite parser, runner, gate, report and CLI learn its metrics from
it (:func:`known_metrics`).
"""

from __future__ import annotations

from benchsuite.case import Case
from benchsuite.errors import UsageError, did_you_mean
from benchsuite.instruments.config import MeasureConfig
from benchsuite.instruments.devices import device_unavailable_reason
from benchsuite.instruments.meters.base import Meter
from benchsuite.results import CaseResult
from benchsuite.scenarios.base import Metric, RawSamples, Role, Scenario, SummaryCells
from benchsuite.scenarios.endpoint import EndpointCapacity, EndpointLoad, EndpointUsers
from benchsuite.scenarios.generation import Generation
from benchsuite.scenarios.offline import Offline
from benchsuite.scenarios.server import Server, ServerCapacity
from benchsuite.scenarios.single_stream import SingleStream
from benchsuite.scenarios.training import Training
from benchsuite.variants import get_variant
from benchsuite.workload.base import Workload

__all__ = [
    "Metric",
    "RawSamples",
    "Role",
    "Scenario",
    "SummaryCells",
    "all_scenarios",
    "get_scenario",
    "known_metrics",
    "register_scenario",
    "run_case",
    "scenario_role",
    "single_batch_scenarios",
    "skip_reason",
]

_SCENARIOS: dict[str, Scenario] = {}


def register_scenario(scenario: Scenario) -> Scenario:
    """Add ``scenario`` to the registry (a second one of the same name is refused)."""
    if scenario.name in _SCENARIOS and _SCENARIOS[scenario.name] is not scenario:
        raise UsageError(f"scenario {scenario.name!r} is already registered")
    _SCENARIOS[scenario.name] = scenario
    return scenario


for _bundled in (
    SingleStream(),
    Offline(),
    Training(),
    Generation(),
    Server(),
    ServerCapacity(),
    EndpointLoad(),
    EndpointCapacity(),
    EndpointUsers(),
):
    register_scenario(_bundled)


def all_scenarios() -> dict[str, Scenario]:
    return dict(_SCENARIOS)


def get_scenario(name: str) -> Scenario:
    try:
        return _SCENARIOS[name]
    except KeyError:
        raise UsageError(
            f"unknown scenario {name!r}{did_you_mean(name, _SCENARIOS)}; known scenarios: "
            f"{', '.join(_SCENARIOS)}"
        ) from None


def scenario_role(name: str) -> Role | None:
    """The role of the scenario called ``name``; ``None`` when this process does not know it."""
    scenario = _SCENARIOS.get(name)
    return scenario.role if scenario is not None else None


def single_batch_scenarios() -> tuple[str, ...]:
    """Names of the scenarios that run batch 1 only: their rows compare like with like across
    variants (the report's headline rows)."""
    return tuple(name for name, scenario in _SCENARIOS.items() if scenario.single_batch)


def known_metrics() -> dict[str, Metric]:
    """Every metric some scenario declares, by column (the first declaration wins)."""
    metrics: dict[str, Metric] = {}
    for scenario in _SCENARIOS.values():
        for metric in scenario.metrics:
            metrics.setdefault(metric.column, metric)
    return metrics


def skip_reason(case: Case, workload: Workload | None = None) -> str | None:
    """Why ``case`` cannot run on this machine, or ``None`` when it can."""
    variant = get_variant(case.variant)
    reason = device_unavailable_reason(case.device) or variant.unsupported_reason(case.device)
    if reason is None and workload is not None:
        reason = get_scenario(case.scenario).unsupported_reason(case, workload, variant)
    return reason


def run_case(case: Case, workload: Workload, meter: Meter, config: MeasureConfig) -> CaseResult:
    """Measure one runnable case in this process (a worker process calls this too)."""
    return get_scenario(case.scenario).run(case, workload, get_variant(case.variant), meter, config)
