"""What the report shows, computed from the store: comparisons with the fp32 baseline, the Pareto
front, efficiency labels, caveats and history. No HTML here (that is the templates' job)."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from benchsuite.case import Case
from benchsuite.report.ratios import paired_ratio, ratio_to_baseline, unresolved
from benchsuite.run.pooling import DRIFT_WARN_REL
from benchsuite.scenarios import Role, scenario_role, single_batch_scenarios
from benchsuite.store.history import RunScope, is_partial, runs_in_scope
from benchsuite.store.runs import ResultStore
from benchsuite.store.schema import Status

Row = dict[str, Any]

# efficiency label: energy per sample relative to the fp32 baseline on the same hardware
LABEL_THRESHOLDS = (("A", 0.5), ("B", 0.8), ("C", 1.05), ("D", 1.5))
LABEL_WORST = "E"
LABEL_RULE = "A ≤ 0.5×, B ≤ 0.8×, C ≤ 1.05×, D ≤ 1.5×, E above: energy per sample / the reference's"

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
    reference_basis: str = ""
    """What the label is relative to, in words: the pinned reference, or this run's fp32."""
    label_estimated: bool = False
    """The label rests on an estimated energy figure (this card's or its reference's)."""
    label_uncertain: bool = False
    """The label rests on a paired energy ratio the run flagged unresolved: its interval over
    processes is too wide to grade it firmly."""
    caveats: list[str] = field(default_factory=list)
    history: list[Row] = field(default_factory=list)
    model_card: str = ""
    """The Hugging Face model card (Markdown with a YAML header)."""

    @property
    def key(self) -> str:
        return f"{self.workload}/{self.variant}/{self.device}"

    @property
    def file_name(self) -> str:
        return slug(self.key.replace("/", "--")) + ".html"

    @property
    def model_card_name(self) -> str:
        return slug(self.key.replace("/", "--")) + ".md"

    @property
    def primary(self) -> Row:
        """The row the label rests on: single-stream if measured, else the first inference row."""
        inference = [
            r
            for r in self.rows
            if scenario_role(r["scenario"]) is Role.INFERENCE and r["status"] == Status.OK
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
    label_reference: str | None = None
    """The hardware id labels are pinned to, or ``None``: each run's own fp32."""

    @property
    def environment(self) -> Row:
        return self.rows[0] if self.rows else {}

    @property
    def partial(self) -> bool:
        """The run did not finish (killed, interrupted, still measuring): it is marked so."""
        return is_partial(dict(self.manifest))

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
            and other["status"] == Status.OK
            and all(other.get(k) == row.get(k) for k in _MATCH_KEYS)
        ):
            return other
    return None


def change_vs_baseline(row: Row, baseline: Row | None, column: str) -> float | None:
    if baseline is None or row["status"] != Status.OK:
        return None
    ratio = ratio_to_baseline(row, baseline, column)
    return None if ratio is None else ratio - 1.0


MEASURED_INPUTS = re.compile(r"\b(cpu_time_s|rss_gib|wall_s)=[-+0-9.e]+")
"""The per-case inputs of the estimate's model, which its method does not depend on."""


def estimate_method(model: str | None) -> str | None:
    """The estimate's model without one case's inputs (``cpu_time_s x cpu_w_per_core=10 + ...``):
    the same for every case of a run, so the caveats say it once."""
    return MEASURED_INPUTS.sub(r"\1", model) if model else None


