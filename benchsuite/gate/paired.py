"""The gate of an A/B run (``benchsuite compare``): the verdict on the candidate/baseline
ratios that the run paired round by round (or run by run), with no store history.

The rules are the gate's own (:mod:`benchsuite.gate.rules`): the allowance of
``latency_p50_ms`` applies to the latency ratio, that of ``energy_per_sample_j`` to the energy
ratio, that of ``accuracy`` to the candidate's accuracy against the baseline's. The three
outcomes are decided as for any interval (:func:`benchsuite.gate.decide.against_allowance`):
all of the ratio's 95 % interval beyond ``1 + allowance`` is a regression, all within a pass,
straddling it inconclusive where the ratio itself is beyond. An unresolved ratio (an interval
wider than the suite's ``ratio_resolution_rel``) is inconclusive unless all of it is beyond the
allowance: a 2.9x slowdown measured as 2.1x to 3.9x is a regression however wide its interval.
An estimated or invalid energy figure and a failed case are inconclusive with the reason.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from benchsuite.case import Case
from benchsuite.gate.decide import (
    INCONCLUSIVE,
    CaseVerdict,
    GateResult,
    MetricVerdict,
    against_allowance,
    compare_direct,
)
from benchsuite.gate.rules import Allowance, Rules
from benchsuite.store.runs import ResultStore
from benchsuite.store.schema import Status

PAIRED = (("latency_p50_ms", "ab_latency_ratio"), ("energy_per_sample_j", "ab_energy_ratio"))
"""Each gated metric and the A/B ratio column that stands for it."""


def is_ab_run(store: ResultStore, run_id: str) -> bool:
    """``run_id`` was made by ``benchsuite compare`` (its manifest names both arms)."""
    return bool(store.manifest(run_id).get("ab"))


def gate_ab(store: ResultStore, run_id: str, rules: Rules) -> GateResult:
    """The verdict of the A/B run ``run_id``: every case measured in both arms, decided on its
    paired ratios; the cases of one arm only are listed as not compared."""
    arms = store.manifest(run_id)["ab"]
    rows = store.read_cases([run_id])
    cases, unmatched = [], []
    for _, row in rows.sort_values("case_id").iterrows():
        case_id = str(row["case_id"])
        if row["status"] == Status.SKIPPED and str(row["error"]).startswith("only in"):
            unmatched.append(f"{case_id}: {row['error']}")
            continue
        cases.append(_case_verdict(case_id, row, rules))
    baseline = _describe(arms.get("baseline", {}))
    candidate = f"{run_id} (A/B: {_describe(arms.get('candidate', {}))})"
    return GateResult(baseline, candidate, rules.source, cases, unmatched)


def _describe(arm: dict) -> str:
    what = arm.get("ref") or arm.get("root") or "?"
    return f"{what} ({arm['commit'][:10]})" if arm.get("commit") else str(what)


def _case_verdict(case_id: str, row: pd.Series, rules: Rules) -> CaseVerdict:
    verdict = CaseVerdict(case_id)
    case = Case.from_id(case_id)
    if row["status"] != Status.OK:
        verdict.metrics.append(
            MetricVerdict(
                case_id,
                "ab",
                INCONCLUSIVE,
                f"case {row['status']}: {row['error']}",
                "n/a",
            )
        )
        return verdict
    for metric, column in PAIRED:
        if metric not in rules.metrics:
            continue
        allowance = rules.allowance(case, metric)
        verdict.metrics.append(_ratio_verdict(case_id, metric, column, allowance, row))
    if "accuracy" in rules.metrics and _known(row.get("accuracy")):
        verdict.metrics.append(
            compare_direct(
                case_id,
                "accuracy",
                rules.allowance(case, "accuracy"),
                row.get("ab_baseline_accuracy"),
                row.get("accuracy"),
            )
        )
    return verdict


def _known(value: Any) -> bool:
    return value is not None and not pd.isna(value)


def _ratio_verdict(
    case_id: str, metric: str, column: str, allowance: Allowance, row: pd.Series
) -> MetricVerdict:
    """One paired ratio against its metric's allowance."""
    described = allowance.describe()
    name = f"{metric} (A/B ratio)"
    ratio, low, high = (row.get(column), row.get(f"{column}_low"), row.get(f"{column}_high"))
    if not all(_known(value) for value in (ratio, low, high)):
        return MetricVerdict(case_id, name, INCONCLUSIVE, "no paired ratio was measured", described)
    if metric.startswith("energy"):
        problem = _unusable_energy(row)
        if problem:
            return MetricVerdict(case_id, name, INCONCLUSIVE, problem, described)
    ratio, low, high = float(row[column]), float(row[f"{column}_low"]), float(row[f"{column}_high"])
    change = ratio - 1.0
    worse = (ratio - 1.0, low - 1.0, high - 1.0)
    if not allowance.lower_is_better:
        worse = (1.0 - ratio, 1.0 - high, 1.0 - low)
    limit = allowance.relative if allowance.relative is not None else 0.0
    unresolved = bool(_known(row.get(f"{column}_resolved")) and not row.get(f"{column}_resolved"))
    if unresolved and min(worse[1:]) <= limit:  # wide, and not wholly beyond the allowance
        return MetricVerdict(
            case_id,
            name,
            INCONCLUSIVE,
            f"paired ratio {ratio:.4g} is unresolved (its interval {low:.4g} to {high:.4g} is "
            "wider than the suite's ratio_resolution_rel): more processes, or a quieter machine",
            described,
            1.0,
            ratio,
            change,
        )
    text = (
        f"candidate / baseline {ratio:.4f} (95% CI {low:.4f} to {high:.4f}, {row.get('ab_pairs')}"
        f" pairs): {worse[0] * 100:+.1f} % worse, allowance {described}"
        + ("; the interval is wide, but all of it is beyond the allowance" if unresolved else "")
    )
    verdict, text = against_allowance(min(worse[1:]), max(worse[1:]), worse[0], limit, text)
    return MetricVerdict(
        case_id,
        name,
        verdict,
        text,
        described,
        1.0,
        ratio,
        change,
        (low - 1.0, high - 1.0),
        point_beyond=worse[0] > limit,
    )


def _unusable_energy(row: pd.Series) -> str:
    """Why the row's energy cannot gate, or an empty string."""
    if row.get("energy_kind") != "measured":
        return (
            f"energy is {row.get('energy_kind') or 'missing'} ({row.get('energy_source')}) on "
            "both arms: an estimate cannot gate"
        )
    if row.get("energy_valid") is False:
        return f"energy invalid: {row.get('energy_invalid_reason')}"
    return ""
