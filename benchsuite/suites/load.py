"""Suites: TOML files that list the matrix of cases and how carefully to measure them.

A suite is chosen with ``--suite NAME`` (a file bundled in ``benchsuite/suites/``) or
``--suite PATH`` (any ``.toml`` file). Format, with every key optional but ``[[matrix]]``::

    name = "smoke"
    description = "what this suite is for"

    [measure]                 # defaults shown
    warmup_max_s = 5.0        # warm-up stops when timings settle, or after this long
    ci_target_rel = 0.01      # stop sampling when the 95% CI of the median is within ±1 %
    budget_s = 10.0           # ... or after this long
    min_samples = 30
    energy_windows = 5        # busy windows per case (with energy_min_windows: the most)
    energy_window_s = 1.0
    idle_s = 1.0              # idle window before them
    # energy_min_windows = 3  # adaptive: stop after 3 or more windows once the interval of
    # energy_target_rel = 0.05  # the median energy per sample is within ±5 % of it
    case_timeout_s = 900      # a case's worker process is killed after this long
    repeats = 5               # single-stream and offline: worker processes per case, and
    rounds = 8                # rounds in each, at most: a latency slice and an energy window,
                              # each 1/40 of budget_s and of energy_(min_)windows x
                              # energy_window_s (over 10 rounds, a slow model gets fewer)
    ratio_resolution_rel = 0.10  # a paired ratio whose interval (over the processes) reaches
                              # further is unresolved: the report and the gate say so
    ratio_floor_rel = 0.01    # run-to-run movement the processes of one run share, added to a
                              # ratio's interval in quadrature (0: none)
    interleave = true         # the variants of a comparison group take turns, round by round
                              # (false with repeats = 1: each case in one go, budget_s and
                              # energy_windows as above)
    pin_cpus = true           # all of a comparison group's processes run on the same CPUs,
                              # the last `threads` of them (false: where the scheduler puts them)

    [carbon]                  # optional; default 475 gCO2e/kWh, the world average
    country = "FRA"           # CodeCarbon's offline data for this country, or
    # g_co2e_per_kwh = 56     # a figure of your own

    [[models]]                # optional: a model by name, listed in a matrix by its name
    name = "my-bert"
    source = "hf:./my-bert"   # hf:<hub id> (local cache), or a folder relative to this file
    task = "text-classification"  # feature-extraction, image-classification, text-generation
    sequence_length = 128     # or image_size = 224
    eval_data = "eval.jsonl"  # optional, with text (or image) and label columns
    student = "hf:./my-distilbert"  # optional: its "distilled" variant
    # an endpoint (docs/serving.md): source = "openai:http://127.0.0.1:8000/v1", with optional
    # served_model = "NAME", api = "chat" | "completions", serve = "vllm serve ..." (started
    # and stopped by the run), ready_timeout_s = 300, gpu_ids = [0] (the GPUs NVML reads), and
    # reference = "another [[models]] name" (compared in interleaved windows)

    [[matrix]]                # each table adds the product of its lists
    workloads = ["digits-cnn"]
    variants = ["fp32", "bf16"]
    devices = ["cpu"]
    scenario = "single-stream"  # batch 1; "offline" with batch_sizes = [16, 256];
                                # "training" with batch_sizes = [64] (training batch size)
    threads = [1, 2]            # CPU intra-op threads; omit for torch's default
    # scenario = "generation": batch_sizes = [1, 4], prompt_tokens = [32], output_tokens = [32]
    # scenario = "server": batch_sizes = [8] (the largest batch formed), load_pct = [10, 50, 90]
    # scenario = "server-capacity": batch_sizes = [8]; the highest rate meeting the bound

    [serving]                 # server and server-capacity cases; defaults shown
    latency_bound_ms = 100.0  # the bound on p99 end-to-end latency, queue included
    max_queue_wait_ms = 2.0   # a request waits at most this long for others to batch with
    duration_s = 10.0         # each load window lasts this long at its offered rate (at least
                              # 100 update periods of the meter: 10 s on NVML) ...
    # requests = 2000         # ... or serves this many requests (never stretched)
    # arrival_trace = "t.csv" # replay these timestamps (s), scaled to each level, not Poisson
    seed = 0                  # of the Poisson arrivals
    search_probes = 6         # bisection steps of server-capacity

    [endpoints]                # endpoint cases (--model openai:<base url>); defaults shown
    duration_s = 10.0         # each load window lasts this long at its offered rate ...
    # requests = 200          # ... or sends this many requests
    arrival = "poisson"       # or "gamma", with burstiness (1: Poisson; below 1: burstier)
    burstiness = 1.0
    seed = 0                  # of the arrivals and of the prompt stream
    # max_rps = 40.0          # load_pct of this stated rate (the same rates every night), not
                              # of the maximum throughput measured at each case's start
    max_users = 8             # closed-loop users of the maximum-throughput probe
    probe_requests = 32       # requests of that probe
    warmup_requests = 4
    request_timeout_s = 60.0  # a request with no complete answer by then is a timeout
    # slo_ttft_ms = 500       # bounds for goodput and endpoint-capacity (p99s)
    # slo_tpot_ms = 50
    # slo_e2e_ms = 5000
    search_probes = 5         # bisection steps of endpoint-capacity
    pair_rounds = 4           # an endpoint with a reference: rounds of adjacent windows per level
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

from benchsuite.case import Case
from benchsuite.errors import SuiteError, UsageError, did_you_mean
from benchsuite.instruments.config import MeasureConfig
from benchsuite.instruments.devices import KNOWN_DEVICES
from benchsuite.instruments.endpoint_load import EndpointConfig
from benchsuite.instruments.energy import EnergyConfig
from benchsuite.instruments.rounds import RoundsConfig
from benchsuite.instruments.serving_loop import ServingConfig
from benchsuite.instruments.timing import SamplingConfig
from benchsuite.scenarios import all_scenarios
from benchsuite.scenarios.base import Scenario
from benchsuite.scenarios.single_stream import SingleStream
from benchsuite.sources import ModelSpec, source_of
from benchsuite.variants import all_variants

_TOP_KEYS = (
    "name",
    "description",
    "accelerator_type",
    "report",
    "measure",
    "serving",
    "endpoints",
    "carbon",
    "models",
    "matrix",
)
_SERVING_KEYS = (
    "latency_bound_ms",
    "max_queue_wait_ms",
    "duration_s",
    "requests",
    "arrival_trace",
    "seed",
    "search_probes",
)
_MODEL_KEYS = (
    "name",
    "source",
    "task",
    "sequence_length",
    "image_size",
    "eval_data",
    "text_column",
    "image_column",
    "label_column",
    "eval_limit",
    "student",
    "served_model",
    "api",
    "serve",
    "ready_timeout_s",
    "reference",
    "gpu_ids",
)
_ENDPOINT_KEYS = tuple(field.name for field in fields(EndpointConfig))
_ENDPOINT_TEXT_KEYS = ("arrival",)
_ENDPOINT_WHOLE_KEYS = (
    "requests",
    "seed",
    "max_users",
    "probe_requests",
    "warmup_requests",
    "search_probes",
    "pair_rounds",
)
_CARBON_KEYS = ("country", "g_co2e_per_kwh")
_SAMPLING_KEYS = ("warmup_max_s", "ci_target_rel", "budget_s", "min_samples")
_ENERGY_KEYS = {
    "energy_windows": "windows",
    "energy_window_s": "window_s",
    "idle_s": "idle_s",
    "energy_min_windows": "min_windows",
    "energy_target_rel": "target_rel",
}
_ROUNDS_KEYS = ("repeats", "rounds")
_ROUNDS_SWITCHES = ("interleave", "pin_cpus")
_MEASURE_KEYS = (
    *_SAMPLING_KEYS,
    *_ENERGY_KEYS,
    *_ROUNDS_KEYS,
    *_ROUNDS_SWITCHES,
    "case_timeout_s",
    "ratio_resolution_rel",
    "ratio_floor_rel",
)
_TOKEN_KEYS = ("prompt_tokens", "output_tokens")
_MATRIX_KEYS = (
    "workloads",
    "variants",
    "devices",
    "scenario",
    "batch_sizes",
    "threads",
    *_TOKEN_KEYS,
    "load_pct",
)


@dataclass(frozen=True)
class MatrixEntry:
    workloads: tuple[str, ...]
    variants: tuple[str, ...]
    devices: tuple[str, ...]
    scenario: str
    batch_sizes: tuple[int, ...]
    threads: tuple[int | None, ...]
    token_shapes: tuple[tuple[int | None, int | None], ...] = ((None, None),)
    """(prompt_tokens, output_tokens) pairs of a generation matrix; (None, None) elsewhere."""
    load_pcts: tuple[int | None, ...] = (None,)
    """Offered loads (percent of the maximum throughput) of a server matrix; (None,) elsewhere."""


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    source: str
    measure: MeasureConfig = field(default_factory=MeasureConfig)
    matrix: tuple[MatrixEntry, ...] = ()
    carbon_country: str | None = None
    carbon_g_co2e_per_kwh: float | None = None
    models: tuple[ModelSpec, ...] = ()
    """Models named by source (``[[models]]``): workloads the matrix can list by name."""
    label_reference: str | None = None
    """``[report] label_reference``: the hardware id whose fp32 cases every efficiency label is
    graded against (default: each run's own fp32)."""
    accelerator_type: str | None = None
    """The GPU the suite's ``cuda`` cases need on a fleet (``"H100"``): under ``--executor ray``
    they go only to nodes with Ray's ``accelerator_type:<type>`` resource."""

    def cases(self) -> list[Case]:
        """Every case of the matrix, in file order, each once."""
        seen: dict[Case, None] = {}
        for entry in self.matrix:
            for workload in entry.workloads:
                for variant in entry.variants:
                    for device in entry.devices:
                        for threads in entry.threads:
                            for batch_size in entry.batch_sizes:
                                for prompt, output in entry.token_shapes:
                                    for load in entry.load_pcts:
                                        case = Case(
                                            workload,
                                            variant,
                                            device,
                                            entry.scenario,
                                            batch_size,
                                            threads,
                                            prompt,
                                            output,
                                            load,
                                        )
                                        seen.setdefault(case)
        return list(seen)

    def check_workloads(self, known: Iterable[str]) -> None:
        """Fail with the suite's file and the closest name when a workload is not known."""
        known = list(known)
        for entry in self.matrix:
            for name in entry.workloads:
                if name not in known:
                    raise SuiteError(
                        f"{self.source}: unknown workload {name!r}{did_you_mean(name, known)}; "
                        f"known workloads: {', '.join(sorted(known)) or 'none'} "
                        "(see `benchsuite list`, or pass --workloads DIR)"
                    )


def bundled_suites() -> dict[str, Path]:
    folder = resources.files("benchsuite") / "suites"
    return {Path(str(p)).stem: Path(str(p)) for p in folder.iterdir() if p.name.endswith(".toml")}


def load_suite(spec: str) -> Suite:
    """Load ``spec``: a path to a ``.toml`` file, or the name of a bundled suite."""
    path = Path(spec)
    if spec.endswith(".toml") or path.is_file():
        if not path.is_file():
            raise SuiteError(f"--suite {spec}: no such file; check the path")
        return parse_suite(
            path.read_bytes(), source=str(path), default_name=path.stem, base=path.parent
        )
    bundled = bundled_suites()
    if spec not in bundled:
        raise SuiteError(
            f"--suite {spec}: unknown suite{did_you_mean(spec, bundled)}; bundled suites: "
            f"{', '.join(sorted(bundled))}, or pass the path of a .toml file"
        )
    return parse_suite(bundled[spec].read_bytes(), source=f"suite {spec}", default_name=spec)


def _check_keys(source: str, where: str, table: Mapping[str, Any], allowed: Iterable[str]) -> None:
    allowed = list(allowed)
    for key in table:
        if key not in allowed:
            raise SuiteError(
                f"{source}: unknown key {key!r} in {where}{did_you_mean(key, allowed)}; "
                f"allowed keys: {', '.join(allowed)}"
            )


def _names(
    source: str, where: str, value: Any, default: tuple[str, ...] | None = None
) -> tuple[str, ...]:
    if value is None and default is not None:
        return default
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise SuiteError(f'{source}: {where} must be a non-empty list of names, e.g. ["cpu"]')
    return tuple(value)


def _positive_ints(source: str, where: str, value: Any) -> tuple[int, ...]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    ):
        raise SuiteError(
            f"{source}: {where} must be a non-empty list of positive integers, got {value!r}"
        )
    return tuple(value)


