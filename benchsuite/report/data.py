"""What the report shows, computed from the store: comparisons with the fp32 baseline, the Pareto
front, efficiency labels, caveats and history. No HTML here (that is the templates' job)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from benchsuite.scenarios import Role, scenario_role, single_batch_scenarios
from benchsuite.store import ResultStore

Row = dict[str, Any]

# efficiency label: energy per sample relative to the fp32 baseline on the same hardware
LABEL_THRESHOLDS = (("A", 0.5), ("B", 0.8), ("C", 1.05), ("D", 1.5))
LABEL_WORST = "E"
LABEL_RULE = "A ≤ 0.5×, B ≤ 0.8×, C ≤ 1.05×, D ≤ 1.5×, E above: energy per sample / fp32 baseline's"

HISTORY_COLUMNS = [
    "run_id",
    "case_id",
    "workload",
    "variant",
    "device",
    "scenario",
    "status",
    "started_at_utc",
    "latency_p50_ms",
    "energy_per_sample_j",
    "energy_valid",
    "accuracy",
    "env_hardware_id",
]
_MATCH_KEYS = (
    "workload",
    "device",
    "scenario",
    "batch_size",
    "threads",
    "prompt_tokens",
    "output_tokens",
)


def missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def _records(frame: pd.DataFrame) -> list[Row]:
    return [
        {str(key): (None if missing(value) else value) for key, value in record.items()}
        for record in frame.astype(object).to_dict("records")
    ]


def efficiency_label(ratio: float | None) -> str | None:
    if ratio is None or not math.isfinite(ratio):
        return None
    for label, limit in LABEL_THRESHOLDS:
        if ratio <= limit:
            return label
    return LABEL_WORST


def pareto_front(points: Sequence[tuple[float, float]]) -> set[int]:
    """Indices of points no other point beats: lower cost (x) and higher quality (y)."""
    front = set()
    for i, (cost, quality) in enumerate(points):
        dominated = any(
            other_cost <= cost
            and other_quality >= quality
            and (other_cost < cost or other_quality > quality)
            for j, (other_cost, other_quality) in enumerate(points)
            if j != i
        )
        if not dominated:
            front.add(i)
    return front


def slug(text: str) -> str:
    """A file name for a card: letters, digits, dot, dash and underscore only."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "card"


@dataclass
class Card:
    """One workload × variant × device: its rows (one per scenario / batch / threads)."""

    workload: str
    variant: str
    device: str
    rows: list[Row]
    label: str | None = None
    label_ratio: float | None = None
    reference_case: str | None = None
    caveats: list[str] = field(default_factory=list)
    history: list[Row] = field(default_factory=list)
    hf_yaml: str = ""

    @property
    def key(self) -> str:
        return f"{self.workload}/{self.variant}/{self.device}"

    @property
    def file_name(self) -> str:
        return slug(self.key.replace("/", "--")) + ".html"

    @property
    def primary(self) -> Row:
        """The row the label rests on: single-stream if measured, else the first inference row."""
        inference = [
            r
            for r in self.rows
            if scenario_role(r["scenario"]) is Role.INFERENCE and r["status"] == "ok"
        ]
        single = [r for r in inference if r["scenario"] in single_batch_scenarios()]
        return (single or inference or self.rows)[0]


@dataclass
class ReportData:
    run_id: str
    manifest: Mapping[str, Any]
    rows: list[Row]
    history: pd.DataFrame
    runs_on_hardware: int
    cards: list[Card]

    @property
    def environment(self) -> Row:
        return self.rows[0] if self.rows else {}

    @property
    def workloads(self) -> list[str]:
        return list(dict.fromkeys(row["workload"] for row in self.rows))

    def rows_of(self, workload: str) -> list[Row]:
        return [row for row in self.rows if row["workload"] == workload]

    @property
    def meters(self) -> list[str]:
        seen = {
            f"{row['energy_source']} ({row['energy_kind']})"
            for row in self.rows
            if row.get("energy_source")
        }
        return sorted(seen)


def baseline_for(row: Row, rows: Sequence[Row]) -> Row | None:
    """The fp32 row of the same workload, device, scenario, batch size and threads in this run
    (so on the same hardware), when it was measured."""
    for other in rows:
        if (
            other["variant"] == "fp32"
            and other["status"] == "ok"
            and all(other.get(k) == row.get(k) for k in _MATCH_KEYS)
        ):
            return other
    return None


def change_vs_baseline(row: Row, baseline: Row | None, column: str) -> float | None:
    if baseline is None or row["status"] != "ok":
        return None
    value, reference = row.get(column), baseline.get(column)
    if value is None or reference in (None, 0):
        return None
    return float(value) / float(reference) - 1.0


