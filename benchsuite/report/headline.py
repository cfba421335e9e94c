"""The headline of a workload: the best variant on each axis, and the trade-off, one sentence each.

A stakeholder reads this and nothing else, so each sentence names the variant, the figure in
human units, the comparison with fp32, and whether the energy was estimated. The variants are
compared in one case shape (device, scenario, batch size, threads): a batch-1 scenario if one was
measured, else a batched one, generation, or serving, whichever has an fp32 row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchsuite import units
from benchsuite.report.ratios import ratio_to_baseline, unresolved
from benchsuite.scenarios import Role, scenario_role, single_batch_scenarios
from benchsuite.store.schema import Status

Row = dict[str, Any]

SHAPE = ("device", "scenario", "batch_size", "threads", "prompt_tokens", "output_tokens")
QUALITY_KEPT_POINTS = 0.01
"""The trade-off sentence names the variant that saves most energy while losing at most this
much of the quality metric (one point of accuracy)."""
PERCENT_METRICS = {"accuracy", "top1_agreement", "token_agreement"}


@dataclass(frozen=True)
class Line:
    axis: str
    text: str


def _ok(rows: Sequence[Row]) -> list[Row]:
    return [
        r
        for r in rows
        if r["status"] == Status.OK and scenario_role(r["scenario"]) is Role.INFERENCE
    ]


def comparison_group(rows: Sequence[Row]) -> list[Row]:
    """The rows of one case shape that has an fp32 row, preferring single-stream."""
    groups: dict[tuple[Any, ...], list[Row]] = {}
    for row in _ok(rows):
        groups.setdefault(tuple(row.get(k) for k in SHAPE), []).append(row)
    with_fp32 = [g for g in groups.values() if any(r["variant"] == "fp32" for r in g)]
    if not with_fp32:
        return []

    def preference(group: list[Row]) -> tuple[int, int]:
        """Batch-1 scenarios first (one call, one inference), then batched ones, then generation
        (its per-request figures), then serving under load (its figures depend on the load)."""
        row = group[0]
        if row["scenario"] in single_batch_scenarios():
            rank = 0
        elif row.get("offered_rps") is not None:
            rank = 3
        elif row.get("ttft_p50_ms") is not None:
            rank = 2
        else:
            rank = 1
        return rank, -len(group)

    return min(with_fp32, key=preference)


def _quality(row: Row) -> tuple[str, float] | None:
    metric = row.get("quality_metric")
    value = row.get(metric) if metric else None
    return (str(metric), float(value)) if value is not None else None


def _quality_text(metric: str, value: float) -> str:
    if metric in PERCENT_METRICS:
        return units.percent(value)
    return units.plain(value, 4)


def _metric_name(metric: str) -> str:
    return metric.replace("_", " ")


def quality_figure(row: Row) -> str:
    """The row's headline quality figure alone: ``"98.9 %"``, or ``"n/a"``."""
    quality = _quality(row)
    return "n/a" if quality is None else _quality_text(*quality)


def quality_text(row: Row) -> str:
    """The row's headline quality figure with its metric: ``"accuracy 98.9 %"``, or ``"n/a"``."""
    quality = _quality(row)
    return "n/a" if quality is None else f"{_metric_name(quality[0])} {quality_figure(row)}"


def _shape(row: Row) -> str:
    parts = [row["scenario"], f"batch {row['batch_size']}"]
    if row.get("threads"):
        parts.append(f"{row['threads']} thread{'s' if row['threads'] != 1 else ''}")
    return f"{', '.join(parts)}, on {row['device']}"


def _ratio(row: Row, fp32: Row, column: str) -> float:
    """``row``'s figure over fp32's: paired round by round where the run measured it so."""
    ratio = ratio_to_baseline(row, fp32, column)
    assert ratio is not None, "only rows with the figure are compared"
    return ratio


def _versus(row: Row, fp32: Row, column: str, noun: str) -> str:
    change = _ratio(row, fp32, column) - 1
    if unresolved(row, fp32, column):
        return f"unresolved against fp32's {noun} (the interval over processes is too wide)"
    if abs(change) < 0.005:
        return f"the same as fp32's {noun}"
    word = "less" if change < 0 else "more"
    return f"{units.plain(abs(change) * 100, 2)} % {word} than fp32"


