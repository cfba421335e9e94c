"""The regression gate: compare a candidate run with a baseline on the raw samples.

See docs/gate.md. ``run_gate`` is what ``benchsuite gate`` calls.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from benchsuite.errors import UsageError
from benchsuite.gate.decide import (
    INCONCLUSIVE,
    NO_BASELINE,
    PASS,
    REGRESSION,
    GateResult,
    compare,
    confirm_regressions,
    first_run,
)
from benchsuite.gate.paired import gate_ab, is_ab_run
from benchsuite.gate.rules import Rules, load_rules
from benchsuite.gate.select import NoBaseline, Side, is_relative, resolve
from benchsuite.gate.trend import detect_shift
from benchsuite.store.history import RunScope, runs_in_scope, scope_of_run
from benchsuite.store.runs import ResultStore
from benchsuite.store.schema import Status

__all__ = [
    "INCONCLUSIVE",
    "NO_BASELINE",
    "PASS",
    "REGRESSION",
    "GateResult",
    "Rules",
    "RunScope",
    "run_gate",
]

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
    complete = runs_in_scope(store, RunScope())  # a partial run is in no trend
    runs = sorted({*[r for r in complete if r <= max(candidate_runs)][-window:], *candidate_runs})
    history = store.read_cases(
        runs,
        columns=["run_id", "case_id", "status", "env_hardware_id", "energy_kind", *TREND_METRICS],
    )
    history = history[(history["status"] == Status.OK) & history["env_hardware_id"].isin(hardware)]
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
    results: Path | str,
    baseline: str | None,
    candidate: str,
    rules_path: Path | None = None,
    trend_window: int = 30,
    strict: bool = False,
    confirm: str | Sequence[str] | None = None,
    scope: RunScope | None = None,
) -> GateResult:
    """Gate ``candidate`` against ``baseline``; with ``confirm`` (one or more re-runs of the
    candidate's code), a regression must repeat in every re-run, else it is ``inconclusive``.

    ``scope`` narrows the runs a relative candidate selector counts (``latest`` of this suite on
    this hardware); the baseline and the re-runs are then counted among the runs like the
    candidate (:mod:`benchsuite.store.history`). With no such baseline yet (a first night, or a
    history lost), the result is a passing notice (:data:`NO_BASELINE`).

    With no ``baseline``, the candidate is an A/B run (``benchsuite compare``), which carries its
    own baseline: it is decided on its paired ratios (:mod:`benchsuite.gate.paired`)."""
    store = ResultStore(results, strict=strict)
    rules = load_rules(rules_path)
    if baseline is None:
        return _gate_ab_run(store, candidate, rules, scope, confirm)
    try:
        cand = resolve(candidate, store, scope)
    except NoBaseline as error:
        if is_relative(candidate) and not store.run_ids():
            raise UsageError(
                f"--candidate {candidate}: the results store {store} holds no runs; run "
                "`benchsuite run` first, or check --results"
            ) from None
        raise UsageError(str(error)) from None
    ab_runs = [run for run in cand.run_ids if is_ab_run(store, run)]
    if ab_runs:
        raise UsageError(
            f"--candidate {candidate}: {ab_runs[0]} is an A/B run (benchsuite compare), which "
            "carries its own baseline; leave out --baseline"
        )
    like_candidate = _scope_of_side(store, cand)
    hardware = set(cand.rows["env_hardware_id"].dropna().astype(str))
    reruns = [confirm] if isinstance(confirm, str) else list(confirm or [])
    rerun_sides = []
    for selector in reruns:
        try:
            again = resolve(selector, store, like_candidate)
        except NoBaseline as error:
            raise UsageError(f"--confirm {error}") from None
        if set(again.run_ids) & set(cand.run_ids):
            raise UsageError(
                f"--confirm {selector}: names the same run as --candidate {candidate}; "
                "confirm with a re-run of the same code, e.g. --candidate previous --confirm latest"
            )
        rerun_sides.append(again)
    try:
        base = resolve(baseline, store, like_candidate, before=min(cand.run_ids, default=None))
    except NoBaseline as error:
        return first_run(baseline, cand, rules.source, like_candidate, str(error))
    result = compare(base, cand, rules)
    for again in rerun_sides:
        label = again.run_ids[0] if len(again.run_ids) == 1 else again.label
        result = confirm_regressions(result, compare(base, again, rules), label)
    result.trends = _trends(store, result, cand.run_ids, hardware, rules, trend_window)
    return result


def _gate_ab_run(
    store: ResultStore,
    candidate: str,
    rules: Rules,
    scope: RunScope | None,
    confirm: str | Sequence[str] | None,
) -> GateResult:
    """The verdict of one A/B run: ``candidate`` names it (``latest``: the latest A/B run in
    ``scope``)."""
    if confirm:
        raise UsageError(
            "--confirm: not with an A/B run; its arms already took turns in the same job (run "
            "benchsuite compare again for a second opinion)"
        )
    try:
        side = resolve(candidate, store, dataclasses.replace(scope or RunScope(), ab=True))
    except NoBaseline as error:
        raise UsageError(
            f"--baseline: not given, so --candidate {candidate} must be an A/B run "
            f"(benchsuite compare), and {error}; name a --baseline to gate a plain run"
        ) from None
    if len(side.run_ids) != 1 or not is_ab_run(store, side.run_ids[0]):
        raise UsageError(
            f"--candidate {candidate}: not an A/B run (benchsuite compare); name a --baseline "
            "to gate a plain run against earlier ones"
        )
    return gate_ab(store, side.run_ids[0], rules)


def _scope_of_side(store: ResultStore, side: Side) -> RunScope:
    """The scope the baseline is counted in: the candidate's run's (a pinned file of rows has
    no manifest: then only its hardware)."""
    if len(side.run_ids) == 1:
        return scope_of_run(store, side.run_ids[0])
    return RunScope(hardware_ids=frozenset(side.rows["env_hardware_id"].dropna().astype(str)))
