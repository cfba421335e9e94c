"""Charts as inline SVG strings, drawn with matplotlib's Agg-free SVG backend.

Text is drawn as paths (no font files, nothing fetched) and ids are salted so the same data gives
the same SVG. Each chart comes with alt text that says what it shows in words.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("svg")  # no display, no GUI toolkit; only the SVG writer is needed

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from benchsuite import units
from benchsuite.report.data import Row, pareto_front
from benchsuite.scenarios import Role, scenario_role, single_batch_scenarios
from benchsuite.store.schema import Status

plt.rcParams.update(
    {
        "svg.fonttype": "path",
        "svg.hashsalt": "benchsuite",
        "font.size": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
)
_XML_HEADER = re.compile(r"^.*?(?=<svg)", re.DOTALL)


@dataclass(frozen=True)
class Chart:
    svg: str
    alt: str


ENERGY_UNITS = ((1.0, "Wh"), (1e-3, "mWh"), (1e-6, "µWh"), (1e-9, "nWh"))
TIME_UNITS = ((1000.0, "s"), (1.0, "ms"), (1e-3, "µs"))


def energy_scale(values_j: Sequence[float]) -> tuple[float, str]:
    """The factor from J per sample to the unit per 1,000 inferences that keeps the largest value
    at or above 1 (``"µWh per 1,000 inferences"``)."""
    largest = max((abs(v) for v in values_j if v), default=1.0) * 1000 / units.J_PER_WH
    for factor, name in ENERGY_UNITS:
        if largest >= factor:
            return 1000 / units.J_PER_WH / factor, f"{name} per 1,000 inferences"
    factor, name = ENERGY_UNITS[-1]
    return 1000 / units.J_PER_WH / factor, f"{name} per 1,000 inferences"


def time_scale(values_ms: Sequence[float]) -> tuple[float, str]:
    """The factor from ms to the unit (s, ms, µs) that keeps the largest value at or above 1."""
    largest = max((abs(v) for v in values_ms if v), default=1.0)
    for factor, name in TIME_UNITS:
        if largest >= factor:
            return 1 / factor, name
    return 1 / TIME_UNITS[-1][0], TIME_UNITS[-1][1]


def _plain_ticks(figure: plt.Figure) -> None:
    """Tick labels written out (0.0001, 15,000), never 1e-4 or an offset: no scientific
    notation anywhere on a page."""
    plain = FuncFormatter(lambda value, _: units.plain(value, 3))
    for axes in figure.axes:
        for axis, scale in ((axes.xaxis, axes.get_xscale()), (axes.yaxis, axes.get_yscale())):
            if axis.get_major_formatter().__class__.__name__ == "StrCategoryFormatter":
                continue  # category names (bar charts)
            if scale == "log":
                if getattr(axis.get_transform(), "base", 10) == 10:
                    # ticks at 1, 2 and 5 of each decade: a short range gets labels too
                    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
                axis.set_minor_formatter(NullFormatter())
            axis.set_major_formatter(plain)


def _to_svg(figure: plt.Figure) -> str:
    _plain_ticks(figure)
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    svg = _XML_HEADER.sub("", buffer.getvalue(), count=1)
    return svg.replace("<svg ", '<svg role="img" aria-hidden="true" ', 1)


def _label(row: Row) -> str:
    return str(row["variant"])


def quality_vs_cost(rows: Sequence[Row], cost: str, cost_label: str, workload: str) -> Chart | None:
    """Accuracy against a cost per sample, the Pareto front (cheaper and at least as accurate)
    marked. Single-stream rows only, so every point is the same kind of measurement."""
    points = [
        r
        for r in rows
        if r["status"] == Status.OK
        and r["scenario"] in single_batch_scenarios()
        and r.get("accuracy") is not None
        and r.get(cost) is not None
    ]
    if len(points) < 2:
        return None
    is_energy = cost == "energy_per_sample_j"
    scale, unit = (
        energy_scale([r[cost] for r in points])
        if is_energy
        else time_scale([r[cost] for r in points])
    )
    coordinates = [(float(r[cost]) * scale, float(r["accuracy"]) * 100) for r in points]
    front = pareto_front(coordinates)
    figure, axes = plt.subplots(figsize=(7.2, 4.2))
    colours = plt.get_cmap("tab10")
    for index, (row, (x, y)) in enumerate(zip(points, coordinates, strict=True)):
        on_front = index in front
        axes.scatter(
            [x],
            [y],
            s=64 if on_front else 40,
            color=colours(index % 10),
            edgecolors="black" if on_front else "none",
            linewidths=1.2,
            zorder=3,
            label=_label(row) + (" (Pareto front)" if on_front else ""),
        )
    ordered = sorted(coordinates[i] for i in front)
    axes.plot([p[0] for p in ordered], [p[1] for p in ordered], color="#57606a", lw=1, ls="--")
    axes.set_xscale("log")
    axes.set_xlabel(f"{cost_label.split(' (')[0]} ({unit}{'' if is_energy else ' per call'})")
    axes.set_ylabel("held-out accuracy (%)")
    # the legend beside the plot, one entry per variant: no label can cover a point
    axes.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=9)
    names = ", ".join(_label(points[i]) for i in sorted(front))
    alt = (
        f"{workload}: accuracy against {cost_label.split(' (')[0]} for {len(points)} variants "
        f"(single-stream); on the Pareto front (cheaper and at least as accurate): {names}."
    )
    return Chart(_to_svg(figure), alt)


def batch_sweep(rows: Sequence[Row], workload: str) -> Chart | None:
    """Latency and energy per sample against batch size, a line per variant and thread count."""
    inference = [
        r
        for r in rows
        if r["status"] == Status.OK
        and scenario_role(r["scenario"]) is Role.INFERENCE
        and r.get("latency_p50_ms") is not None
        and r.get("ttft_p50_ms") is None  # generation rows have their own sweep
    ]
    series: dict[str, list[Row]] = {}
    for row in inference:
        threads = f", {row['threads']} thr" if row.get("threads") else ""
        series.setdefault(f"{row['variant']} ({row['device']}{threads})", []).append(row)
    series = {k: v for k, v in series.items() if len({r["batch_size"] for r in v}) >= 2}
    if not series:
        return None
    every = [r for members in series.values() for r in members]
    time_factor, time_unit = time_scale([r["latency_p50_ms"] / r["batch_size"] for r in every])
    energy_factor, energy_unit = energy_scale([r.get("energy_per_sample_j") or 0 for r in every])
    figure, (latency_axes, energy_axes) = plt.subplots(1, 2, figsize=(10.0, 3.8))
    for name, members in series.items():
        members = sorted(members, key=lambda r: r["batch_size"])
        sizes = [r["batch_size"] for r in members]
        latency_axes.plot(
            sizes,
            [r["latency_p50_ms"] / r["batch_size"] * time_factor for r in members],
            marker="o",
            label=name,
        )
        energy_axes.plot(
            sizes,
            [(r.get("energy_per_sample_j") or 0) * energy_factor for r in members],
            marker="o",
        )
    for axes, label in (
        (latency_axes, f"p50 latency per sample ({time_unit})"),
        (energy_axes, f"energy ({energy_unit})"),
    ):
        axes.set_xscale("log", base=2)
        axes.set_yscale("log")
        axes.set_xlabel("batch size")
        axes.set_ylabel(label)
    figure.legend(frameon=False, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncols=3)
    alt = (
        f"{workload}: p50 latency and energy per sample against batch size for {', '.join(series)}."
    )
    return Chart(_to_svg(figure), alt)


GENERATION_PANELS = (
    ("ttft_p50_ms", "time to first token p50 (ms)"),
    ("tpot_p50_ms", "time per output token p50 (ms)"),
    ("energy_per_output_token_j", "energy per output token (J)"),
)


def _bound_line(axes: Any, bound: float, label: str) -> None:
    """A latency bound across the panel, labelled at its left end."""
    axes.axhline(bound, color="firebrick", linestyle="--", linewidth=1)
    axes.annotate(
        label,
        (0.02, bound),
        xycoords=("axes fraction", "data"),
        color="firebrick",
        fontsize=7,
        va="bottom",
    )


def load_sweep(rows: Sequence[Row], workload: str) -> Chart | None:
    """Energy per request and p99 latency against the offered request rate, a line per
    variant (device and largest batch), with the latency bound drawn: variants compared at the
    same rate."""
    series: dict[str, list[Row]] = {}
    for row in rows:
        if (
            row["status"] == Status.OK
            and row.get("offered_rps") is not None
            and row.get("endpoint_url") is None  # an endpoint's levels: endpoint_sweep
        ):
            name = f"{row['variant']} ({row['device']}, batch <= {row['batch_size']})"
            series.setdefault(name, []).append(row)
    if not series:
        return None
    figure, (energy, latency) = plt.subplots(1, 2, figsize=(10.0, 3.4))
    bounds: set[float] = set()
    for name, members in series.items():
        members = sorted(members, key=lambda r: r["offered_rps"])
        rates = [r["offered_rps"] for r in members]
        energy.plot(rates, [r["energy_per_request_j"] for r in members], marker="o", label=name)
        latency.plot(rates, [r["latency_p99_ms"] for r in members], marker="o", label=name)
        bounds.update(r["latency_bound_ms"] for r in members)
    for bound in sorted(bounds):
        _bound_line(latency, bound, f"bound {bound:g} ms")
    energy.set_ylabel("energy per request (J)")
    latency.set_ylabel("p99 latency, queue included (ms)")
    latency.set_yscale("log")
    latency.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    latency.yaxis.set_minor_formatter(FuncFormatter(lambda value, _: ""))
    for axes in (energy, latency):
        axes.set_xlabel("offered load (requests/s)")
    energy.legend(frameon=False, fontsize=7)
    bound_text = ", ".join(f"{bound:g} ms" for bound in sorted(bounds))
    alt = (
        f"{workload}: energy per request and p99 latency against the offered request rate for "
        f"{', '.join(series)}, with the p99 latency bound ({bound_text})."
    )
    return Chart(_to_svg(figure), alt)


def _finite(value: Any) -> bool:
    return value is not None and isinstance(value, int | float) and math.isfinite(value)


def endpoint_sweep(rows: Sequence[Row], workload: str) -> Chart | None:
    """An endpoint's load levels against the offered rate: energy per output token, p99 time to
    first token with the SLO's bound drawn, and goodput beside the achieved rate; the capacity
    the SLO search found is a dotted line on every panel."""
    series: dict[str, list[Row]] = {}
    capacities: set[float] = set()
    for row in rows:
        if row["status"] != Status.OK or row.get("endpoint_url") is None:
            continue
        if _finite(row.get("capacity_rps")):
            capacities.add(float(row["capacity_rps"]))
        if row.get("load_pct") is not None and _finite(row.get("offered_rps")):
            shape = f"p{row['prompt_tokens']}-o{row['output_tokens']}"
            series.setdefault(f"{row['variant']} ({row['device']}, {shape})", []).append(row)
    if not series:
        return None
    figure, (energy, ttft, goodput) = plt.subplots(1, 3, figsize=(12.0, 3.4))
    bounds: set[float] = set()
    for name, members in series.items():
        members = sorted(members, key=lambda r: r["offered_rps"])
        rates = [r["offered_rps"] for r in members]
        per_token = [r.get("energy_per_output_token_j") for r in members]
        if any(_finite(value) for value in per_token):
            energy.plot(rates, per_token, marker="o", label=name)
        ttft.plot(rates, [r["ttft_p99_ms"] for r in members], marker="o", label=name)
        goodput.plot(
            rates, [r["goodput_rps"] for r in members], marker="o", label=f"{name} goodput"
        )
        goodput.plot(
            rates, [r["achieved_rps"] for r in members], linestyle=":", label=f"{name} achieved"
        )
        bounds.update(float(r["slo_ttft_ms"]) for r in members if _finite(r.get("slo_ttft_ms")))
    for bound in sorted(bounds):
        _bound_line(ttft, bound, f"SLO {bound:g} ms")
    for capacity in sorted(capacities):
        for axes in (energy, ttft, goodput):
            axes.axvline(capacity, color="grey", linestyle=":", linewidth=1)
    energy.set_ylabel("energy per output token (J)")
    ttft.set_ylabel("p99 time to first token (ms)")
    goodput.set_ylabel("requests/s")
    for axes in (energy, ttft, goodput):
        axes.set_xlabel("offered load (requests/s)")
    goodput.legend(frameon=False, fontsize=7)
    slo_text = ", ".join(f"{bound:g} ms" for bound in sorted(bounds)) or "none set"
    capacity_text = ", ".join(f"{c:.3g} req/s" for c in sorted(capacities)) or "not searched"
    alt = (
        f"{workload}: energy per output token, p99 time to first token (SLO bound: "
        f"{slo_text}) and goodput against the offered request rate for {', '.join(series)}; "
        f"capacity under the SLO: {capacity_text}."
    )
    return Chart(_to_svg(figure), alt)


def generation_sweep(rows: Sequence[Row], workload: str) -> Chart | None:
    """TTFT, TPOT and energy per output token against batch size, a line per variant and
    prompt/output length, for generation rows measured at two batch sizes or more."""
    series: dict[str, list[Row]] = {}
    for row in rows:
        if (
            row["status"] == Status.OK
            and row.get("ttft_p50_ms") is not None
            and row.get("endpoint_url") is None  # an endpoint's batch axis is its users
        ):
            shape = f"p{row['prompt_tokens']}-o{row['output_tokens']}"
            series.setdefault(f"{row['variant']} ({row['device']}, {shape})", []).append(row)
    series = {k: v for k, v in series.items() if len({r["batch_size"] for r in v}) >= 2}
    if not series:
        return None
    figure, panels = plt.subplots(1, len(GENERATION_PANELS), figsize=(10.5, 3.0))
    for name, members in series.items():
        members = sorted(members, key=lambda r: r["batch_size"])
        sizes = [r["batch_size"] for r in members]
        for axes, (column, _) in zip(panels, GENERATION_PANELS, strict=True):
            axes.plot(sizes, [r.get(column) for r in members], marker="o", label=name)
    for axes, (_, label) in zip(panels, GENERATION_PANELS, strict=True):
        axes.set_xscale("log", base=2)
        axes.set_xlabel("batch size")
        axes.set_ylabel(label)
    panels[0].legend(frameon=False, fontsize=7)
    alt = (
        f"{workload}: time to first token, time per output token and energy per output token "
        f"against batch size for {', '.join(series)}."
    )
    return Chart(_to_svg(figure), alt)


def trend(history: pd.DataFrame, workload: str, column: str, label: str) -> Chart | None:
    """A metric of each single-stream case across runs on this hardware (oldest to newest)."""
    frame = history[
        (history["workload"] == workload)
        & (history["status"] == Status.OK)
        & (history["scenario"].isin(single_batch_scenarios()))
    ]
    frame = frame.dropna(subset=[column])
    if frame["run_id"].nunique() < 2:
        return None
    runs = sorted(frame["run_id"].unique())
    position = {run: index for index, run in enumerate(runs)}
    figure, axes = plt.subplots(figsize=(7.6, 2.8))
    for case_id, group in frame.groupby("case_id", sort=True):
        group = group.sort_values("run_id")
        axes.plot(
            [position[r] for r in group["run_id"]],
            group[column],
            lw=1,
            marker="o" if len(runs) <= 30 else None,
            ms=3,
            label=str(case_id).split("/", 1)[1],
        )
    axes.set_xlabel(f"run (oldest to newest, {len(runs)} runs on this hardware)")
    axes.set_ylabel(label)
    if frame["case_id"].nunique() <= 12:
        axes.legend(frameon=False, fontsize=7, ncols=2)
    alt = (
        f"{workload}: {label} of {frame['case_id'].nunique()} single-stream cases across "
        f"{len(runs)} runs on this hardware."
    )
    return Chart(_to_svg(figure), alt)


def cost_bars(rows: Sequence[Row], workload: str) -> Chart | None:
    """For workloads without a quality metric: FLOPs and p50 latency per variant side by side."""
    points = [
        r
        for r in rows
        if r["status"] == Status.OK
        and r["scenario"] in single_batch_scenarios()
        and r.get("latency_p50_ms") is not None
        and r.get("endpoint_url") is None  # an endpoint has no FLOPs counted here
    ]
    if not points:
        return None
    figure, (flops_axes, latency_axes) = plt.subplots(1, 2, figsize=(7.6, 2.6))
    names = [f"{r['variant']}" for r in points]
    flops_axes.barh(
        names, [(r.get("flops_per_sample") or 0) / 1e9 for r in points], color="#8c959f"
    )
    flops_axes.set_xlabel("GFLOPs per sample (counted)")
    latency_axes.barh(names, [r["latency_p50_ms"] for r in points], color="#1f6feb")
    latency_axes.set_xlabel("p50 latency (ms)")
    alt = f"{workload}: counted FLOPs and p50 latency per variant: " + "; ".join(
        f"{r['variant']} {(r.get('flops_per_sample') or 0) / 1e9:.2f} GFLOPs, "
        f"{r['latency_p50_ms']:.3g} ms"
        for r in points
    )
    return Chart(_to_svg(figure), alt)
