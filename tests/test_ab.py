"""A/B runs: two versions of the user's code measured side by side (``benchsuite compare``), and
the gate's verdict on them with no history.

The drift tests replace the worker processes by objects in this process over a fake clock that
drifts; the coordinator, the round pairing and the ratios are benchsuite's own. The end-to-end
tests run the real command on two real checkouts (a git repository with a base and a head
commit), in worker processes that import each arm's own module."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd
import pytest

from benchsuite.case import Case
from benchsuite.instruments.meters.base import EnergyReading
from benchsuite.instruments.rounds import RoundRunner, RoundsConfig
from benchsuite.run.ab import AbSettings, ab_rounds, arm_case, arm_of, clear_of
from benchsuite.run.affinity import CpuSet
from benchsuite.run.code_arms import BASELINE, CANDIDATE, ArmOrigin, load_arm
from benchsuite.run.pooling import Ratio, paired_ratios
from tests.conftest import FakeClock, run_cli
from tests.test_rounds import ClockMeter, DriftingSession
from tests.user_code import SUITE, write_arm

CASE = Case("stack", "fp32", "cpu", "single-stream", 1, 1)
COST_NS = {BASELINE: 100_000, CANDIDATE: 110_000}  # the candidate's code is 10 % slower
DRIFT_PER_S = 0.005  # every call 0.5 % slower per second of the job


class ArmSession(DriftingSession):
    """One arm's code held ready: every call costs the arm's time, stretched by the drift (a
    :class:`DriftingSession` whose cost is its arm's, not its variant's)."""

    def __init__(self, arm: str, clock: FakeClock) -> None:
        def call() -> None:
            clock.advance(int(COST_NS[arm] * (1 + DRIFT_PER_S * clock() / 1e9)))

        self.cpus = None
        self.clock = clock
        self.runner = RoundRunner(call, None, ClockMeter(clock), 1, 0.0, clock)


def _ratios(interleave: bool, settings: AbSettings | None = None) -> tuple[Ratio, Ratio, int]:
    clock = FakeClock()
    plan = RoundsConfig(repeats=4, rounds=6, interleave=interleave, pin_cpus=False)
    processes = []

    def start(arm: str, idle: EnergyReading | None, cpus: CpuSet | None) -> ArmSession:
        processes.append(arm)
        return ArmSession(arm, clock)

    base, cand = ab_rounds(CASE, start, plan, settings or AbSettings(adaptive=False), True)
    ratios = paired_ratios(cand, base, plan)
    assert ratios is not None
    return ratios[0], ratios[1], len(processes)


def test_sequential_arms_carry_the_drift_into_the_ratio() -> None:
    """Baseline then candidate, each all its six rounds of 1.1 virtual s in one go per process:
    each candidate round ran 6.6 s after the baseline's round it is paired with, at 0.5 %/s: the
    ratio is off by the drift over that lag, about 3.3 %."""
    latency, energy, _ = _ratios(interleave=False)
    for ratio in (latency, energy):
        error = ratio.value / 1.10 - 1
        assert error == pytest.approx(DRIFT_PER_S * 6.6, rel=0.2), error
        assert error > 0.02


def test_interleaved_arms_stay_within_one_percent_of_the_true_ratio() -> None:
    latency, energy, processes = _ratios(interleave=True)
    for ratio in (latency, energy):
        assert ratio.value == pytest.approx(1.10, rel=0.01)
        assert ratio.low <= 1.10 * 1.01 and ratio.high >= 1.10 * 0.99
    assert processes == 8  # four fresh processes per arm: adaptive stop off


def test_the_adaptive_stop_ends_a_clear_case_after_the_fewest_processes() -> None:
    latency, _, processes = _ratios(True, AbSettings(latency_allowance_rel=0.03, min_repeats=2))
    assert processes == 4  # two per arm of the four planned: +10 % is clear of +3 %
    assert latency.processes == 2 and latency.low > 1.03


def test_clear_of_the_allowance_means_wholly_within_or_wholly_beyond() -> None:
    def ratio(low: float, high: float) -> Ratio:
        return Ratio((low + high) / 2, low, high, "", 3, True)

    assert clear_of(ratio(0.98, 1.02), 0.03)  # within: a pass more processes will not undo
    assert clear_of(ratio(1.04, 1.08), 0.03)  # beyond: a regression
    assert not clear_of(ratio(1.01, 1.05), 0.03)  # straddles: measure on
    assert not clear_of(Ratio(1.0, 1.0, 1.0, "", 1, False), 0.03)  # one process: no interval


def test_an_arm_is_keyed_by_its_tagged_variant_and_back() -> None:
    tagged = arm_case(CASE, CANDIDATE)
    assert tagged != arm_case(CASE, BASELINE)
    assert arm_of(tagged) == (CASE, CANDIDATE)


def _arm(folder: Path, layers: int, name: str, extra_suite: str = "") -> Path:
    return write_arm(folder, layers, name, SUITE + extra_suite)


def _git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_each_arm_imports_its_own_module_of_the_same_name(tmp_path: Path) -> None:
    """The coordinator learns both arms' workloads in one process: each sees its own
    ``mycode``, and neither is left in ``sys.modules`` for the other."""
    base = load_arm(BASELINE, _arm(tmp_path / "base", 2, "base"), "suite.toml", None)
    head = load_arm(CANDIDATE, _arm(tmp_path / "head", 3, "head"), "suite.toml", None)
    assert base.workloads["stack"].description.endswith("base")
    assert head.workloads["stack"].description.endswith("head")
    assert "mycode" not in sys.modules
    origin = head.origin_of("stack")
    assert isinstance(origin, ArmOrigin) and origin.roots[-1] == str((tmp_path / "head").resolve())


def _compare(folder: Path, *arms: str) -> subprocess.CompletedProcess[str]:
    """``benchsuite compare`` of ``arms`` on their suite.toml, into ``folder/results``; it must
    succeed."""
    done = run_cli(
        "compare",
        *arms,
        "--suite",
        "suite.toml",
        "--results",
        str(folder / "results"),
        "--no-report",
        cwd=folder,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _gate(results: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli("gate", "--results", str(results), *extra)


@pytest.mark.slow
def test_a_slower_head_commit_is_a_regression_in_one_job(tmp_path: Path) -> None:
    """A repository whose head commit adds layers to the user's module (base 4, head 8: about
    twice the time): ``compare --baseline-ref HEAD~1`` measures both commits side by side, and
    ``gate`` with no baseline exits 1 with the ratio in its three outputs. A case only in the
    head's suite is listed, not compared."""
    repo = _arm(tmp_path / "repo", 4, "v1")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "base")
    _arm(
        repo,
        8,
        "v2",
        extra_suite='\n[[matrix]]\nworkloads = ["stack"]\nvariants = ["fp32"]\n'
        'scenario = "offline"\nthreads = [1]\nbatch_sizes = [2]\n',
    )
    _git(repo, "commit", "-q", "-am", "head: more layers")
    results = tmp_path / "results"
    done = _compare(tmp_path, "--baseline-ref", "HEAD~1", "--candidate", str(repo))
    assert "A/B run" in done.stdout and "only in the candidate" in done.stdout
    gated = _gate(
        results,
        "--json",
        str(tmp_path / "g.json"),
        "--junit",
        str(tmp_path / "g.xml"),
        "--markdown",
        str(tmp_path / "g.md"),
    )
    assert gated.returncode == 1, gated.stdout + gated.stderr
    verdict = json.loads((tmp_path / "g.json").read_text())
    assert verdict["verdict"] == "regression"
    (case,) = verdict["cases"]
    latency = next(m for m in case["metrics"] if m["metric"].startswith("latency_p50_ms"))
    assert latency["verdict"] == "regression" and 1.4 < latency["candidate"] < 2.6
    assert "HEAD~1" in verdict["baseline"]
    assert any("only in the candidate" in line for line in verdict["unmatched"])
    assert ElementTree.parse(tmp_path / "g.xml").getroot().find(".//failure") is not None
    assert "A/B ratio" in (tmp_path / "g.md").read_text()


