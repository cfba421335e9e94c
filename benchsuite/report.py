"""Renders a run as a static, self-contained HTML page (no network: CSS inline, no scripts).

This is the first report: one page per run with every case and how each figure was obtained.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from benchsuite.errors import StoreError
from benchsuite.store import ResultStore


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("benchsuite", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        undefined=jinja2.StrictUndefined,
    )
    env.filters["num"] = _format_number
    env.filters["bytes"] = _format_bytes
    return env


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _format_number(value: Any, digits: int = 3) -> str:
    if _missing(value):
        return "–"
    value = float(value)
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e4 or magnitude < 1e-3:
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}"


def _format_bytes(value: Any) -> str:
    if _missing(value):
        return "–"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    return f"{size:.1f} GiB"


def render_run_report(store: ResultStore, run_id: str, out_dir: Path | str) -> Path:
    """Write ``<out_dir>/<run_id>.html`` and ``<out_dir>/index.html`` (the latest run)."""
    out_dir = Path(out_dir)
    cases = store.read_cases([run_id])
    manifest = store.manifest(run_id)
    rows = cases.astype(object).where(cases.notna(), None).to_dict("records")
    environment = rows[0] if rows else {}
    html = (
        _environment()
        .get_template("run.html.j2")
        .render(
            run_id=run_id,
            manifest=manifest,
            rows=rows,
            env=environment,
        )
    )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        page = out_dir / f"{run_id}.html"
        page.write_text(html, encoding="utf-8")
        (out_dir / "index.html").write_text(html, encoding="utf-8")
    except OSError as error:
        raise StoreError(
            f"reports folder {out_dir} is not writable ({error.strerror}); "
            "pass --reports DIR with a folder you can write"
        ) from None
    return page
