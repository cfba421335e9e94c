"""The regression gate on stored runs with known samples: selectors, rules, verdicts, exits, outputs."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pyarrow as pa
import pytest

from benchsuite import Case
from benchsuite.cli import main
from benchsuite.errors import UsageError
from benchsuite.gate import run_gate
from benchsuite.gate.rules import default_rules, parse_rules
from benchsuite.gate.select import resolve
from benchsuite.gate.trend import detect_shift
from benchsuite.store.history import RunScope, scope_of_run
from benchsuite.store.runs import ResultStore

CASE = "w/fp32/cpu/single-stream/b1"
OTHER = "w/int8/cpu/single-stream/b1"


def _write_run(
    store: ResultStore,
    run_id: str,
    latency_us: dict[str, float],
    *,
    seed: int,
    accuracy: float = 0.98,
    hardware: str = "hw1",
    status: str = "ok",
    energy_kind: str = "estimated",
    energy_scale: float = 1.0,
    rss: int = 100_000_000,
    noise: float = 0.02,
    busy_from: int | None = None,
    suite: str = "s",
    branch: str | None = None,
    state: str = "complete",
) -> None:
    """One stored run; ``busy_from``: calls from this index on are 1.5x slower (a busy machine
    from then on)."""
    rng = np.random.default_rng(seed)
    writer = store.start_run(suite, run_id=run_id, **({"branch": branch} if branch else {}))
    for case_id, median_us in latency_us.items():
        case = Case.from_id(case_id)
        samples = rng.lognormal(np.log(median_us * 1000), noise, 3000).astype(np.int64)
        if busy_from is not None:
            samples[busy_from:] = samples[busy_from:] * 3 // 2
        row = {
            "case_id": case_id,
            "workload": case.workload,
            "variant": case.variant,
            "device": case.device,
            "scenario": case.scenario,
            "batch_size": case.batch_size,
            "status": status,
            "error": None if status == "ok" else "boom",
            "latency_p50_ms": float(np.median(samples)) / 1e6,
            "accuracy": accuracy,
            "peak_rss_bytes": rss,
            "energy_kind": energy_kind,
            "energy_source": "rapl",
            "energy_valid": True,
            "energy_per_sample_j": 0.01 * energy_scale,
            "env_hardware_id": hardware,
        }
        table = pa.table(
            {
                "run_id": [None] * len(samples),
                "case_id": [case_id] * len(samples),
                "phase": ["sample"] * len(samples),
                "index": list(range(len(samples))),
                "latency_ns": samples,
            }
        )
        windows = [
            {
                "case_id": case_id,
                "window": i,
                "calls": 100,
                "samples": 100,
                "energy_j": 1.0 * energy_scale * (1 + rng.normal(0, 0.005)),
                "kind": energy_kind,
            }
            for i in range(7)
        ]
        writer.add_case(row, table, windows)
    if state != "running":  # a killed run, or one still measuring, never finishes
        writer.finish(state)


@pytest.fixture
def store(tmp_path: Path) -> ResultStore:
    return ResultStore(tmp_path / "r")


def _gate(store: ResultStore, *extra: str) -> int:
    return main(["gate", "--results", str(store.root), *extra])


def test_a_a_passes_and_a_slowdown_regresses(store: ResultStore) -> None:
    _write_run(store, "20260101T000000Z-000001", {CASE: 60, OTHER: 90}, seed=1)
    _write_run(store, "20260102T000000Z-000002", {CASE: 60, OTHER: 90}, seed=2)
    result = run_gate(store.root, "previous", "latest")
    latency = {c.case_id: c.metrics[0] for c in result.cases}
    assert all(m.verdict == "pass" for m in latency.values())
    assert abs(latency[CASE].change) < 0.01
    _write_run(store, "20260103T000000Z-000003", {CASE: 66, OTHER: 90}, seed=3)  # +10 %
    result = run_gate(store.root, "20260102T000000Z-000002", "latest")
    latency = {c.case_id: c.metrics[0] for c in result.cases}
    assert latency[CASE].verdict == "regression"
    assert latency[CASE].change == pytest.approx(0.10, abs=0.01)
    assert latency[CASE].interval[0] > 0.05
    assert latency[OTHER].verdict == "pass"


def test_a_regression_must_repeat_in_the_confirming_re_run(store: ResultStore) -> None:
    _write_run(store, "20260101T000000Z-000001", {CASE: 60, OTHER: 90}, seed=1)
    # tonight's run: CASE really 10 % slower; OTHER caught by a disturbed host (+60 %)
    _write_run(store, "20260102T000000Z-000002", {CASE: 66, OTHER: 144}, seed=2)
    _write_run(store, "20260102T010000Z-000003", {CASE: 66, OTHER: 90}, seed=3)  # the re-run
    single = run_gate(store.root, "20260101T000000Z-000001", "previous")
    assert {c.case_id: c.verdict for c in single.cases} == {CASE: "regression", OTHER: "regression"}
    result = run_gate(store.root, "20260101T000000Z-000001", "previous", confirm="latest")
    latency = {c.case_id: c.metrics[0] for c in result.cases}
    assert latency[CASE].verdict == "regression"
    assert "repeated in 20260102T010000Z-000003" in latency[CASE].reason
    assert latency[OTHER].verdict == "inconclusive"
    assert "not repeated in 20260102T010000Z-000003 (pass" in latency[OTHER].reason
    assert result.confirmed_by == "20260102T010000Z-000003"
    # a noisy re-run whose best estimate is still beyond the allowance confirms (its interval
    # straddles it: alone it would be inconclusive); one within the allowance does not
    _write_run(store, "20260102T020000Z-000004", {CASE: 64, OTHER: 90}, seed=4, noise=0.8)
    result = run_gate(
        store.root, "20260101T000000Z-000001", "20260102T000000Z-000002", confirm="latest"
    )
    latency = {c.case_id: c.metrics[0] for c in result.cases}
    assert latency[CASE].verdict == "regression"
    assert "within noise" in latency[CASE].reason  # what the re-run said, kept in the reason
    assert latency[OTHER].verdict == "inconclusive"


def test_confirm_with_the_candidate_itself_is_bad_input(
    store: ResultStore, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_run(store, "20260101T000000Z-000001", {CASE: 60}, seed=1)
    _write_run(store, "20260102T000000Z-000002", {CASE: 66}, seed=2)
    code = _gate(store, "--baseline", "previous", "--candidate", "latest", "--confirm", "latest")
    assert code == 2
    assert "--confirm latest: names the same run as --candidate" in capsys.readouterr().err
    markdown = store.root.parent / "gate.md"
    _write_run(store, "20260103T000000Z-000003", {CASE: 66}, seed=3)
    code = _gate(
        store,
        "--baseline",
        "20260101T000000Z-000001",
        "--candidate",
        "previous",
        "--confirm",
        "latest",
        "--markdown",
        str(markdown),
    )
    assert code == 1
    assert "regressions confirmed by re-run **20260103T000000Z-000003**" in markdown.read_text()


def test_two_re_runs_a_regression_must_repeat_in_both(
    store: ResultStore, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_run(store, "20260101T000000Z-000001", {CASE: 60, OTHER: 90}, seed=1)
    # CASE really 10 % slower in all three runs; OTHER disturbed in the first two only
    _write_run(store, "20260102T000000Z-000002", {CASE: 66, OTHER: 144}, seed=2)
    _write_run(store, "20260102T010000Z-000003", {CASE: 66, OTHER: 130}, seed=3)
    _write_run(store, "20260102T020000Z-000004", {CASE: 66, OTHER: 90}, seed=4)
    markdown = store.root.parent / "gate.md"
    args = ["--baseline", "20260101T000000Z-000001", "--candidate", "latest~2"]
    code = _gate(store, *args, "--confirm", "latest~1", "--markdown", str(markdown))
    assert code == 1
    one_rerun = run_gate(store.root, "20260101T000000Z-000001", "latest~2", confirm="latest~1")
    # one re-run: OTHER's two disturbed runs in a row still read as a regression
    assert {c.case_id: c.verdict for c in one_rerun.cases} == {
        CASE: "regression",
        OTHER: "regression",
    }
    code = _gate(
        store, *args, "--confirm", "latest~1", "--confirm", "latest", "--markdown", str(markdown)
    )
    assert code == 1  # CASE repeats in both re-runs
    text = markdown.read_text()
    assert "confirmed by re-run **20260102T010000Z-000003, 20260102T020000Z-000004**" in text
    result = run_gate(
        store.root, "20260101T000000Z-000001", "latest~2", confirm=["latest~1", "latest"]
    )
    verdicts = {c.case_id: c.verdict for c in result.cases}
    assert verdicts == {CASE: "regression", OTHER: "inconclusive"}
    capsys.readouterr()
    assert _gate(store, "--baseline", "previous", "--candidate", "latest~9") == 2
    assert "'latest~9' needs at least 10" in capsys.readouterr().err
    assert _gate(store, "--baseline", "previous", "--candidate", "latest~x") == 2
    assert "expected latest~N" in capsys.readouterr().err


def test_noise_straddling_the_allowance_is_inconclusive(store: ResultStore) -> None:
    _write_run(store, "20260101T000000Z-000001", {CASE: 60}, seed=1, noise=0.8)
    _write_run(
        store, "20260102T000000Z-000002", {CASE: 64}, seed=2, noise=0.8
    )  # +6.7 %, very noisy
    (case,) = run_gate(store.root, "previous", "latest").cases
    assert case.metrics[0].verdict == "inconclusive"
    assert "within noise" in case.metrics[0].reason


def test_a_run_slowed_partway_is_inconclusive_not_a_regression(store: ResultStore) -> None:
    _write_run(store, "20260101T000000Z-000001", {CASE: 60}, seed=1)
    # the machine got busy after the first 400 of 3000 calls: the median is +50 %, but the
    # run's best sixteenth is as fast as the baseline, which slower code could not be
    _write_run(store, "20260102T000000Z-000002", {CASE: 60}, seed=2, busy_from=400)
    (case,) = run_gate(store.root, "previous", "latest").cases
    latency = case.metrics[0]
    assert latency.verdict == "inconclusive" and not latency.point_beyond
    assert "the run was slowed partway" in latency.reason
    # slower code is slower throughout: a regression
    _write_run(store, "20260103T000000Z-000003", {CASE: 60}, seed=3, busy_from=0)
    latency = run_gate(store.root, "20260101T000000Z-000001", "latest").cases[0].metrics[0]
    assert latency.verdict == "regression"


def test_estimated_energy_is_inconclusive_and_measured_energy_is_gated(store: ResultStore) -> None:
    _write_run(store, "20260101T000000Z-000001", {CASE: 60}, seed=1)
    _write_run(store, "20260102T000000Z-000002", {CASE: 60}, seed=2)
    energy = run_gate(store.root, "previous", "latest").cases[0].metrics[1]
    assert energy.verdict == "inconclusive" and "an estimate cannot gate" in energy.reason
    _write_run(store, "20260103T000000Z-000003", {CASE: 60}, seed=3, energy_kind="measured")
    _write_run(
        store,
        "20260104T000000Z-000004",
        {CASE: 60},
        seed=4,
        energy_kind="measured",
        energy_scale=1.2,
    )
    energy = run_gate(store.root, "previous", "latest").cases[0].metrics[1]
    assert energy.verdict == "regression" and energy.change == pytest.approx(0.2, abs=0.02)


def test_accuracy_memory_and_failed_cases(store: ResultStore) -> None:
    _write_run(store, "20260101T000000Z-000001", {CASE: 60}, seed=1)
    _write_run(store, "20260102T000000Z-000002", {CASE: 60}, seed=2, accuracy=0.97, rss=120_000_000)
    metrics = {m.metric: m for m in run_gate(store.root, "previous", "latest").cases[0].metrics}
    assert metrics["accuracy"].verdict == "regression"  # one point lower, allowance half a point
    assert metrics["peak_rss_bytes"].verdict == "regression"  # +20 %, allowance +10 %
    _write_run(store, "20260103T000000Z-000003", {CASE: 60}, seed=3, status="failed")
    (case,) = run_gate(store.root, "previous", "latest").cases
    assert (
        case.verdict == "inconclusive" and "candidate case failed: boom" in case.metrics[0].reason
    )


def test_like_with_like_only(store: ResultStore) -> None:
    _write_run(store, "20260101T000000Z-000001", {CASE: 60, OTHER: 90}, seed=1)
    _write_run(store, "20260102T000000Z-000002", {CASE: 60}, seed=2, hardware="hw2")
    result = run_gate(store.root, "20260101T000000Z-000001", "latest")
    assert result.cases == []
    assert f"only in candidate: {CASE} (hardware hw2)" in result.unmatched
    assert f"only in baseline: {OTHER} (hardware hw1)" in result.unmatched
    # "previous" counts only runs on the candidate's hardware: there is none yet
    assert run_gate(store.root, "previous", "latest").verdict == "no-baseline"


def test_history_is_scoped_by_hardware_suite_and_branch(store: ResultStore) -> None:
    # one shared store: two hardware kinds take turns, and a branch run sits in between
    _write_run(store, "20260101T000000Z-000001", {CASE: 60}, seed=1, hardware="hw1")
    _write_run(store, "20260102T000000Z-000002", {CASE: 90}, seed=2, hardware="hw2")
    _write_run(store, "20260103T000000Z-000003", {CASE: 80}, seed=3, branch="experiment")
    _write_run(store, "20260104T000000Z-000004", {CASE: 60}, seed=4, hardware="hw1")
    _write_run(store, "20260105T000000Z-000005", {CASE: 90}, seed=5, hardware="hw2")
    _write_run(store, "20260106T000000Z-000006", {CASE: 60}, seed=6, suite="other")
    latest_hw2 = run_gate(store.root, "previous", "latest", scope=RunScope(suite="s"))
    assert (latest_hw2.candidate, latest_hw2.baseline) == ("latest", "previous")
    latency = latest_hw2.cases[0].metrics[0]
    assert latency.verdict == "pass"  # 90 against 90 on hw2, not 90 against hw1's 60
    side = resolve(
        "previous", ResultStore(store.root), scope_of_run(store, "20260105T000000Z-000005")
    )
    assert side.run_ids == ("20260102T000000Z-000002",)
    on_hw1 = RunScope(suite="s", hardware_ids=frozenset({"hw1"}), branch="")
    assert (
        run_gate(store.root, "rolling:5", "latest", scope=on_hw1).baseline == "rolling:5 (1 runs)"
    )
    branch = RunScope(branch="experiment")
    assert run_gate(store.root, "previous", "latest", scope=branch).verdict == "no-baseline"
    other_suite = run_gate(store.root, "previous", "latest")  # run 6, suite "other": alone
    assert other_suite.verdict == "no-baseline"
    assert "suite other" in (other_suite.notice or "")


def test_a_first_run_passes_with_a_notice(store: ResultStore, tmp_path: Path) -> None:
    _write_run(store, "20260101T000000Z-000001", {CASE: 60}, seed=1)
    markdown, report = tmp_path / "gate.md", tmp_path / "gate.json"
    args = ["--baseline", "rolling:7", "--markdown", str(markdown), "--json", str(report)]
    assert _gate(store, *args, "--strict") == 0  # never red, not even under --strict
    assert "**Notice:** first run on this hardware: nothing to compare" in markdown.read_text()
    document = json.loads(report.read_text())
    assert document["verdict"] == "no-baseline"
    assert document["notice"].startswith("first run on this hardware: nothing to compare")
    assert _gate(store, "--baseline", "previous") == 0
    # a run id that does not exist is still bad input, not a first run
    assert _gate(store, "--baseline", "20250101T000000Z-000000") == 2


def test_selectors(store: ResultStore, tmp_path: Path) -> None:
    for day in range(1, 6):
        _write_run(store, f"2026010{day}T000000Z-00000{day}", {CASE: 60 + day * 0.01}, seed=day)
    rolling = run_gate(store.root, "rolling:3", "latest")
    assert rolling.baseline == "rolling:3 (3 runs)"
    # the history before the candidate, never runs after it
    older = run_gate(store.root, "rolling:3", "20260103T000000Z-000003")
    assert older.baseline == "rolling:3 (2 runs)"
    first = run_gate(store.root, "rolling:3", "20260101T000000Z-000001")
    assert first.verdict == "no-baseline" and "hardware hw1" in (first.notice or "")
    assert (
        run_gate(store.root, "20260101T000000Z-000001", "latest").baseline
        == "20260101T000000Z-000001"
    )
    pinned_folder = store.root / "20260101T000000Z-000001"
    assert run_gate(store.root, str(pinned_folder), "latest").cases[0].metrics[0].verdict == "pass"
    pinned_file = pinned_folder / "run-cases.parquet"
    from_file = run_gate(store.root, str(pinned_file), "latest").cases[0].metrics[0]
    assert from_file.verdict == "pass"  # baseline median only, candidate's interval
    with pytest.raises(UsageError, match="rolling:N with N a positive integer"):
        run_gate(store.root, "rolling:x", "latest")
    with pytest.raises(UsageError, match="not a run id in"):
        run_gate(store.root, "nope", "latest")
    with pytest.raises(UsageError, match="holds no runs; run `benchsuite run` first"):
        run_gate(tmp_path / "empty", "previous", "latest")


def test_rolling_baseline_leaves_out_disturbed_runs(store: ResultStore) -> None:
    # two of five baseline runs were slowed by a busy machine; pooled, they would pull the
    # baseline's median up and hide the candidate's +6 %
    for day, median_us in enumerate([60, 90, 90, 60, 60], start=1):
        _write_run(store, f"2026010{day}T000000Z-00000{day}", {CASE: median_us}, seed=day)
    _write_run(store, "20260106T000000Z-000006", {CASE: 63.6}, seed=6)
    latency = run_gate(store.root, "rolling:5", "latest").cases[0].metrics[0]
    assert latency.verdict == "regression"
    assert "baseline: 2 of 5 runs left out as disturbed, off the 3 that agree" in latency.reason
    assert "20260102T000000Z-000002 +50 %" in latency.reason
    # runs that disagree among themselves leave no reference: inconclusive, never a pass
    for day, median_us in enumerate([60, 70, 80], start=7):
        _write_run(store, f"202601{day:02d}T000000Z-0000{day:02d}", {CASE: median_us}, seed=day)
    _write_run(store, "20260111T000000Z-000011", {CASE: 63.6}, seed=11)
    latency = run_gate(store.root, "rolling:3", "latest").cases[0].metrics[0]
    assert latency.verdict == "inconclusive", latency.reason
    assert "baseline runs disagree among themselves (no two of the 3" in latency.reason


def test_rules_parsing_and_overrides(tmp_path: Path) -> None:
    rules = parse_rules(
        '[metrics.latency_p50_ms]\ndirection = "lower"\nmax_increase = 0.02\n'
        '[[overrides]]\nworkload = "w"\nmetric = "latency_p50_ms"\nmax_increase = 0.1\n'
        '[[overrides]]\ncase = "w/int8/cpu/single-stream/b1"\nmetric = "latency_p50_ms"\nmax_increase = 0.3\n',
        "r.toml",
        base=default_rules(),
    )
    assert rules.allowance(Case.from_id("x/fp32/cpu/offline/b8"), "latency_p50_ms").relative == 0.02
    assert rules.allowance(Case.from_id(CASE), "latency_p50_ms").relative == 0.1
    assert rules.allowance(Case.from_id(OTHER), "latency_p50_ms").relative == 0.3
    assert rules.allowance(Case.from_id(CASE), "accuracy").absolute == 0.005  # default kept
    for text, message in [
        ("[metrics.latency]\ndirection='lower'\nmax_increase=0.1", "unknown metric 'latency'"),
        ("[metrics.accuracy]\ndirection='up'\nmax_decrease_abs=0.1", "direction must be"),
        ("[metrics.accuracy]\ndirection='higher'", "needs exactly one of"),
        ("[metrics.accuracy]\ndirection='higher'\nmax_decrease_abs=-1", "must be a number >= 0"),
        (
            "[[overrides]]\nmetric='accuracy'\nmax_decrease_abs=0.1",
            "exactly one of workload = or case =",
        ),
        ("[metrix]", "unknown key 'metrix'; did you mean 'metrics'"),
        ("[metrics", "not valid TOML"),
    ]:
        with pytest.raises(UsageError, match=message):
            parse_rules(text, "r.toml", base=default_rules())


def test_exit_codes_and_outputs(
    store: ResultStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _write_run(store, "20260101T000000Z-000001", {CASE: 60}, seed=1)
    _write_run(store, "20260102T000000Z-000002", {CASE: 60}, seed=2)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    # energy is estimated: inconclusive, which passes unless --strict
    assert _gate(store, "--baseline", "previous") == 0
    assert _gate(store, "--baseline", "previous", "--strict") == 3
    _write_run(store, "20260103T000000Z-000003", {CASE: 70}, seed=3)
    out = tmp_path / "o"
    code = _gate(
        store,
        "--baseline",
        "previous",
        "--markdown",
        str(out / "g.md"),
        "--junit",
        str(out / "g.xml"),
        "--json",
        str(out / "g.json"),
    )
    assert code == 1
    document = json.loads((out / "g.json").read_text())
    assert document["verdict"] == "regression" and document["counts"]["regression"] == 1
    junit = ElementTree.parse(out / "g.xml").getroot()
    assert junit.get("failures") == "1"
    assert junit.find("testcase/failure") is not None
    assert "❌ regression" in (out / "g.md").read_text()
    assert summary.read_text().count("## benchsuite gate") == 3
    assert _gate(store, "--baseline", "nope") == 2
    assert "benchsuite: error: nope: not a run id" in capsys.readouterr().err


def test_step_detection_finds_a_jump_and_a_creep_and_ignores_noise() -> None:
    rng = np.random.default_rng(0)
    jump = np.r_[rng.normal(100, 1, 15), rng.normal(108, 1, 10)]
    shift = detect_shift(jump, 0.05)
    assert shift is not None and shift.index == 15 and shift.change == pytest.approx(0.08, abs=0.02)
    creep = 100 * (1 + 0.01 * np.arange(30)) + rng.normal(0, 0.5, 30)  # +1 % a night
    assert detect_shift(creep, 0.05) is not None
    assert detect_shift(rng.normal(100, 2, 30), 0.05) is None


def test_cases_skipped_on_both_sides_are_listed_not_judged(store: ResultStore) -> None:
    _write_run(store, "20260101T000000Z-000001", {CASE: 60}, seed=1, status="skipped")
    _write_run(store, "20260102T000000Z-000002", {CASE: 60}, seed=2, status="skipped")
    result = run_gate(store.root, "previous", "latest")
    assert result.cases == [] and result.verdict == "inconclusive"
    assert result.unmatched == [f"skipped on both sides: {CASE} (boom)"]


RUN_A, RUN_B = "20260101T000000Z-000001", "20260102T000000Z-000002"
RUN_KILLED, RUN_STOPPED = "20260103T000000Z-000003", "20260104T000000Z-000004"


def _with_partial_runs(store: ResultStore) -> None:
    """Two complete runs of the same code, then a killed run and an interrupted one, both slow."""
    _write_run(store, RUN_A, {CASE: 60, OTHER: 90}, seed=1)
    _write_run(store, RUN_B, {CASE: 60, OTHER: 90}, seed=2)
    _write_run(store, RUN_KILLED, {CASE: 90}, seed=3, state="running")
    _write_run(store, RUN_STOPPED, {CASE: 90}, seed=4, state="interrupted")


def test_a_partial_run_is_never_latest_previous_or_rolling(store: ResultStore) -> None:
    _with_partial_runs(store)
    result = run_gate(store.root, "previous", "latest")
    assert (result.baseline, result.candidate) == ("previous", "latest")
    assert {c.case_id for c in result.cases} == {CASE, OTHER}  # the partial runs' one case is slow
    latency = {c.case_id: c.metrics[0] for c in result.cases}
    assert all(m.metric == "latency_p50_ms" and m.verdict == "pass" for m in latency.values())
    assert [line for line in result.unmatched if "partial run" in line] == [
        f"run {RUN_KILLED} is running (a partial run): latest, previous and rolling skip it; name it by its id to gate it",
        f"run {RUN_STOPPED} is interrupted (a partial run): latest, previous and rolling skip it; name it by its id to gate it",
    ]
    assert resolve("latest", store).run_ids == (RUN_B,)
    assert resolve("previous", store).run_ids == (RUN_A,)
    assert resolve("rolling:5", store, before="20260105T000000Z-000005").run_ids == (RUN_A, RUN_B)
    assert main(["gate", "--results", str(store.root), "--baseline", "previous"]) == 0


def test_a_partial_run_named_by_its_id_is_gated(store: ResultStore) -> None:
    _with_partial_runs(store)
    result = run_gate(store.root, RUN_B, RUN_KILLED)
    (case,) = result.cases
    assert case.metrics[0].metric == "latency_p50_ms" and case.metrics[0].verdict == "regression"


def test_the_report_marks_a_partial_run_and_never_picks_one_as_latest(
    store: ResultStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchsuite.report import render_report

    _with_partial_runs(store)
    assert main(["report", "--results", str(store.root), "--out", str(tmp_path / "h")]) == 0

    latest = (tmp_path / "h" / "index.html").read_text()
    assert RUN_B in latest and "badge incomplete" not in latest
    page = render_report(store, RUN_KILLED, tmp_path / "killed").read_text()
    assert '<span class="badge incomplete">incomplete</span>' in page
    assert "This run is <strong>running</strong>: it holds 1 case." in page


def test_the_pytest_benchmark_export_states_the_installed_version(store: ResultStore) -> None:
    import importlib.metadata

    from benchsuite.report.export import pytest_benchmark_document

    _write_run(store, RUN_A, {CASE: 60}, seed=1)
    document = pytest_benchmark_document(store, RUN_A)
    installed = importlib.metadata.version("pytest-benchmark")
    assert document["version"] == installed
    assert document["machine_info"]["benchsuite_pytest_benchmark"] == f"{installed} installed"


def test_an_unresolved_paired_ratio_is_inconclusive_whatever_its_figure() -> None:
    """A paired ratio the run flagged unresolved (its interval over processes too wide) is never
    gated as a pass or a regression; the same figures, resolved, are."""
    import pandas as pd

    from benchsuite.gate.decide import INCONCLUSIVE, PASS, REGRESSION, _intervals
    from benchsuite.gate.rules import Allowance

    allowance = Allowance("energy_ratio", lower_is_better=True, relative=0.05)
    interval = ("energy_ratio_low", "energy_ratio_high")

    def row(ratio: float, resolved: bool | None) -> pd.Series:
        return pd.Series(
            {
                "energy_ratio": ratio,
                "energy_ratio_low": ratio * 0.99,
                "energy_ratio_high": ratio * 1.01,
                "energy_ratio_resolved": resolved,
            }
        )

    def decide(base: pd.Series, cand: pd.Series) -> str:
        return _intervals(
            "w/int8/cpu/single-stream/b1", "energy_ratio", allowance, base, cand, interval
        ).verdict

    assert decide(row(1.4, True), row(1.4, True)) == PASS
    assert decide(row(1.4, True), row(1.7, True)) == REGRESSION
    assert decide(row(1.4, True), row(1.7, False)) == INCONCLUSIVE  # the candidate's: unresolved
    assert decide(row(1.4, False), row(1.4, True)) == INCONCLUSIVE  # the baseline's
    assert decide(row(1.4, None), row(1.4, None)) == PASS  # rows from before the flag
    verdict = _intervals("c", "energy_ratio", allowance, row(1.4, True), row(1.7, False), interval)
    assert "candidate's paired ratio is unresolved" in verdict.reason
