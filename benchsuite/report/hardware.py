"""The cross-hardware page: the same cases on each hardware kind a shared store has seen.

For the run's suite (and branch, when it recorded one), each hardware id contributes its most
recent run's rows up to the reported run, so a fleet's nightly results line up side by side
however the machines took turns. Latency and energy are shown as measured on each machine, with
the energy's kind: an estimate on one machine is not comparable with a measurement on another.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from benchsuite.store.history import RunScope, runs_in_scope
from benchsuite.store.runs import ResultStore

COLUMNS = [
    "run_id",
    "case_id",
    "status",
    "env_hardware_id",
    "env_cpu_model",
    "env_cpu_count",
    "env_gpu_names",
    "latency_p50_ms",
    "energy_per_sample_j",
    "energy_kind",
]


@dataclass(frozen=True)
class Hardware:
    hardware_id: str
    label: str
    run_id: str
    """The run this hardware's column comes from: its latest up to the reported run."""


@dataclass
class CrossHardware:
    suite: str
    hardware: list[Hardware] = field(default_factory=list)
    cases: list[tuple[str, dict[str, dict[str, Any]]]] = field(default_factory=list)
    """Each case id, with its row (as a dict) per hardware id that ran it."""


def _text(value: Any, default: str) -> str:
    return default if value is None or pd.isna(value) or value == "" else str(value)


def hardware_label(row: Mapping[str, Any]) -> str:
    """``"NVIDIA H100 · Intel Xeon ... ×16"``: what a person recognises a machine by."""
    model = _text(row.get("env_cpu_model"), "unknown CPU")
    cpu = f"{model} ×{_text(row.get('env_cpu_count'), '?')}"
    gpus = _text(row.get("env_gpu_names"), "")
    return f"{gpus} · {cpu}" if gpus else cpu


def cross_hardware(store: ResultStore, run_id: str) -> CrossHardware:
    """The suite of ``run_id`` on every hardware id in ``store``, latest run each."""
    manifest = store.manifest(run_id)
    suite = str(manifest.get("suite"))
    scope = RunScope(suite=suite, branch=manifest.get("branch") or "")
    # other hardware's latest complete runs, and this run itself even when it is partial
    runs = sorted({*(run for run in runs_in_scope(store, scope) if run <= run_id), run_id})
    result = CrossHardware(suite)
    if not runs:
        return result
    rows = store.read_cases(runs, columns=COLUMNS).dropna(subset=["env_hardware_id"])
    latest = rows.groupby("env_hardware_id")["run_id"].transform("max")
    rows = rows[rows["run_id"] == latest]
    for hardware_id, group in sorted(rows.groupby("env_hardware_id"), key=lambda g: str(g[0])):
        first = {str(key): value for key, value in group.iloc[0].to_dict().items()}
        result.hardware.append(
            Hardware(str(hardware_id), hardware_label(first), str(first["run_id"]))
        )
    by_case: dict[str, dict[str, dict[str, Any]]] = {}
    for record in rows.to_dict("records"):
        cell = {str(key): value for key, value in record.items()}
        by_case.setdefault(str(cell["case_id"]), {})[str(cell["env_hardware_id"])] = cell
    result.cases = sorted(by_case.items())
    return result
