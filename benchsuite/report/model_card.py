"""A Hugging Face model card per report card: Markdown with a YAML header, made with
``huggingface_hub``'s ``ModelCard`` and ``ModelCardData``, ready to paste into a Hub README.

``co2_eq_emissions`` is written only from a **measured** training run of that very model (the
card's own workload, variant and device): an int8 or pruned model was not trained by this run, and
an estimate is not an emission measurement, so neither gets one. ``training_type`` says what was
run: training from scratch, or distillation from the fp32 teacher.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from huggingface_hub import ModelCard, ModelCardData

from benchsuite import units
from benchsuite.report.hardware import hardware_label
from benchsuite.report.headline import quality_text
from benchsuite.scenarios import Role, scenario_role
from benchsuite.store.schema import Status

Row = dict[str, Any]

CARD_TEMPLATE = "---\n{{ card_data }}\n---\n\n{{ body }}\n"
TRAINING_TYPES = {
    "fp32": "training from scratch (benchsuite training scenario)",
    "distilled": "distillation from the fp32 teacher (benchsuite training scenario)",
}


def measured_training(rows: Sequence[Row], workload: str, variant: str, device: str) -> Row | None:
    """The card's own training row, when its energy was measured (not estimated)."""
    for row in rows:
        if (
            (row["workload"], row["variant"], row["device"]) == (workload, variant, device)
            and scenario_role(row["scenario"]) is Role.TRAINING
            and row["status"] == Status.OK
            and row.get("energy_kind") == "measured"
            and row.get("energy_valid")
            and row.get("train_co2e_g") is not None
        ):
            return row
    return None


def emissions(training: Row) -> dict[str, Any]:
    """The ``co2_eq_emissions`` mapping of the Hub's model-card metadata, in grams."""
    return {
        "emissions": round(float(training["train_co2e_g"]), 6),
        "source": (
            f"benchsuite {training.get('env_benchsuite_version')}, measured by "
            f"{training.get('energy_source')} over the training run "
            f"({units.energy(training.get('train_energy_j'))})"
        ),
        "training_type": TRAINING_TYPES.get(
            str(training["variant"]), f"{training['variant']} (benchsuite training scenario)"
        ),
        "geographical_location": f"{training.get('grid_region')} "
        f"({units.plain(training.get('grid_g_co2e_per_kwh'))} gCO2e/kWh, "
        f"{training.get('grid_intensity_source')})",
        "hardware_used": hardware_label(training),
    }


def model_card(
    workload: str,
    variant: str,
    device: str,
    rows: Sequence[Row],
    label: str | None,
    label_basis: str,
) -> ModelCard:
    """The card of ``workload`` / ``variant`` / ``device`` from the run's ``rows``."""
    own = [
        r for r in rows if (r["workload"], r["variant"], r["device"]) == (workload, variant, device)
    ]
    first = own[0] if own else {}
    training = measured_training(rows, workload, variant, device)
    data = ModelCardData(
        library_name=str(first.get("runtime") or "pytorch"),
        tags=["benchsuite", "efficiency", variant, device],
        co2_eq_emissions=emissions(training) if training is not None else None,
    )
    lines = [
        f"# {workload} ({variant}, {device})",
        "",
        f"{first.get('variant_recipe') or variant}. Measured with benchsuite "
        f"{first.get('env_benchsuite_version') or ''} on "
        f"{hardware_label(first) if first.get('env_cpu_model') else 'unrecorded hardware'}.",
        "",
        "## Efficiency",
        "",
        "| case | quality | median latency | energy per 1,000 inferences |",
        "| --- | --- | --- | --- |",
    ]
    for row in own:
        if scenario_role(row["scenario"]) is Role.TRAINING:
            continue
        if row["status"] != Status.OK:
            lines.append(f"| `{row['case_id']}` | {row['status']} | | |")
            continue
        energy = units.energy_per_1000(
            row.get("energy_per_sample_j"),
            row.get("energy_per_sample_low_j"),
            row.get("energy_per_sample_high_j"),
        )
        kind = f" ({row.get('energy_kind')})" if row.get("energy_kind") else ""
        lines.append(
            f"| `{row['case_id']}` | {quality_text(row)} "
            f"| {units.duration_ms(row.get('latency_p50_ms'))} | {energy}{kind} |"
        )
    for row in own:
        if scenario_role(row["scenario"]) is Role.TRAINING and row["status"] == Status.OK:
            lines += [
                "",
                f"Training: `{row['case_id']}` reached {quality_text(row)} in "
                f"{row.get('train_epochs')} epochs, {units.energy(row.get('train_energy_j'))} "
                f"({row.get('energy_kind')}).",
            ]
    lines += ["", f"Efficiency label: **{label or 'none'}** ({label_basis}).", ""]
    if training is None:
        lines.append(
            "No `co2_eq_emissions`: this run has no measured training run of this model "
            "(post-training variants are not trained, and estimated energy is not an emission "
            "measurement)."
        )
    card = ModelCard.from_template(
        data, template_str="---\n{{ card_data }}\n---\n\n{{ body }}\n", body="\n".join(lines)
    )
    return card
