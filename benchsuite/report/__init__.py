"""The static HTML report: an overview of a run and one model-card-style page per workload ×
variant × device. Self-contained: CSS inline, charts as inline SVG, no script, nothing fetched.

    <out>/index.html            overview of the run
    <out>/hardware.html         the run's suite on each hardware kind in the store, side by side
    <out>/cards/<card>.html     one card per workload × variant × device
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from benchsuite import units
from benchsuite.errors import StoreError
from benchsuite.report import charts
from benchsuite.report.data import (
    LABEL_RULE,
    ReportData,
    baseline_for,
    caveats_by_note,
    caveats_for,
    change_vs_baseline,
    load_report_data,
    missing,
)
from benchsuite.report.hardware import cross_hardware
from benchsuite.report.headline import headline, quality_text
from benchsuite.report.ratios import unresolved
from benchsuite.scenarios import Role, scenario_role
from benchsuite.store.runs import ResultStore
from benchsuite.store.schema import Status

__all__ = ["render_report"]


def _format_number(value: Any, digits: int = 3) -> str:
    """A number written out with ``digits`` significant digits: never scientific notation."""
    return "–" if missing(value) else units.plain(value, digits)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("benchsuite.report", "templates"),
        autoescape=True,  # every name and error is text, whatever it contains
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        num=_format_number,
        bytes=units.data_size,
        change=units.change,
        energy1k=units.energy_per_1000,
        energy=units.energy,
        ms=units.duration_ms,
        seconds=units.duration_s,
        co2=units.co2,
        count=units.count,
        rate=units.rate,
        pct=units.percent,
    )
    env.globals.update(
        baseline_for=baseline_for,
        change_vs_baseline=change_vs_baseline,
        unresolved=unresolved,
        caveats_for=caveats_for,
        caveats_by_note=caveats_by_note,
        quality_text=quality_text,
        label_rule=LABEL_RULE,
        isfinite=math.isfinite,
        is_training=lambda row: scenario_role(row["scenario"]) is Role.TRAINING,
        Status=Status,  # templates compare a row's status with the words, not string literals
    )
    return env


def _chart(chart: charts.Chart | None) -> dict[str, Any] | None:
    if chart is None:
        return None
    return {"svg": Markup(chart.svg), "alt": chart.alt}


def _workload_sections(data: ReportData) -> list[dict[str, Any]]:
    sections = []
    for workload in data.workloads:
        rows = data.rows_of(workload)
        sections.append(
            {
                "name": workload,
                "rows": rows,
                "headline": headline(rows),
                "charts": [
                    c
                    for c in (
                        _chart(
                            charts.quality_vs_cost(
                                rows, "energy_per_sample_j", "energy per sample (J)", workload
                            )
                        ),
                        _chart(
                            charts.quality_vs_cost(
                                rows, "latency_p50_ms", "p50 latency (ms)", workload
                            )
                        ),
                        _chart(charts.cost_bars(rows, workload))
                        if all(r.get("accuracy") is None for r in rows)
                        else None,
                        _chart(charts.batch_sweep(rows, workload)),
                        _chart(charts.generation_sweep(rows, workload)),
                        _chart(charts.load_sweep(rows, workload)),
                        _chart(charts.endpoint_sweep(rows, workload)),
                        _chart(
                            charts.trend(
                                data.history, workload, "latency_p50_ms", "p50 latency (ms)"
                            )
                        ),
                        _chart(
                            charts.trend(
                                data.history,
                                workload,
                                "energy_per_sample_j",
                                "energy per sample (J)",
                            )
                        ),
                    )
                    if c is not None
                ],
            }
        )
    return sections


def render_report(
    store: ResultStore, run_id: str, out_dir: Path | str, label_reference: str | None = None
) -> Path:
    """Render ``run_id`` into ``out_dir``; returns the overview page. ``label_reference`` pins
    the efficiency labels to the fp32 cases of that hardware id (see ``load_report_data``)."""
    out_dir = Path(out_dir)
    started = time.perf_counter()
    data = load_report_data(store, run_id, label_reference)
    env = _environment()
    overview = env.get_template("overview.html.j2").render(
        data=data,
        sections=_workload_sections(data),
        cards=data.cards,
        card_dir="cards",
        render_started=started,
    )
    try:
        (out_dir / "cards").mkdir(parents=True, exist_ok=True)
        for card in data.cards:
            page = env.get_template("card.html.j2").render(data=data, card=card)
            (out_dir / "cards" / card.file_name).write_text(page, encoding="utf-8")
            (out_dir / "cards" / card.model_card_name).write_text(card.model_card, encoding="utf-8")
        hardware = env.get_template("hardware.html.j2").render(
            data=data, cross=cross_hardware(store, run_id)
        )
        (out_dir / "hardware.html").write_text(hardware, encoding="utf-8")
        index = out_dir / "index.html"
        index.write_text(overview, encoding="utf-8")
    except OSError as error:
        raise StoreError(
            f"reports folder {out_dir} is not writable ({error.strerror}); "
            "pass --reports DIR (or --out DIR) with a folder you can write"
        ) from None
    return index