@pytest.mark.slow
def test_the_same_code_in_two_checkouts_passes(tmp_path: Path) -> None:
    """A/A: two identical checkouts; no regression (exit 0), and the plain gate refuses the A/B
    run with a clear message, as the A/B gate refuses a --confirm."""
    base = _arm(tmp_path / "base", 4, "same")
    head = _arm(tmp_path / "head", 4, "same")
    results = tmp_path / "results"
    _compare(tmp_path, "--baseline", str(base), "--candidate", str(head), "--no-adaptive")
    gated = _gate(results, "--json", str(tmp_path / "g.json"))
    assert gated.returncode == 0, gated.stdout + gated.stderr
    (case,) = json.loads((tmp_path / "g.json").read_text())["cases"]
    latency = next(m for m in case["metrics"] if m["metric"].startswith("latency_p50_ms"))
    assert latency["verdict"] != "regression"
    assert 0.8 < latency["candidate"] < 1.25  # the ratio; three processes per arm, no stop
    run_id = json.loads((tmp_path / "g.json").read_text())["candidate"].split()[0]
    refused = _gate(results, "--baseline", "previous", "--candidate", run_id)
    assert refused.returncode == 2 and "leave out --baseline" in refused.stderr
    refused = _gate(results, "--confirm", "latest")
    assert refused.returncode == 2 and "--confirm" in refused.stderr