def _parse_measure(source: str, table: Any) -> MeasureConfig:
    if not isinstance(table, dict):
        raise SuiteError(f"{source}: [measure] must be a table")
    _check_keys(source, "[measure]", table, _MEASURE_KEYS)
    table = dict(table)
    switches = {key: table.pop(key, getattr(RoundsConfig, key)) for key in _ROUNDS_SWITCHES}
    for key, value in switches.items():
        if not isinstance(value, bool):
            raise SuiteError(f"{source}: [measure] {key} must be true or false, got {value!r}")
    for key in _ROUNDS_KEYS:
        value = table.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise SuiteError(f"{source}: [measure] {key} must be a whole number, got {value!r}")
    for key, value in table.items():
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if not is_number or value < 0 or (value == 0 and key != "ratio_floor_rel"):
            raise SuiteError(f"{source}: [measure] {key} must be a positive number, got {value!r}")
    sampling = {k: table[k] for k in _SAMPLING_KEYS if k in table}
    energy = {field_name: table[key] for key, field_name in _ENERGY_KEYS.items() if key in table}
    try:
        timeout_s = float(table.get("case_timeout_s", MeasureConfig.case_timeout_s))
        rounds = RoundsConfig(
            **{k: table[k] for k in _ROUNDS_KEYS if k in table},
            **switches,
            resolution_rel=float(table.get("ratio_resolution_rel", RoundsConfig.resolution_rel)),
            floor_rel=float(table.get("ratio_floor_rel", RoundsConfig.floor_rel)),
        )
        return MeasureConfig(
            SamplingConfig(**sampling), EnergyConfig(**energy), timeout_s, rounds=rounds
        )
    except (TypeError, ValueError) as error:
        raise SuiteError(f"{source}: [measure] {error}") from None