def caveats_for(row: Row) -> list[str]:
    notes = []
    if row["status"] != "ok":
        return [f"{row['status']}: {row.get('error')}"]
    if row.get("energy_kind") == "estimated":
        notes.append(
            f"energy is estimated, not measured ({row.get('energy_source')} model: "
            f"{row.get('energy_model') or 'see docs/energy.md'})"
        )
    if row.get("energy_valid") is False:
        notes.append(f"energy invalid: {row.get('energy_invalid_reason')}")
    if row.get("energy_meter_note"):
        notes.append(str(row["energy_meter_note"]))
    stop = row.get("stop_reason")
    if stop == "time_budget":
        notes.append(
            f"latency sampling hit its time budget: the median's CI is "
            f"±{(row.get('ci_half_width_rel') or 0) * 100:.1f} %, wider than the "
            f"±{(row.get('ci_target_rel') or 0) * 100:.1f} % target"
        )
    if row.get("warmup_settled") is False:
        notes.append("warm-up did not settle within its budget: timings may still drift")
    if row.get("sparsity"):
        notes.append(
            f"{row['sparsity']:.0%} of weights are zero but kernels are dense: no "
            "speed-up is expected from sparsity alone"
        )
    if row.get("quality_metric") is None and scenario_role(row["scenario"]) is Role.INFERENCE:
        notes.append("quality not applicable: the model is untrained (cost only)")
    return notes


def _hardware(row: Row) -> str:
    gpus = row.get("env_gpu_names")
    return f"{row.get('env_cpu_model')} x {row.get('env_cpu_count')}" + (
        f", {gpus}" if gpus else ""
    )


def _hf_yaml(card: Card, rows: Sequence[Row]) -> str:
    """The Hugging Face model-card ``co2_eq_emissions`` block, from a measured training run."""
    training = {
        r["variant"]: r
        for r in rows
        if r["workload"] == card.workload
        and r["device"] == card.device
        and scenario_role(r["scenario"]) is Role.TRAINING
        and r["status"] == "ok"
        and r.get("train_co2e_g") is not None
    }
    own = training.get(card.variant)
    teacher = training.get("fp32")
    if own is not None and card.variant != "fp32" and teacher is not None:
        grams = own["train_co2e_g"] + teacher["train_co2e_g"]
        basis = "distillation run + the fp32 teacher's training run"
        source_row = own
    elif own is not None:
        grams, basis, source_row = own["train_co2e_g"], "this variant's training run", own
    elif teacher is not None:
        grams = teacher["train_co2e_g"]
        basis = "the fp32 model's training run (this variant is a post-training transform)"
        source_row = teacher
    else:
        return ""
    kind = source_row.get("energy_kind")
    return "\n".join(
        [
            "co2_eq_emissions:",
            f"  emissions: {grams:.6g}  # grams CO2eq; {basis}",
            f'  source: "benchsuite {source_row.get("env_benchsuite_version")}, '
            f'{source_row.get("energy_source")} meter ({kind})"',
            '  training_type: "pre-training"',
            f'  geographical_location: "{source_row.get("grid_region")} '
            f"({source_row.get('grid_g_co2e_per_kwh'):g} gCO2e/kWh, "
            f'{source_row.get("grid_intensity_source")})"',
            f'  hardware_used: "{_hardware(source_row)}"',
        ]
    )


def _cards(rows: list[Row], history: pd.DataFrame) -> list[Card]:
    groups: dict[tuple[str, str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row["workload"], row["variant"], row["device"]), []).append(row)
    cards = []
    for (workload, variant, device), members in groups.items():
        card = Card(workload, variant, device, members)
        primary = card.primary
        baseline = baseline_for(primary, rows)
        if (
            primary["status"] == "ok"
            and baseline is not None
            and primary.get("energy_valid")
            and baseline.get("energy_valid")
            and primary.get("energy_per_sample_j")
        ):
            card.label_ratio = primary["energy_per_sample_j"] / baseline["energy_per_sample_j"]
            card.label = efficiency_label(card.label_ratio)
            card.reference_case = baseline["case_id"]
        for member in members:
            card.caveats.extend(f"{member['case_id']}: {note}" for note in caveats_for(member))
        ids = {member["case_id"] for member in members}
        card.history = _records(history[history["case_id"].isin(ids)]) if len(history) else []
        card.hf_yaml = _hf_yaml(card, rows)
        cards.append(card)
    return cards


def load_report_data(store: ResultStore, run_id: str) -> ReportData:
    rows = _records(store.read_cases([run_id]))
    hardware = {row["env_hardware_id"] for row in rows if row.get("env_hardware_id")}
    history = store.read_cases(columns=HISTORY_COLUMNS)
    history = history[history["env_hardware_id"].isin(hardware)]
    runs = int(history["run_id"].nunique()) if len(history) else 0
    return ReportData(
        run_id=run_id,
        manifest=store.manifest(run_id),
        rows=rows,
        history=history,
        runs_on_hardware=runs,
        cards=_cards(rows, history),
    )