def caveats_for(row: Row) -> list[str]:
    notes = []
    if row["status"] != Status.OK:
        return [f"{row['status']}: {row.get('error')}"]
    if row.get("energy_kind") == "estimated":
        notes.append(
            f"energy is estimated, not measured ({row.get('energy_source')} model: "
            f"{estimate_method(row.get('energy_model')) or 'see docs/energy.md'}; each card "
            "gives its case's inputs)"
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
    latency_drift = row.get("group_drift_latency_rel") or 0.0
    energy_drift = row.get("group_drift_energy_rel") or 0.0
    if max(abs(latency_drift), abs(energy_drift)) > DRIFT_WARN_REL:
        notes.append(
            f"the machine moved during this comparison: the reference "
            f"{row.get('comparison_reference')} changed {latency_drift:+.0%} in latency and "
            f"{energy_drift:+.0%} in energy per sample from its first rounds to its last "
            f"(warning above {DRIFT_WARN_REL:.0%}); ratios to fp32 are paired round by round, "
            "the absolute figures carry the movement"
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


def caveats_by_note(rows: Sequence[Row]) -> list[tuple[str, list[str]]]:
    """Each distinct caveat once, with the cases it applies to (in row order): a stakeholder
    reads "energy is estimated" once, not on every case."""
    grouped: dict[str, list[str]] = {}
    for row in rows:
        for note in caveats_for(row):
            grouped.setdefault(note, []).append(str(row["case_id"]))
    return list(grouped.items())


def _reference_id(case_id: str) -> str | None:
    """The fp32 case of the same shape as ``case_id``."""
    try:
        case = Case.from_id(case_id)
    except ValueError:
        return None
    return dataclasses.replace(case, variant="fp32").id


def pinned_references(store: ResultStore, hardware_id: str) -> dict[str, Row]:
    """Per fp32 case id, its latest ok row with valid energy on ``hardware_id`` in the store."""
    columns = [
        "run_id",
        "case_id",
        "variant",
        "status",
        "energy_per_sample_j",
        "energy_valid",
        "energy_kind",
        "env_hardware_id",
    ]
    history = store.read_cases(columns=columns)
    usable = history[
        (history["env_hardware_id"] == hardware_id)
        & (history["variant"] == "fp32")
        & (history["status"] == Status.OK)
        & (history["energy_valid"].fillna(False).astype(bool))
    ].sort_values("run_id")
    return {str(r["case_id"]): r for r in _records(usable.groupby("case_id").tail(1))}


def _label(
    card: Card, rows: list[Row], pinned: dict[str, Row] | None, pinned_id: str | None
) -> None:
    primary = card.primary
    if primary["status"] != Status.OK or not primary.get("energy_valid"):
        return
    if pinned is not None:
        reference = pinned.get(_reference_id(primary["case_id"]) or "")
        where = f"fp32 on the pinned reference hardware {pinned_id}"
        if reference is not None:
            where += f", run {reference['run_id']}"
    else:
        reference = baseline_for(primary, rows)
        where = "this run's fp32 on the same hardware"
    if reference is None or not reference.get("energy_valid"):
        return
    if not reference.get("energy_per_sample_j") or not primary.get("energy_per_sample_j"):
        return
    paired = None if pinned is not None else paired_ratio(primary, reference, "energy_per_sample_j")
    card.label_ratio = (
        paired
        if paired is not None
        else primary["energy_per_sample_j"] / reference["energy_per_sample_j"]
    )
    if paired is not None:
        where += ", paired round by round"
        card.label_uncertain = unresolved(primary, reference, "energy_per_sample_j")
    card.label = efficiency_label(card.label_ratio)
    card.reference_case = str(reference["case_id"])
    card.reference_basis = where
    card.label_estimated = "estimated" in (primary.get("energy_kind"), reference.get("energy_kind"))


def _cards(
    rows: list[Row], history: pd.DataFrame, pinned: dict[str, Row] | None, pinned_id: str | None
) -> list[Card]:
    # imported here: huggingface_hub is slow to import (python -X importtime), which every CLI
    # command and case worker would pay, while only a rendered report needs it
    from benchsuite.report.model_card import model_card

    groups: dict[tuple[str, str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row["workload"], row["variant"], row["device"]), []).append(row)
    cards = []
    for (workload, variant, device), members in groups.items():
        card = Card(workload, variant, device, members)
        _label(card, rows, pinned, pinned_id)
        for member in members:
            card.caveats.extend(f"{member['case_id']}: {note}" for note in caveats_for(member))
        ids = {member["case_id"] for member in members}
        card.history = _records(history[history["case_id"].isin(ids)]) if len(history) else []
        basis = (
            f"energy per sample {card.label_ratio:.2f}x {card.reference_basis}"
            + (", estimated" if card.label_estimated else "")
            + (", uncertain: the paired ratio is unresolved" if card.label_uncertain else "")
            if card.label
            else "no valid reference"
        )
        card.model_card = str(model_card(workload, variant, device, rows, card.label, basis))
        cards.append(card)
    return cards


def load_report_data(
    store: ResultStore, run_id: str, label_reference: str | None = None
) -> ReportData:
    """What the report of ``run_id`` shows. ``label_reference`` pins the efficiency labels to
    the fp32 cases measured on that hardware id (default: the run's manifest's
    ``label_reference``, from the suite's ``[report]`` table; else the run's own fp32)."""
    rows = _records(store.read_cases([run_id]))
    hardware = {row["env_hardware_id"] for row in rows if row.get("env_hardware_id")}
    history = store.read_cases(columns=HISTORY_COLUMNS)
    complete = {*runs_in_scope(store, RunScope()), run_id}  # a partial run is in no history
    history = history[history["env_hardware_id"].isin(hardware) & history["run_id"].isin(complete)]
    runs = int(history["run_id"].nunique()) if len(history) else 0
    manifest = store.manifest(run_id)
    pinned_id = label_reference or manifest.get("label_reference")
    pinned = pinned_references(store, pinned_id) if pinned_id else None
    return ReportData(
        run_id=run_id,
        manifest=manifest,
        rows=rows,
        history=history,
        runs_on_hardware=runs,
        cards=_cards(rows, history, pinned, pinned_id),
        label_reference=pinned_id,
    )