def _parse_entry(source: str, index: int, table: Any) -> MatrixEntry:
    where = f"[[matrix]] #{index + 1}"
    if not isinstance(table, dict):
        raise SuiteError(f"{source}: {where} must be a table")
    _check_keys(source, where, table, _MATRIX_KEYS)
    if "workloads" not in table:
        raise SuiteError(f'{source}: {where} needs workloads = ["name", ...]')
    workloads = _names(source, f"{where} workloads", table["workloads"])
    variants = _entry_variants(source, where, table)  # checked in the order they are written
    devices = _entry_devices(source, where, table)
    scenario = _entry_scenario(f"{source}: {where}", table)
    batch_sizes = _entry_batch_sizes(source, where, table, scenario)
    threads: tuple[int | None, ...] = (None,)
    if "threads" in table:
        threads = _positive_ints(source, f"{where} threads", table["threads"])
    return MatrixEntry(
        workloads,
        variants,
        devices,
        scenario.name,
        batch_sizes,
        threads,
        _entry_token_shapes(source, where, table, scenario),
        _entry_load_pcts(source, where, table, scenario),
    )


def _entry_variants(source: str, where: str, table: dict[str, Any]) -> tuple[str, ...]:
    variants = _names(source, f"{where} variants", table.get("variants"), ("fp32",))
    known_variants = all_variants()
    for variant in variants:
        if variant not in known_variants:
            raise SuiteError(
                f"{source}: {where} unknown variant {variant!r}"
                f"{did_you_mean(variant, known_variants)}; "
                f"known variants: {', '.join(known_variants)}"
            )
    return variants


