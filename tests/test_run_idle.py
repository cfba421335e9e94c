"""Idle power read once per run and device (with a whole-machine meter), then again for drift:
a fake powercap tree whose counter reads a steady 20 W.

The counter is brought up to date when the meter reads it, from the clock the meter reads next,
as the kernel computes ``energy_uj`` at each read. (A thread writing it every few milliseconds
fell behind on a loaded machine: a stale start read 24 W out of a 20 W tree.)"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from benchsuite.instruments.meters.rapl import RaplZone
from benchsuite.run.runner import run_suite
from benchsuite.store.runs import ResultStore
from benchsuite.suites.load import parse_suite
from benchsuite.workload.discovery import discover_workloads
from tests.fakes import FakePowercap

SUITE = """
name = "idle-once"
[measure]
warmup_max_s = 0.1
budget_s = 0.1
energy_windows = 3
energy_window_s = 0.05
idle_s = 0.2
[[matrix]]
workloads = ["tiny-mlp"]
variants = ["fp32"]
threads = [1]
[[matrix]]
workloads = ["tiny-mlp"]
scenario = "offline"
batch_sizes = [4]
threads = [1]
"""


@pytest.fixture
def steady_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePowercap:
    tree = FakePowercap(tmp_path / "powercap")
    tree.add_zone("intel-rapl:0", "package-0")
    monkeypatch.setenv("BENCHSUITE_POWERCAP_ROOT", str(tree.root))
    start_ns = time.perf_counter_ns()
    read_file = RaplZone.read_uj

    def read_at_20_w(zone: RaplZone) -> int:  # 20 W = 0.02 uJ per ns, up to this read
        tree.set_energy_uj(zone.path.name, (time.perf_counter_ns() - start_ns) // 50)
        return read_file(zone)

    monkeypatch.setattr(RaplZone, "read_uj", read_at_20_w)
    return tree


def test_idle_is_read_once_per_run_and_checked_for_drift(
    steady_machine: FakePowercap, tmp_path: Path, tiny_workloads: Path
) -> None:
    store = ResultStore(tmp_path / "r")
    suite = parse_suite(SUITE, source="idle-once.toml")
    result = run_suite(
        suite, discover_workloads(tiny_workloads), store, meter="rapl", isolate=False
    )
    assert [row["status"] for row in result.rows] == ["ok", "ok"]
    idle = store.read_energy([result.run_id])
    idle = idle[idle["window"] == -1]
    assert len(idle) == 2
    # both cases carry the one reading the runner took, not one each
    assert idle["energy_j"].nunique() == 1 and idle["duration_s"].nunique() == 1
    assert idle["energy_j"].iloc[0] / idle["duration_s"].iloc[0] == pytest.approx(20, rel=0.1)
    for row in result.rows:
        assert row["energy_kind"] == "measured"
        assert "idle power read once for the run on cpu" in row["energy_stop_reason"]
    drift = store.manifest(result.run_id)["idle_drift"]["cpu"]
    assert drift["idle_power_end_w"] == pytest.approx(20, rel=0.1)
    assert abs(drift["idle_drift_rel"]) < 0.1 and drift["idle_drift_warning"] is False
    # the caller gets the same reading on the run's result, without reading the store back
    assert result.idle_drift == {"cpu": drift} and result.warnings() == ()


def test_a_run_that_drifted_says_so_on_its_result() -> None:
    from benchsuite.run.pooling import Drift
    from benchsuite.run.runner import RunResult

    moved = {
        "idle_power_start_w": 10.0,
        "idle_power_end_w": 13.0,
        "idle_drift_rel": 0.3,
        "idle_drift_warning": True,
    }
    result = RunResult(
        "run",
        "folder",
        (),
        group_drift={
            "g": Drift("g/fp32", 0.2, 0.01, 40, 12.0),
            "h": Drift("h/fp32", 0.01, 0, 40, 9),
        },
        idle_drift={"cpu": moved},
    )
    idle, group = result.warnings()
    assert "idle power on cpu moved +30%" in idle and "13 W at the end" in idle
    assert group.startswith("drift: warning: g: the reference g/fp32 moved +20.0% in latency")
