"""``benchsuite run --model hf:... --task ...``: a one-model suite made from the command line."""

from __future__ import annotations

from collections.abc import Sequence

from benchsuite.instruments.config import MeasureConfig
from benchsuite.instruments.energy import EnergyConfig
from benchsuite.instruments.timing import SamplingConfig
from benchsuite.scenarios import all_scenarios
from benchsuite.scenarios.endpoint import EndpointLoad
from benchsuite.scenarios.generation import Generation
from benchsuite.scenarios.single_stream import SingleStream
from benchsuite.sources import ModelSpec
from benchsuite.sources.openai_endpoint import AS_SERVED
from benchsuite.sources.registry import OPENAI
from benchsuite.sources.spec import TEXT_GENERATION
from benchsuite.suites.load import MatrixEntry, Suite

DEFAULT_VARIANTS = ("fp32", "bf16", "int8")
LANGUAGE_MODEL_VARIANTS = ("fp32", "bf16-weights", "int8")
"""A language model is deployed with its weights in bf16, not autocast over fp32 weights."""
DEFAULT_BATCH_SIZES = (8,)
MODEL_MEASURE = MeasureConfig(
    SamplingConfig(warmup_max_s=2.0, budget_s=3.0),
    EnergyConfig(windows=5, min_windows=3, target_rel=0.05, window_s=1.0, idle_s=0.5),
)
"""How carefully a model by name is measured unless ``--suite`` gives a suite's ``[measure]``:
3 s of latency and 3 to 5 energy windows of 1 s per case. The processes, not a longer budget,
carry a comparison's precision (docs/measurement.md); ``--suite smoke`` is quicker still."""


def default_scenarios(task: str, source: str = "") -> tuple[str, ...]:
    """What a model is measured by when no scenario is named: an endpoint under load, a language
    model by generation (time to first token, time per output token, energy per token), any
    other one request at a time."""
    if source.startswith(OPENAI.prefix):
        return (EndpointLoad.name,)
    return (Generation.name,) if task == TEXT_GENERATION else (SingleStream.name,)


def model_suite(
    spec: ModelSpec,
    variants: Sequence[str] = (),
    devices: Sequence[str] = ("cpu",),
    scenarios: Sequence[str] = (),
    batch_sizes: Sequence[int] = (),
    measure: MeasureConfig | None = None,
    token_shapes: Sequence[tuple[int, int]] = ((32, 32),),
    load_pcts: Sequence[int] = (10, 50, 90),
    threads: Sequence[int] = (),
) -> Suite:
    """The matrix of one model: each scenario × the variants × the devices. A single-batch
    scenario runs batch 1; the others run ``batch_sizes`` (default 8). Without variants: fp32,
    bf16 (``bf16-weights`` for a language model) and int8, plus ``distilled`` when a student is
    given. A server scenario runs each
    of ``load_pcts``; each of ``threads`` is its own case (none: torch's default, which the rows
    record). Without scenarios: :func:`default_scenarios` of the model's task."""
    scenarios = tuple(scenarios) or default_scenarios(spec.task, spec.source)
    defaults: tuple[str, ...] = (
        LANGUAGE_MODEL_VARIANTS if spec.task == TEXT_GENERATION else DEFAULT_VARIANTS
    )
    if spec.source.startswith(OPENAI.prefix):
        defaults = (AS_SERVED,)
    chosen = tuple(variants) or defaults + (("distilled",) if spec.student else ())
    known = all_scenarios()
    matrix = []
    for name in scenarios:
        scenario = known[name]
        sizes = (1,) if scenario.single_batch else tuple(batch_sizes) or DEFAULT_BATCH_SIZES
        shapes: tuple[tuple[int | None, int | None], ...] = (
            tuple(token_shapes) if scenario.token_axes else ((None, None),)
        )
        loads: tuple[int | None, ...] = tuple(load_pcts) if scenario.load_axis else (None,)
        matrix.append(
            MatrixEntry(
                (spec.name,),
                chosen,
                tuple(devices),
                name,
                sizes,
                tuple(threads) or (None,),
                shapes,
                loads,
            )
        )
    return Suite(
        name=f"model-{spec.name}",
        description=f"{spec.source} ({spec.task}) from the command line",
        source=f"--model {spec.source}",
        measure=measure or MODEL_MEASURE,
        matrix=tuple(matrix),
        models=(spec,),
    )