def _entry_devices(source: str, where: str, table: dict[str, Any]) -> tuple[str, ...]:
    device_names = _names(source, f"{where} devices", table.get("devices"), ("cpu",))
    for device in device_names:
        if device.split(":", 1)[0] not in KNOWN_DEVICES:
            raise SuiteError(
                f"{source}: {where} unknown device {device!r}{did_you_mean(device, KNOWN_DEVICES)}"
                f"; known devices: {', '.join(KNOWN_DEVICES)} (cuda:N for one GPU)"
            )
    return device_names


def _entry_scenario(at: str, table: dict[str, Any]) -> Scenario:
    scenario = table.get("scenario", SingleStream.name)
    scenarios = all_scenarios()
    if scenario not in scenarios:
        raise SuiteError(
            f"{at} unknown scenario {scenario!r}"
            f"{did_you_mean(str(scenario), scenarios)}; known scenarios: {', '.join(scenarios)}"
        )
    return scenarios[scenario]


def _entry_batch_sizes(
    source: str, where: str, table: dict[str, Any], scenario: Scenario
) -> tuple[int, ...]:
    if scenario.single_batch:
        batch_sizes = _positive_ints(source, f"{where} batch_sizes", table.get("batch_sizes", [1]))
        if batch_sizes != (1,):
            batched = [name for name, s in all_scenarios().items() if not s.single_batch]
            raise SuiteError(
                f"{source}: {where} {scenario.name} runs batch 1 only; use a batched scenario "
                f"({', '.join(batched)}) for batch_sizes {list(batch_sizes)}"
            )
        return batch_sizes
    if "batch_sizes" not in table:
        raise SuiteError(
            f"{source}: {where} {scenario.name} scenario needs batch_sizes = [16, 256]"
        )
    return _positive_ints(source, f"{where} batch_sizes", table["batch_sizes"])


