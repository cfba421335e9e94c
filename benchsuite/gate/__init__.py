"""The regression gate: compare a candidate run with a baseline on the raw samples.

See docs/gate.md. ``run_gate`` is what ``benchsuite gate`` calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from benchsuite.errors import UsageError
from benchsuite.gate.decide import (
    INCONCLUSIVE,
    PASS,
    REGRESSION,
    GateResult,
    compare,
    confirm_regressions,
)
from benchsuite.gate.rules import Rules, load_rules
from benchsuite.gate.select import resolve
from benchsuite.gate.trend import detect_shift
from benchsuite.store import ResultStore

__all__ = ["INCONCLUSIVE", "PASS", "REGRESSION", "GateResult", "Rules", "run_gate"]

TREND_METRICS = ("latency_p50_ms", "energy_per_sample_j")


def _trends(
    store: ResultStore,
    result: GateResult,
    candidate_runs: tuple[str, ...],
    hardware: set[str],
    rules: Rules,
    window: int,
) -> list[dict]:
    if not candidate_runs or window < 6:
        return []
    runs = [r for r in store.run_ids() if r <= max(candidate_runs)][-window:]
    history = store.read_cases(
        runs,
        columns=["run_id", "case_id", "status", "env_hardware_id", "energy_kind", *TREND_METRICS],
    )
    history = history[(history["status"] == "ok") & history["env_hardware_id"].isin(hardware)]
    found = []
    compared = {case.case_id for case in result.cases}
    for case_id, group in history.groupby("case_id"):
        if case_id not in compared:
            continue
        group = group.sort_values("run_id")
        for metric in TREND_METRICS:
            if metric == "energy_per_sample_j" and (group["energy_kind"] != "measured").any():
                continue  # estimates are not gated, so they are not trended either
            series = group[metric].dropna()
            allowance = rules.metrics[metric].relative or 0.0
            shift = detect_shift(series.tolist(), allowance)
            if shift is not None and shift.change > 0:  # worse: both metrics are lower-is-better
                found.append(
                    {
                        "case_id": str(case_id),
                        "metric": metric,
                        "run_id": str(group["run_id"].iloc[shift.index]),
                        "before": shift.before,
                        "after": shift.after,
                        "change": shift.change,
                    }
                )
    return found


def run_gate(
    results: Path,
    baseline: str,
    candidate: str,
    rules_path: Path | None = None,
    trend_window: int = 30,
    strict: bool = False,
    confirm: str | Sequence[str] | None = None,
) -> GateResult:
    """Gate ``candidate`` against ``baseline``; with ``confirm`` (one or more re-runs of the
    candidate's code), a regression must repeat in every re-run, else it is ``inconclusive``."""
    store = ResultStore(results, strict=strict)
    rules = load_rules(rules_path)
    cand = resolve(candidate, store)
    hardware = set(cand.rows["env_hardware_id"].dropna().astype(str))
    reruns = [confirm] if isinstance(confirm, str) else list(confirm or [])
    rerun_sides = []
    for selector in reruns:
        again = resolve(selector, store)
        if set(again.run_ids) & set(cand.run_ids):
            raise UsageError(
                f"--confirm {selector}: names the same run as --candidate {candidate}; "
                "confirm with a re-run of the same code, e.g. --candidate previous --confirm latest"
            )
        rerun_sides.append(again)
    base = resolve(
        baseline,
        store,
        hardware_id=next(iter(hardware), None),
        before=min(cand.run_ids, default=None),
    )
    result = compare(base, cand, rules)
    for again in rerun_sides:
        label = again.run_ids[0] if len(again.run_ids) == 1 else again.label
        result = confirm_regressions(result, compare(base, again, rules), label)
    result.trends = _trends(store, result, cand.run_ids, hardware, rules, trend_window)
    return result
