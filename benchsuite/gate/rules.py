"""Gate rules: per metric a direction and an allowance, with per-workload and per-case overrides."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from benchsuite.case import Case
from benchsuite.errors import UsageError, did_you_mean
from benchsuite.scenarios import known_metrics

_METRIC_KEYS = ("direction", "max_increase", "max_decrease", "max_increase_abs", "max_decrease_abs")
_OVERRIDE_KEYS = ("workload", "case", "metric", *_METRIC_KEYS[1:])


@dataclass(frozen=True)
class Allowance:
    """How much a metric may worsen. ``relative`` is a fraction (0.05 = 5 %); ``absolute`` is in
    the metric's unit. One of the two is set."""

    metric: str
    lower_is_better: bool
    relative: float | None = None
    absolute: float | None = None

    def describe(self) -> str:
        sign = "+" if self.lower_is_better else "-"
        if self.relative is not None:
            return f"{sign}{self.relative * 100:g} %"
        return f"{sign}{self.absolute:g} (absolute)"


@dataclass(frozen=True)
class Rules:
    metrics: dict[str, Allowance]
    overrides: tuple[dict[str, Any], ...] = ()
    source: str = "default rules"

    def allowance(self, case: Case, metric: str) -> Allowance:
        """The allowance for ``metric`` of ``case``: a case override beats a workload override,
        which beats the metric's rule."""
        base = self.metrics[metric]
        best: tuple[int, dict[str, Any]] | None = None
        for override in self.overrides:
            if override["metric"] != metric:
                continue
            if override.get("case") == case.id:
                rank = 2
            elif override.get("workload") == case.workload and "case" not in override:
                rank = 1
            else:
                continue
            if best is None or rank > best[0]:
                best = (rank, override)
        if best is None:
            return base
        override = best[1]
        relative = override.get("max_increase", override.get("max_decrease"))
        absolute = override.get("max_increase_abs", override.get("max_decrease_abs"))
        return replace(base, relative=relative, absolute=absolute if relative is None else None)


def _allowance(source: str, metric: str, table: dict[str, Any]) -> Allowance:
    for key in table:
        if key not in _METRIC_KEYS:
            raise UsageError(
                f"{source}: unknown key {key!r} in [metrics.{metric}]"
                f"{did_you_mean(key, _METRIC_KEYS)}; allowed: {', '.join(_METRIC_KEYS)}"
            )
    direction = table.get("direction")
    if direction not in ("lower", "higher"):
        raise UsageError(
            f'{source}: [metrics.{metric}] direction must be "lower" or "higher" '
            f"(which is better), got {direction!r}"
        )
    limits = {k: v for k, v in table.items() if k != "direction"}
    if len(limits) != 1:
        raise UsageError(
            f"{source}: [metrics.{metric}] needs exactly one of max_increase, "
            "max_decrease, max_increase_abs, max_decrease_abs"
        )
    ((key, value),) = limits.items()
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise UsageError(f"{source}: [metrics.{metric}] {key} must be a number >= 0, got {value!r}")
    relative = float(value) if not key.endswith("_abs") else None
    absolute = float(value) if key.endswith("_abs") else None
    return Allowance(metric, direction == "lower", relative, absolute)


def parse_rules(text: str, source: str, base: Rules | None = None) -> Rules:
    """Parse rules TOML; metrics it does not mention keep ``base``'s (the defaults)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{source}: not valid TOML ({error}); fix the file") from None
    for key in document:
        if key not in ("metrics", "overrides"):
            raise UsageError(
                f"{source}: unknown key {key!r}{did_you_mean(key, ['metrics', 'overrides'])}"
                "; allowed: metrics, overrides"
            )
    metrics = dict(base.metrics) if base else {}
    gateable = known_metrics()  # what the registered scenarios declare
    for metric, table in document.get("metrics", {}).items():
        if metric not in gateable:
            raise UsageError(
                f"{source}: unknown metric {metric!r}{did_you_mean(metric, gateable)}"
                f"; metrics the scenarios declare: {', '.join(gateable)}"
            )
        metrics[metric] = _allowance(source, metric, table)
    overrides = []
    for index, override in enumerate(document.get("overrides", [])):
        where = f"[[overrides]] #{index + 1}"
        for key in override:
            if key not in _OVERRIDE_KEYS:
                raise UsageError(
                    f"{source}: unknown key {key!r} in {where}{did_you_mean(key, _OVERRIDE_KEYS)}"
                )
        if override.get("metric") not in metrics:
            raise UsageError(f"{source}: {where} needs metric = one of {', '.join(metrics)}")
        if ("workload" in override) == ("case" in override):
            raise UsageError(f"{source}: {where} needs exactly one of workload = or case =")
        limits = [k for k in override if k.startswith("max_")]
        if len(limits) != 1:
            raise UsageError(f"{source}: {where} needs exactly one max_* allowance")
        overrides.append(dict(override))
    return Rules(metrics, tuple(overrides), source)


def default_rules() -> Rules:
    text = (resources.files("benchsuite.gate") / "default_rules.toml").read_text()
    return parse_rules(text, "benchsuite default rules")


def load_rules(path: Path | None) -> Rules:
    defaults = default_rules()
    if path is None:
        return defaults
    try:
        text = path.read_text()
    except OSError as error:
        raise UsageError(
            f"--rules {path}: cannot read it ({error.strerror}); check the path"
        ) from None
    return parse_rules(text, str(path), base=defaults)