def _entry_token_shapes(
    source: str, where: str, table: dict[str, Any], scenario: Scenario
) -> tuple[tuple[int | None, int | None], ...]:
    given = [key for key in _TOKEN_KEYS if key in table]
    if scenario.token_axes:
        if len(given) != len(_TOKEN_KEYS):
            raise SuiteError(
                f"{source}: {where} {scenario.name} needs prompt_tokens = [...] and "
                "output_tokens = [...], e.g. prompt_tokens = [32] and output_tokens = [32]"
            )
        prompts = _positive_ints(source, f"{where} prompt_tokens", table["prompt_tokens"])
        outputs = _positive_ints(source, f"{where} output_tokens", table["output_tokens"])
        return tuple((p, o) for p in prompts for o in outputs)
    if given:
        raise SuiteError(
            f"{source}: {where} {', '.join(given)} apply to generation cases only; remove them "
            f'or set scenario = "generation"'
        )
    return ((None, None),)


def _entry_load_pcts(
    source: str, where: str, table: dict[str, Any], scenario: Scenario
) -> tuple[int | None, ...]:
    if scenario.load_axis:
        if "load_pct" not in table:
            raise SuiteError(
                f"{source}: {where} {scenario.name} needs load_pct = [...], the offered loads in "
                "percent of the measured maximum throughput, e.g. load_pct = [10, 50, 90]"
            )
        return _positive_ints(source, f"{where} load_pct", table["load_pct"])
    if "load_pct" in table:
        loaded = [name for name, s in all_scenarios().items() if s.load_axis]
        raise SuiteError(
            f"{source}: {where} load_pct applies to {', '.join(loaded)} cases only; remove it "
            f"or set scenario to one of them"
        )
    return (None,)


