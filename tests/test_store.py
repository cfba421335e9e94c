from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchsuite.errors import StoreError
from benchsuite.store import location as storage_module
from benchsuite.store.runs import ResultStore
from benchsuite.store.schema import CASE_COLUMNS, SCHEMA_VERSION


def _row(case_id: str, p50: float | None = 1.5) -> dict:
    return {
        "case_id": case_id,
        "workload": "w",
        "variant": "fp32",
        "status": "ok",
        "batch_size": 1,
        "latency_p50_ms": p50,
        "energy_kind": "estimated",
    }


def _samples(case_id: str, latencies: list[int]) -> pa.Table:
    n = len(latencies)
    return pa.table(
        {
            "run_id": [None] * n,
            "case_id": [case_id] * n,
            "phase": ["sample"] * n,
            "index": list(range(n)),
            "latency_ns": latencies,
        }
    )


def test_round_trip_rows_samples_and_windows(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    writer = store.start_run("smoke")
    writer.add_case(
        _row("w/fp32/cpu/single-stream/b1"),
        _samples("w/fp32/cpu/single-stream/b1", [10, 11, 12]),
        [
            {
                "case_id": "w/fp32/cpu/single-stream/b1",
                "window": 0,
                "energy_j": 2.5,
                "kind": "estimated",
            }
        ],
    )
    writer.add_case({**_row("w/fp32/cpu/offline/b8", None), "status": "skipped", "error": "why"})
    writer.finish()

    cases = store.read_cases()
    assert list(cases["case_id"]) == ["w/fp32/cpu/single-stream/b1", "w/fp32/cpu/offline/b8"]
    assert (cases["run_id"] == writer.run_id).all()
    assert (cases["schema_version"] == SCHEMA_VERSION).all()
    assert list(cases.columns[: len(CASE_COLUMNS)]) == list(CASE_COLUMNS)
    assert cases["latency_p50_ms"].iloc[0] == 1.5
    assert pd.isna(cases["latency_p50_ms"].iloc[1])
    assert cases["batch_size"].dtype == "Int64"
    samples = store.read_samples()
    assert list(samples["latency_ns"]) == [10, 11, 12]
    assert (samples["run_id"] == writer.run_id).all()
    assert store.manifest(writer.run_id)["state"] == "complete"

    # plain pandas, without benchsuite, reads the same files
    plain = pd.read_parquet(tmp_path / writer.run_id / "cases")
    assert len(plain) == 2
    energy = pd.read_parquet(tmp_path / writer.run_id / "energy")
    assert energy["energy_j"].tolist() == [2.5]


def test_runs_never_touch_each_other(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    first = store.start_run("a")
    first.add_case(_row("x/fp32/cpu/offline/b1"))
    first.finish()
    before = {p: p.read_bytes() for p in (tmp_path / first.run_id).rglob("*") if p.is_file()}
    second = store.start_run("b")
    second.add_case(_row("x/fp32/cpu/offline/b1"))
    second.finish()
    after = {p: p.read_bytes() for p in (tmp_path / first.run_id).rglob("*") if p.is_file()}
    assert before == after
    assert store.run_ids() == sorted([first.run_id, second.run_id])
    with pytest.raises(StoreError, match="already exists"):
        store.start_run("c", run_id=first.run_id)


def test_a_write_that_fails_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ResultStore(tmp_path)
    writer = store.start_run("smoke")
    writer.add_case(_row("w/fp32/cpu/offline/b1"))

    def disk_full(descriptor: int) -> None:
        raise OSError("disk full")  # after half the file went to its temporary name

    monkeypatch.setattr(storage_module.os, "fsync", disk_full)
    with pytest.raises(OSError, match="disk full"):
        writer.add_case(_row("w/fp32/cpu/offline/b2"))
    monkeypatch.undo()

    folder = tmp_path / writer.run_id / "cases"
    assert [p.name for p in folder.iterdir()] == ["0001.parquet"]  # no partial, no temporary
    assert len(store.read_cases()) == 1


def test_a_file_without_a_newer_column_still_reads(tmp_path: Path) -> None:
    old_columns = [c for c in CASE_COLUMNS if c != "energy_net_per_sample_j"]
    old = pa.table({c: pa.nulls(1, CASE_COLUMNS[c]) for c in old_columns})
    old = old.set_column(old.schema.get_field_index("case_id"), "case_id", pa.array(["old/case"]))
    folder = tmp_path / "20200101T000000Z-000000" / "cases"
    folder.mkdir(parents=True)
    pq.write_table(old, folder / "0001.parquet")

    new = ResultStore(tmp_path).start_run("now")
    new.add_case({**_row("new/case"), "energy_net_per_sample_j": 0.25})
    cases = ResultStore(tmp_path).read_cases()
    assert list(cases["case_id"]) == ["old/case", "new/case"]
    assert pd.isna(cases["energy_net_per_sample_j"].iloc[0])
    assert cases["energy_net_per_sample_j"].iloc[1] == 0.25
    # the column-subset scan (used for long histories) fills the missing column too
    subset = ResultStore(tmp_path).read_cases(columns=["case_id", "energy_net_per_sample_j"])
    assert list(subset.columns) == ["case_id", "energy_net_per_sample_j"]
    assert sorted(subset["case_id"]) == ["new/case", "old/case"]
    assert subset.set_index("case_id")["energy_net_per_sample_j"].isna().to_dict() == {
        "old/case": True,
        "new/case": False,
    }


def test_a_finished_run_is_also_one_file(tmp_path: Path) -> None:
    writer = ResultStore(tmp_path).start_run("smoke")
    writer.add_case(_row("a/fp32/cpu/offline/b1"))
    writer.add_case(_row("a/fp32/cpu/offline/b2"))
    writer.finish()
    combined = pd.read_parquet(tmp_path / writer.run_id / "run-cases.parquet")
    assert list(combined["case_id"]) == ["a/fp32/cpu/offline/b1", "a/fp32/cpu/offline/b2"]


def test_unknown_columns_are_a_programming_error(tmp_path: Path) -> None:
    writer = ResultStore(tmp_path).start_run("smoke")
    with pytest.raises(ValueError, match="latency_median"):
        writer.add_case({"case_id": "x", "latency_median": 3})


def test_an_unwritable_results_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "results"
    blocker.write_text("a file, not a folder")
    with pytest.raises(StoreError, match=r"results folder .*results is not writable.*--results"):
        ResultStore(blocker).start_run("smoke")
