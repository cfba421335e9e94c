"""A run's rows in other formats: CSV, JSON and Markdown for spreadsheets, scripts and wikis, and
pytest-benchmark's JSON for teams that already collect it.

``benchsuite export RUN --format csv|json|markdown`` writes one row per case with the store's
columns (the schema's, in its order). ``benchsuite run --benchmark-json FILE`` writes the timed
cases as pytest-benchmark's ``--benchmark-json`` does: its ``stats`` in seconds from the raw
per-call latencies (warm-up left out), benchsuite's energy and quality figures in
``extra_info``. Cases without per-call timings (training, skipped or failed cases) are left out
of that file, because pytest-benchmark has no place for them; the other formats keep every row.
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
from datetime import UTC, datetime
from typing import Any

import numpy as np

from benchsuite.errors import UsageError
from benchsuite.report.data import missing
from benchsuite.store.runs import ResultStore
from benchsuite.store.schema import Status

FORMATS = ("csv", "json", "markdown")
PYTEST_BENCHMARK_LAYOUT = "5.1.0"
"""The pytest-benchmark JSON layout written (that of its 4.x and 5.x releases): the version the
document states when pytest-benchmark is not installed, as its machine info then says."""
EXTRA_COLUMNS = (
    "energy_per_sample_j",
    "energy_per_sample_low_j",
    "energy_per_sample_high_j",
    "energy_kind",
    "energy_source",
    "energy_valid",
    "quality_metric",
    "accuracy",
    "top1_agreement",
    "throughput_samples_per_s",
    "peak_rss_bytes",
    "flops_per_sample",
    "env_hardware_id",
)


def _cell(value: Any) -> Any:
    """A JSON-ready value: NaN and missing become null, numpy scalars plain Python."""
    if missing(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def export_cases(store: ResultStore, run_id: str, fmt: str) -> str:
    """``run_id``'s case rows as CSV, JSON (a list of objects) or a Markdown table."""
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt}: choose one of {', '.join(FORMATS)}")
    cases = store.read_cases([run_id])
    if fmt == "csv":
        return str(cases.to_csv(index=False))
    records = [
        {str(k): _cell(v) for k, v in record.items()}
        for record in cases.astype(object).to_dict("records")
    ]
    if fmt == "json":
        return json.dumps(records, indent=1, default=str) + "\n"
    return markdown_table(list(cases.columns), records)


def _markdown_cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value).replace("|", "\\|").replace("\n", " ")
    return text


def markdown_table(columns: list[str], records: list[dict[str, Any]]) -> str:
    """A GitHub-flavoured Markdown table; an empty cell is a missing value."""
    lines = [
        "| " + " | ".join(columns) + " |",
        "| " + " | ".join("---" for _ in columns) + " |",
    ]
    for record in records:
        lines.append("| " + " | ".join(_markdown_cell(record[c]) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def _stats(latency_ns: np.ndarray) -> dict[str, Any]:
    """pytest-benchmark's ``stats`` block (seconds) from per-call latencies."""
    seconds = latency_ns.astype(float) / 1e9
    q1, median, q3 = np.percentile(seconds, [25, 50, 75])
    iqr = q3 - q1
    mean = float(seconds.mean())
    stddev = float(seconds.std(ddof=1)) if len(seconds) > 1 else 0.0
    low_fence, high_fence = q1 - 1.5 * iqr, q3 + 1.5 * iqr
    inside = seconds[(seconds >= low_fence) & (seconds <= high_fence)]
    iqr_outliers = int(len(seconds) - len(inside))
    stddev_outliers = int(((seconds < mean - stddev) | (seconds > mean + stddev)).sum())
    return {
        "min": float(seconds.min()),
        "max": float(seconds.max()),
        "mean": mean,
        "stddev": stddev,
        "rounds": len(seconds),
        "median": float(median),
        "iqr": float(iqr),
        "q1": float(q1),
        "q3": float(q3),
        "iqr_outliers": iqr_outliers,
        "stddev_outliers": stddev_outliers,
        "outliers": f"{stddev_outliers};{iqr_outliers}",
        "ld15iqr": float(inside.min()) if len(inside) else float(seconds.min()),
        "hd15iqr": float(inside.max()) if len(inside) else float(seconds.max()),
        "ops": 1.0 / mean if mean > 0 else 0.0,
        "total": float(seconds.sum()),
        "iterations": 1,
    }


def pytest_benchmark_document(store: ResultStore, run_id: str) -> dict[str, Any]:
    """``run_id`` as pytest-benchmark's ``--benchmark-json`` document."""
    cases = store.read_cases([run_id])
    samples = store.read_samples([run_id])
    samples = samples[samples["phase"] == "sample"]
    first: dict[str, Any] = (
        {str(k): v for k, v in cases.iloc[0].to_dict().items()} if len(cases) else {}
    )
    benchmarks = []
    for row in cases.astype(object).to_dict("records"):
        timed = samples[samples["case_id"] == row["case_id"]]["latency_ns"].to_numpy()
        if row["status"] != Status.OK or len(timed) == 0:
            continue
        benchmarks.append(
            {
                "group": row["workload"],
                "name": row["case_id"],
                "fullname": f"benchsuite::{row['case_id']}",
                "params": {
                    key: _cell(row.get(key))
                    for key in ("variant", "device", "scenario", "batch_size", "threads")
                },
                "param": None,
                "extra_info": {key: _cell(row.get(key)) for key in EXTRA_COLUMNS},
                "options": {
                    "disable_gc": True,
                    "timer": "perf_counter_ns",
                    "min_rounds": None,
                    "max_time": None,
                    "min_time": None,
                    "warmup": True,
                },
                "stats": _stats(np.asarray(timed)),
            }
        )
    manifest = store.manifest(run_id)
    return {
        "machine_info": {
            "node": _cell(first.get("env_host")),
            "processor": _cell(first.get("env_cpu_model")),
            "machine": platform.machine(),
            "python_implementation": platform.python_implementation(),
            "python_version": _cell(first.get("env_python_version")),
            "python_compiler": platform.python_compiler(),
            "release": platform.release(),
            "system": platform.system(),
            "cpu": {
                "brand_raw": _cell(first.get("env_cpu_model")),
                "count": _cell(first.get("env_cpu_count")),
            },
            "benchsuite_hardware_id": _cell(first.get("env_hardware_id")),
            "benchsuite_pytest_benchmark": " ".join(_pytest_benchmark_version()),
        },
        "commit_info": {
            "id": _cell(first.get("env_git_commit")),
            "time": None,
            "author_time": None,
            "dirty": bool(first.get("env_git_dirty")) if first else False,
            "project": "benchsuite",
            "branch": manifest.get("branch"),
        },
        "benchmarks": benchmarks,
        "datetime": manifest.get("started_at_utc") or datetime.now(UTC).isoformat(),
        "version": _pytest_benchmark_version()[0],
    }


def _pytest_benchmark_version() -> tuple[str, str]:
    """The installed pytest-benchmark's version, and how it was found."""
    try:
        return importlib.metadata.version("pytest-benchmark"), "installed"
    except importlib.metadata.PackageNotFoundError:
        return PYTEST_BENCHMARK_LAYOUT, "not installed: the layout of its 5.x releases"


def write_pytest_benchmark_json(store: ResultStore, run_id: str) -> str:
    return json.dumps(pytest_benchmark_document(store, run_id), indent=2) + "\n"