def _parse_serving(source: str, table: Any, base: Path | None) -> ServingConfig:
    if not isinstance(table, dict):
        raise SuiteError(f"{source}: [serving] must be a table")
    _check_keys(source, "[serving]", table, _SERVING_KEYS)
    settings = dict(table)
    for key, value in settings.items():
        if key == "arrival_trace":
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SuiteError(f"{source}: [serving] {key} must be a number, got {value!r}")
        if key in ("requests", "seed", "search_probes") and not isinstance(value, int):
            raise SuiteError(f"{source}: [serving] {key} must be a whole number, got {value!r}")
    trace = settings.get("arrival_trace")
    if trace is not None:
        if not isinstance(trace, str) or not trace:
            raise SuiteError(f'{source}: [serving] arrival_trace must be a path, e.g. "trace.csv"')
        path = Path(trace)
        if not path.is_absolute() and base is not None:
            path = base / path
        if not path.is_file():
            raise SuiteError(
                f"{source}: [serving] arrival_trace {trace!r}: no such file ({path}); give a "
                "text file of timestamps in seconds, one per line, relative to the suite file"
            )
        settings["arrival_trace"] = path
    try:
        return ServingConfig(**settings)
    except ValueError as error:
        raise SuiteError(f"{source}: [serving] {error}") from None


def _parse_endpoint(source: str, table: Any) -> EndpointConfig:
    if not isinstance(table, dict):
        raise SuiteError(f"{source}: [endpoints] must be a table")
    _check_keys(source, "[endpoints]", table, _ENDPOINT_KEYS)
    for key, value in table.items():
        if key in _ENDPOINT_TEXT_KEYS:
            if not isinstance(value, str):
                raise SuiteError(f'{source}: [endpoints] {key} must be text, e.g. "poisson"')
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SuiteError(f"{source}: [endpoints] {key} must be a number, got {value!r}")
        if key in _ENDPOINT_WHOLE_KEYS and not isinstance(value, int):
            raise SuiteError(f"{source}: [endpoints] {key} must be a whole number, got {value!r}")
    try:
        return EndpointConfig(**table)
    except ValueError as error:
        raise SuiteError(f"{source}: [endpoints] {error}") from None


def _with_references(source: str, models: tuple[ModelSpec, ...]) -> tuple[ModelSpec, ...]:
    """Each endpoint's ``reference`` (the name of another ``[[models]]`` endpoint) made its
    source and served model, which the case's worker needs."""
    by_name = {model.name: model for model in models}
    resolved = []
    for model in models:
        if model.reference is not None and not model.reference.startswith("openai:"):
            other = by_name.get(model.reference)
            if other is None or other is model:
                raise SuiteError(
                    f"{source}: [[models]] {model.name}: reference {model.reference!r} is not the "
                    f"name of another [[models]] entry ({', '.join(by_name)})"
                )
            try:
                model = replace(
                    model, reference=other.source, reference_served_model=other.served_model
                )
            except UsageError as error:
                raise SuiteError(f"{source}: [[models]] {model.name}: {error}") from None
        resolved.append(model)
    return tuple(resolved)


def _parse_model(source: str, index: int, table: Any, base: Path | None) -> ModelSpec:
    where = f"[[models]] #{index + 1}"
    if not isinstance(table, dict):
        raise SuiteError(f"{source}: {where} must be a table")
    _check_keys(source, where, table, _MODEL_KEYS)
    for key in ("source", "task"):
        if not isinstance(table.get(key), str):
            raise SuiteError(
                f'{source}: {where} needs {key} = "..." (e.g. source = "hf:./my-bert")'
            )
    values = dict(table)
    try:
        if base is not None:  # folders and eval files are relative to the suite file
            values.update(_relative_to(base, values))
        return ModelSpec(**values)
    except (TypeError, UsageError) as error:
        raise SuiteError(f"{source}: {where}: {error}") from None