def test_bad_arms_are_one_clear_line(tmp_path: Path) -> None:
    head = _arm(tmp_path / "head", 2, "x")
    missing = run_cli(
        "compare", "--baseline", str(tmp_path / "nowhere"), "--candidate", str(head), cwd=tmp_path
    )
    assert (
        missing.returncode == 2
        and "--baseline" in missing.stderr
        and "no such folder" in (missing.stderr)
    )
    ref = run_cli(
        "compare",
        "--baseline-ref",
        "no-such-ref",
        "--candidate",
        str(head),
        "--suite",
        "suite.toml",
        cwd=tmp_path,
    )
    assert ref.returncode == 2 and "--baseline-ref no-such-ref" in ref.stderr
    _arm(tmp_path / "other", 2, "y")
    (tmp_path / "other" / "suite.toml").write_text(SUITE.replace('"stack"', '"digits-cnn"'))
    disjoint = run_cli(
        "compare",
        "--baseline",
        str(tmp_path / "other"),
        "--candidate",
        str(head),
        "--suite",
        "suite.toml",
        cwd=tmp_path,
    )
    assert disjoint.returncode == 2 and "no case in common" in disjoint.stderr


def test_the_plain_gate_without_a_baseline_asks_for_an_ab_run(tmp_path: Path) -> None:
    (tmp_path / "results").mkdir()
    refused = _gate(tmp_path / "results")
    assert refused.returncode == 2 and "A/B run" in refused.stderr
    assert textwrap.dedent(refused.stderr).count("\n") <= 2  # one line, no traceback


@pytest.mark.slow
def test_a_server_case_alternates_whole_runs(tmp_path: Path) -> None:
    """A scenario that does not split into rounds (a server under load): the arms alternate
    whole runs, B C C B, and the row says so, with a ratio over the two pairs."""
    server = (
        '[serving]\nduration_s = 1.0\n[[matrix]]\nworkloads = ["stack"]\nvariants = ["fp32"]\n'
        'scenario = "server"\nbatch_sizes = [2]\nload_pct = [50]\nthreads = [1]\n'
    )
    suite = SUITE.split("[[matrix]]")[0] + server
    base, head = _arm(tmp_path / "base", 4, "a"), _arm(tmp_path / "head", 4, "b")
    for arm in (base, head):
        (arm / "suite.toml").write_text(suite)
    results = tmp_path / "results"
    _compare(tmp_path, "--baseline", str(base), "--candidate", str(head))
    (run,) = [p for p in results.iterdir() if p.is_dir()]
    row = pd.read_parquet(run / "cases").iloc[0]
    assert row["status"] == "ok", row["error"]
    assert row["ab_method"].startswith("alternating whole runs: B C C B (2 pairs")
    assert row["ab_pairs"] == 2 and row["ab_latency_ratio_low"] <= row["ab_latency_ratio"]
    assert row["ab_baseline_latency_p50_ms"] > 0


def _ab_row(ratio: float, low: float, high: float, resolved: bool) -> pd.Series:
    return pd.Series(
        {
            "ab_latency_ratio": ratio,
            "ab_latency_ratio_low": low,
            "ab_latency_ratio_high": high,
            "ab_latency_ratio_resolved": resolved,
            "ab_pairs": 3,
        }
    )


def test_a_wide_ratio_wholly_beyond_the_allowance_is_a_regression() -> None:
    """Seen on a loaded CI runner: a 2.9x slowdown paired over three processes as 2.1x to 3.9x,
    wider than the suite's resolution. Beyond the allowance all through, it is a regression; a
    wide interval that reaches back within the allowance stays inconclusive."""
    from benchsuite.gate.paired import _ratio_verdict
    from benchsuite.gate.rules import load_rules

    allowance = load_rules(None).metrics["latency_p50_ms"]
    verdict = _ratio_verdict(
        "c", "latency_p50_ms", "ab_latency_ratio", allowance, _ab_row(2.857, 2.107, 3.874, False)
    )
    assert verdict.verdict == "regression" and "all of it is beyond" in verdict.reason
    verdict = _ratio_verdict(
        "c", "latency_p50_ms", "ab_latency_ratio", allowance, _ab_row(1.10, 0.95, 1.27, False)
    )
    assert verdict.verdict == "inconclusive" and "unresolved" in verdict.reason
    verdict = _ratio_verdict(
        "c", "latency_p50_ms", "ab_latency_ratio", allowance, _ab_row(1.0, 0.99, 1.01, True)
    )
    assert verdict.verdict == "pass"
