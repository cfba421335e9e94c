"""What a stakeholder reads: human units, headlines, honest labels, model cards, exports, and the
terminal summary at 80 columns."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from huggingface_hub import ModelCard
from rich.console import Console

from benchsuite import units
from benchsuite.cli import main
from benchsuite.cli.run_command import summary_table as _summary_table
from benchsuite.report.data import load_report_data
from benchsuite.report.headline import headline
from benchsuite.report.model_card import model_card
from benchsuite.store.runs import ResultStore
from tests.conftest import HANG_GUARD_S
from tests.test_gate import CASE, OTHER, _write_run

SCIENTIFIC = re.compile(r"\d(\.\d+)?e[+-]?\d")


def test_units_never_use_scientific_notation() -> None:
    for exponent in range(-12, 13):
        value = 1.2345 * 10**exponent
        for text in (
            units.plain(value),
            units.energy_per_1000(value),
            units.duration_ms(value),
            units.data_size(value),
            units.co2(value),
            units.count(value),
            units.rate(value),
        ):
            assert SCIENTIFIC.search(text) is None, (value, text)
    assert units.plain(15_700.3) == "15,700"
    assert units.energy_per_1000(0.000163) == "45.3\u00a0µWh"  # AI Energy Score's Wh per 1,000
    assert units.energy_per_1000(0.5) == "139\u00a0mWh"
    assert units.duration_ms(0.0612) == "61.2\u00a0µs"
    assert units.data_size(12_400_000) == "12.4\u00a0MB"
    assert units.co2(1500) == "1.50\u00a0kg"


def test_digits_follow_the_interval() -> None:
    # the last digit shown is the first one the interval leaves uncertain
    assert units.duration_ms(12.345, 11.9, 12.9) == "12.3\u00a0ms"  # ±0.5: three digits
    assert units.duration_ms(12.345, 12.3, 12.4) == "12.35\u00a0ms"  # ±0.05: four (the cap)
    assert units.duration_ms(12.345, 8, 16) == "12\u00a0ms"  # ±4: two (the floor)


def _row(
    variant: str, energy_j: float, latency_ms: float, accuracy: float, **extra: object
) -> dict:
    return {
        "case_id": f"w/{variant}/cpu/single-stream/b1/t1",
        "workload": "w",
        "variant": variant,
        "device": "cpu",
        "scenario": "single-stream",
        "batch_size": 1,
        "threads": 1,
        "status": "ok",
        "energy_per_sample_j": energy_j,
        "energy_valid": True,
        "energy_kind": "measured",
        "latency_p50_ms": latency_ms,
        "quality_metric": "accuracy",
        "accuracy": accuracy,
        **extra,
    }


def test_a_headline_names_the_best_variant_on_each_axis_and_the_trade_off() -> None:
    rows = [
        _row("fp32", 0.0036, 0.080, 0.984),
        _row("int8", 0.0018, 0.120, 0.981),  # half the energy, keeps accuracy
        _row("distilled", 0.0009, 0.050, 0.950),  # cheapest and fastest, loses 3.4 points
    ]
    lines = {line.axis: line.text for line in headline(rows)}
    assert lines["Least energy"] == (
        "distilled, 250\u00a0µWh per 1,000 inferences, 75 % less than fp32."
    )
    assert lines["Fastest"].startswith("distilled, 50.0\u00a0µs per call (median), 38 % less")
    assert lines["Best quality"] == "fp32, accuracy 98.4\u00a0%."
    assert lines["Trade-off"] == (
        "int8 saves 50 % of fp32's energy per inference and keeps its accuracy: "
        "98.1\u00a0% against 98.4\u00a0%."
    )
    estimated = [dict(r, energy_kind="estimated") for r in rows]
    assert (
        "(estimated, not measured)"
        in {line.axis: line.text for line in headline(estimated)}["Least energy"]
    )


def test_the_model_card_parses_and_claims_only_measured_training_of_that_model() -> None:
    training = _row(
        "fp32",
        0.1,
        1.0,
        0.97,
        case_id="w/fp32/cpu/training/b64",
        scenario="training",
        train_co2e_g=0.42,
        train_energy_j=3600.0,
        grid_region="FRA",
        grid_g_co2e_per_kwh=56.0,
        grid_intensity_source="table",
        env_cpu_model="Xeon",
        env_cpu_count=16,
        env_benchsuite_version="0.1.0",
        energy_source="rapl",
    )
    rows = [_row("fp32", 0.0036, 0.08, 0.984), _row("int8", 0.0018, 0.12, 0.981), training]
    fp32 = ModelCard(str(model_card("w", "fp32", "cpu", rows, "C", "this run's fp32")))
    emissions = fp32.data.co2_eq_emissions
    assert emissions["emissions"] == pytest.approx(0.42)
    assert emissions["training_type"].startswith("training from scratch")
    assert "measured by rapl" in emissions["source"]
    assert "| `w/fp32/cpu/single-stream/b1/t1` | accuracy 98.4\u00a0% |" in fp32.text
    assert "Training: `w/fp32/cpu/training/b64`" in fp32.text
    # int8 was not trained by this run: no emissions, though fp32's training was measured
    int8 = ModelCard(str(model_card("w", "int8", "cpu", rows, "A", "this run's fp32")))
    assert "co2_eq_emissions" not in int8.data.to_dict()
    # an estimated training run is not an emission measurement
    estimated = [dict(r, energy_kind="estimated") for r in rows]
    card = ModelCard(str(model_card("w", "fp32", "cpu", estimated, None, "none")))
    assert "co2_eq_emissions" not in card.data.to_dict()
    assert "benchsuite" in card.data.tags


def test_labels_against_a_pinned_reference_and_estimates_are_marked(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r")
    # the reference machine's fp32, measured, then a run elsewhere where fp32 costs twice that
    _write_run(
        store, "20260101T000000Z-000001", {CASE: 60}, seed=1, hardware="ref", energy_kind="measured"
    )
    _write_run(
        store,
        "20260102T000000Z-000002",
        {CASE: 60, OTHER: 60},
        seed=2,
        hardware="edge",
        energy_kind="measured",
        energy_scale=2.0,
    )
    own = {card.key: card for card in load_report_data(store, "20260102T000000Z-000002").cards}
    assert own["w/fp32/cpu"].label == "C"  # against itself: always C
    pinned = load_report_data(store, "20260102T000000Z-000002", label_reference="ref")
    cards = {card.key: card for card in pinned.cards}
    assert cards["w/fp32/cpu"].label == "E"  # twice the pinned reference's energy
    assert cards["w/fp32/cpu"].label_ratio == pytest.approx(2.0, rel=0.02)
    assert "pinned reference hardware ref" in cards["w/fp32/cpu"].reference_basis
    assert not cards["w/fp32/cpu"].label_estimated
    _write_run(store, "20260103T000000Z-000003", {CASE: 60}, seed=3, hardware="edge")
    estimated = load_report_data(store, "20260103T000000Z-000003").cards[0]
    assert estimated.label == "C" and estimated.label_estimated
    out = tmp_path / "html"
    assert (
        main(
            [
                "report",
                "--results",
                str(store.root),
                "--out",
                str(out),
                "--label-reference",
                "ref",
                "--run",
                "20260102T000000Z-000002",
            ]
        )
        == 0
    )
    page = (out / "index.html").read_text()
    assert "The reference is <strong>pinned</strong>" in page
    assert "efficiency label E" in page


@pytest.mark.parametrize("fmt", ["csv", "json", "markdown"])
def test_each_export_format_round_trips_to_pandas(tmp_path: Path, fmt: str) -> None:
    store = ResultStore(tmp_path / "r")
    _write_run(store, "20260101T000000Z-000001", {CASE: 60, OTHER: 90}, seed=1)
    target = tmp_path / f"cases.{fmt}"
    assert (
        main(
            [
                "export",
                "latest",
                "--format",
                fmt,
                "--results",
                str(store.root),
                "--out",
                str(target),
            ]
        )
        == 0
    )
    stored = store.read_cases()
    if fmt == "csv":
        back = pd.read_csv(target)
    elif fmt == "json":
        back = pd.DataFrame(json.loads(target.read_text()))
    else:
        lines = target.read_text().splitlines()
        header = [cell.strip() for cell in lines[0].strip("|").split("|")]
        body = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines[2:]]
        back = pd.DataFrame(body, columns=header).replace("", None)
    assert list(back.columns) == list(stored.columns)  # the store's columns, in order
    assert len(back) == len(stored) == 2
    for column in ("case_id", "status", "env_hardware_id"):
        assert back[column].tolist() == stored[column].tolist()
    assert back["latency_p50_ms"].astype(float).tolist() == pytest.approx(
        stored["latency_p50_ms"].tolist()
    )
    assert back["error"].isna().all()


@pytest.mark.slow
def test_the_pytest_benchmark_json_is_read_by_pytest_benchmark(smoke_run) -> None:  # type: ignore[no-untyped-def]
    _, out = smoke_run
    document = json.loads((out / "pytest-benchmark.json").read_text())
    names = {bench["name"] for bench in document["benchmarks"]}
    assert "digits-cnn/fp32/cpu/single-stream/b1/t1" in names
    stats = next(
        b for b in document["benchmarks"] if b["name"] == "digits-cnn/fp32/cpu/single-stream/b1/t1"
    )["stats"]
    # The stats are the stored per-call samples in seconds (no wall-clock bound: the shared
    # machine's slowest call of the smoke run has read 11.8 ms).
    samples = ResultStore(out / "r").read_samples()
    timed = samples[
        (samples["case_id"] == "digits-cnn/fp32/cpu/single-stream/b1/t1")
        & (samples["phase"] == "sample")
    ]["latency_ns"].to_numpy(dtype=float)
    assert stats["rounds"] == len(timed) > 0
    assert stats["median"] == pytest.approx(float(np.median(timed)) / 1e9)
    assert 0 < stats["min"] <= stats["median"] <= stats["max"]
    assert stats["max"] == pytest.approx(timed.max() / 1e9)
    compare = subprocess.run(
        [
            str(Path(sys.executable).parent / "pytest-benchmark"),
            "compare",
            str(out / "pytest-benchmark.json"),
            "--group-by=group",
        ],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
    )
    assert compare.returncode == 0, compare.stderr
    assert "digits-cnn/fp32/cpu/single-stream/b1/t1" in compare.stdout


@pytest.mark.slow
def test_the_terminal_summary_fits_80_columns_and_cuts_no_value(smoke_run) -> None:  # type: ignore[no-untyped-def]
    _, out = smoke_run
    store = ResultStore(out / "r")
    rows = store.read_cases().astype(object).where(lambda f: f.notna(), None).to_dict("records")
    console = Console(width=80, file=io.StringIO(), record=True)
    console.print(_summary_table(rows))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text
    flat = text.replace("│", " ")
    for row in rows:
        if row["status"] != "ok" or row["scenario"] == "training":
            continue
        median = units.duration_ms(
            row["latency_p50_ms"], row["latency_p50_ci_low_ms"], row["latency_p50_ci_high_ms"]
        )
        energy = units.energy_per_1000(
            row["energy_per_sample_j"],
            row["energy_per_sample_low_j"],
            row["energy_per_sample_high_j"],
        )
        assert median in flat and energy in flat, (median, energy)
    assert SCIENTIFIC.search(text) is None