def _relative_to(base: Path, values: dict[str, Any]) -> dict[str, Any]:
    """A model's folder and eval file, when given relative to the suite file, made absolute."""
    resolved: dict[str, Any] = {}
    model_source = source_of(values["source"])
    location = model_source.location(values["source"])
    if model_source.local_folders and location.startswith("."):
        resolved["source"] = model_source.prefix + str((base / location).resolve())
    if isinstance(values.get("eval_data"), str) and not Path(values["eval_data"]).is_absolute():
        resolved["eval_data"] = str((base / values["eval_data"]).resolve())
    return resolved


def parse_suite(
    text: bytes | str, source: str, default_name: str = "suite", base: Path | None = None
) -> Suite:
    """Parse and validate a suite; every problem is a :class:`SuiteError` naming ``source``."""
    try:
        document = tomllib.loads(text.decode() if isinstance(text, bytes) else text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise SuiteError(f"{source}: not valid TOML ({error}); fix the file") from None
    _check_keys(source, "the top level", document, _TOP_KEYS)
    matrix = document.get("matrix")
    if not isinstance(matrix, list) or not matrix:
        raise SuiteError(f"{source}: needs at least one [[matrix]] table listing workloads")
    carbon = document.get("carbon", {})
    if not isinstance(carbon, dict):
        raise SuiteError(f"{source}: [carbon] must be a table")
    _check_keys(source, "[carbon]", carbon, _CARBON_KEYS)
    country = carbon.get("country")
    if country is not None and not (isinstance(country, str) and len(country) == 3):
        raise SuiteError(
            f"{source}: [carbon] country must be an ISO 3166 alpha-3 code such as "
            f'"FRA", got {country!r}'
        )
    intensity = carbon.get("g_co2e_per_kwh")
    if intensity is not None and (
        isinstance(intensity, bool) or not isinstance(intensity, int | float) or intensity < 0
    ):
        raise SuiteError(
            f"{source}: [carbon] g_co2e_per_kwh must be a number >= 0, got {intensity!r}"
        )
    models = document.get("models", [])
    if not isinstance(models, list):
        raise SuiteError(f"{source}: models must be [[models]] tables")
    accelerator = document.get("accelerator_type")
    if accelerator is not None and not (isinstance(accelerator, str) and accelerator.strip()):
        raise SuiteError(
            f'{source}: accelerator_type must be a GPU type name as Ray spells it, e.g. "H100" '
            f'or "A10G", got {accelerator!r}'
        )
    report = document.get("report", {})
    if not isinstance(report, dict):
        raise SuiteError(f"{source}: [report] must be a table")
    _check_keys(source, "[report]", report, ("label_reference",))
    reference = report.get("label_reference")
    if reference is not None and not (isinstance(reference, str) and reference.strip()):
        raise SuiteError(
            f"{source}: [report] label_reference must be a hardware id (the env_hardware_id "
            f'column of a run, e.g. "13269017539a"), got {reference!r}'
        )
    return Suite(
        label_reference=reference,
        accelerator_type=accelerator,
        models=_with_references(
            source, tuple(_parse_model(source, i, entry, base) for i, entry in enumerate(models))
        ),
        carbon_country=country,
        carbon_g_co2e_per_kwh=float(intensity) if intensity is not None else None,
        name=str(document.get("name", default_name)),
        description=str(document.get("description", "")),
        source=source,
        measure=replace(
            _parse_measure(source, document.get("measure", {})),
            serving=_parse_serving(source, document.get("serving", {}), base),
            endpoint=_parse_endpoint(source, document.get("endpoints", {})),
        ),
        matrix=tuple(_parse_entry(source, i, entry) for i, entry in enumerate(matrix)),
    )