def _saves(row: Row, fp32: Row) -> str:
    saving = 1 - _ratio(row, fp32, "energy_per_sample_j")
    if unresolved(row, fp32, "energy_per_sample_j"):
        return f"may save about {units.plain(saving * 100, 2)} % (unresolved: a wide interval)"
    return f"saves {units.plain(saving * 100, 2)} %"


def _estimated(row: Row) -> str:
    return " (estimated, not measured)" if row.get("energy_kind") == "estimated" else ""


def headline(rows: Sequence[Row]) -> list[Line]:
    """One sentence per axis (energy, speed, quality) and the trade-off, for one workload."""
    group = comparison_group(rows)
    if not group:
        return []
    fp32 = next(r for r in group if r["variant"] == "fp32")
    variants = f"{len(group)} variant{'s' if len(group) != 1 else ''}"
    lines = [Line("Compared at", f"{_shape(fp32)}, {variants}.")]
    with_energy = [r for r in group if r.get("energy_valid") and r.get("energy_per_sample_j")]
    if with_energy and fp32 in with_energy:
        best = min(with_energy, key=lambda r: r["energy_per_sample_j"])
        figure = units.energy_per_1000(
            best["energy_per_sample_j"],
            best.get("energy_per_sample_low_j"),
            best.get("energy_per_sample_high_j"),
        )
        if best is fp32:
            text = f"fp32 itself, {figure} per 1,000 inferences: no variant used less"
        else:
            versus = _versus(best, fp32, "energy_per_sample_j", "energy")
            text = f"{best['variant']}, {figure} per 1,000 inferences, {versus}"
        lines.append(Line("Least energy", text + _estimated(best) + "."))
    timed = [r for r in group if r.get("latency_p50_ms")]
    if timed:
        best = min(timed, key=lambda r: r["latency_p50_ms"])
        figure = units.duration_ms(
            best["latency_p50_ms"],
            best.get("latency_p50_ci_low_ms"),
            best.get("latency_p50_ci_high_ms"),
        )
        versus = _versus(best, fp32, "latency_p50_ms", "latency")
        name = "fp32 itself" if best is fp32 else best["variant"]
        tail = "" if best is fp32 else f", {versus}"
        lines.append(Line("Fastest", f"{name}, {figure} per call (median){tail}."))
    scored = [(r, q) for r in group if (q := _quality(r)) is not None]
    if scored:
        best, (metric, value) = max(scored, key=lambda pair: pair[1][1])
        name = "fp32" if best is fp32 else best["variant"]
        figure = f"{_metric_name(metric)} {_quality_text(metric, value)}"
        lines.append(Line("Best quality", f"{name}, {figure}."))
    lines.append(Line("Trade-off", _trade_off(group, fp32, with_energy)))
    return lines


def _trade_off(group: list[Row], fp32: Row, with_energy: list[Row]) -> str:
    if fp32 not in with_energy:
        return "no valid energy figure for fp32 in this run, so no saving can be stated."
    cheaper = [
        r for r in with_energy if r is not fp32 and _ratio(r, fp32, "energy_per_sample_j") < 1
    ]
    if not cheaper:
        return "no variant used less energy than fp32 here."
    reference = _quality(fp32)
    if reference is None:
        best = min(cheaper, key=lambda r: r["energy_per_sample_j"])
        return (
            f"{best['variant']} {_saves(best, fp32)} of fp32's energy per "
            "inference; quality was not measured (the model has no quality metric here)."
        )
    metric, fp32_value = reference
    kept = [
        r
        for r in cheaper
        if (q := _quality(r)) is not None and q[1] >= fp32_value - QUALITY_KEPT_POINTS
    ]
    if not kept:
        best = min(cheaper, key=lambda r: r["energy_per_sample_j"])
        quality = _quality(best)
        name = _metric_name(metric)
        lost = "" if quality is None else f" ({name} {_quality_text(metric, quality[1])})"
        return (
            f"every variant that uses less energy than fp32 loses more than one point of "
            f"{name}: the cheapest, {best['variant']}{lost}, against fp32's "
            f"{_quality_text(metric, fp32_value)}."
        )
    best = min(kept, key=lambda r: r["energy_per_sample_j"])
    quality = _quality(best)
    assert quality is not None
    return (
        f"{best['variant']} {_saves(best, fp32)} of fp32's energy per "
        f"inference and keeps its {_metric_name(metric)}: {_quality_text(metric, quality[1])} "
        "against "
        f"{_quality_text(metric, fp32_value)}{_estimated(best)}."
    )
