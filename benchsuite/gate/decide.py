"""The decision: per case and metric, ``pass``, ``regression`` or ``inconclusive``, with why.

Latency and energy are decided on the raw samples. Each side's median gets a distribution-free
order-statistic confidence interval at 97.47 % (√0.95), so the interval of the ratio of medians,
``[cand_low / base_high, cand_high / base_low]``, covers the true ratio with at least 95 %
probability without assuming any distribution (latency is skewed and heavy-tailed; a t-test's
normality does not hold, and a bootstrap of 30,000 samples per side is slow and random). Then:

* the whole interval lies beyond the allowance → ``regression`` (shown with confidence);
* the whole interval lies within the allowance → ``pass``;
* the interval straddles the allowance: if the point estimate is beyond it → ``inconclusive``
  (too noisy to tell), else ``pass`` (the best estimate is within the allowance).

Accuracy comes from a fixed held-out set and peak memory is a single high-water mark, so they are
compared directly against their allowance. A baseline of three runs or more leaves out the runs
that were off their own history (see ``steady_baseline``). Estimated or invalid energy, a failed
or skipped case, or too few samples are ``inconclusive`` with the reason: never a silent pass or
fail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from benchsuite.case import Case
from benchsuite.errors import UsageError
from benchsuite.gate.rules import Allowance, Rules
from benchsuite.gate.select import RunSamples, Side
from benchsuite.instruments.stats import median_interval
from benchsuite.scenarios import Metric, RawSamples, get_scenario, known_metrics
from benchsuite.store.history import RunScope
from benchsuite.store.schema import Status

PASS, REGRESSION, INCONCLUSIVE = "pass", "regression", "inconclusive"
NO_BASELINE = "no-baseline"
"""The verdict of a candidate with no earlier run like it: nothing to compare, exit 0."""
_SEVERITY = {PASS: 0, INCONCLUSIVE: 1, REGRESSION: 2}
PER_SIDE_CONFIDENCE = math.sqrt(0.95)
MIN_SAMPLES = 6
MIN_DISTURBED_REL = 0.02  # a baseline run is never called disturbed for less than this
RUN_BLOCKS = 16  # a regression must show in the best sixteenth of the candidate run, too
MIN_BLOCK_SAMPLES = 10


@dataclass(frozen=True)
class MetricVerdict:
    case_id: str
    metric: str
    verdict: str
    reason: str
    allowance: str
    baseline: float | None = None
    candidate: float | None = None
    change: float | None = None  # relative (fraction) or absolute, as the allowance
    interval: tuple[float, float] | None = None
    point_beyond: bool = False  # the best estimate is beyond the allowance (interval aside)


@dataclass
class CaseVerdict:
    case_id: str
    metrics: list[MetricVerdict] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        if not self.metrics:
            return INCONCLUSIVE
        return max((m.verdict for m in self.metrics), key=_SEVERITY.__getitem__)


@dataclass
class GateResult:
    baseline: str
    candidate: str
    rules_source: str
    cases: list[CaseVerdict]
    unmatched: list[str]
    trends: list[dict[str, Any]] = field(default_factory=list)
    confirmed_by: str | None = None  # the re-run a regression had to repeat in (--confirm)
    notice: str | None = None  # why nothing was compared (a first run): the verdict is then
    # NO_BASELINE, which passes

    def count(self, verdict: str) -> int:
        return sum(1 for case in self.cases if case.verdict == verdict)

    @property
    def verdict(self) -> str:
        if self.notice is not None:
            return NO_BASELINE
        if self.count(REGRESSION):
            return REGRESSION
        if self.count(INCONCLUSIVE) or not self.cases:
            return INCONCLUSIVE
        return PASS


def _worse_fraction(allowance: Allowance, ratio: float) -> float:
    """Relative worsening for a ratio candidate/baseline (positive is worse)."""
    return ratio - 1.0 if allowance.lower_is_better else 1.0 - ratio


def _pooled(runs: RunSamples | None) -> np.ndarray | None:
    return np.concatenate(list(runs.values())) if runs else None


def steady_baseline(
    runs: RunSamples, limit: float, lower_is_better: bool = True
) -> tuple[np.ndarray | None, str]:
    """A multi-run baseline's samples, pooled, without the runs that a busy machine disturbed.

    On a shared machine a whole run is sometimes far slower, in bursts, so that several of a
    rolling baseline's runs can be hit (docs/gate.md measures how often). Pooled into a
    ``rolling:N`` baseline, such runs drag its median up and hide a regression. Undisturbed runs
    agree closely, while disturbed ones scatter, so with three runs or more the baseline keeps
    the largest group of runs whose medians lie within the allowance (at least 2 %) of one
    another, and names the others in the reason. Between equally
    large groups the better one wins: a busy machine only ever adds time, so the faster level is
    the code's.
    When no two runs agree the baseline is ``None``: there is no reference to gate against."""
    if len(runs) < 3:
        return _pooled(runs), ""
    medians = {run: float(np.median(values)) for run, values in runs.items()}
    width = max(limit, MIN_DISTURBED_REL)
    ordered = sorted(medians.values(), reverse=not lower_is_better)
    best: list[str] = []
    for start in ordered:  # the window [start, start * (1 + width)], from the better end
        low, high = sorted((start, start * (1 + width) if lower_is_better else start / (1 + width)))
        group = [run for run, median in medians.items() if low <= median <= high]
        if len(group) > len(best):
            best = group
    left_out = {run: median for run, median in medians.items() if run not in best}
    if len(best) < 2:
        return None, f" (no two of the {len(runs)} runs' medians within {width * 100:.0f} %)"
    if not left_out:
        return _pooled(runs), ""
    centre = float(np.median([medians[run] for run in best]))
    listed = ", ".join(f"{run} {(m / centre - 1) * 100:+.0f} %" for run, m in left_out.items())
    note = (
        f"; baseline: {len(left_out)} of {len(runs)} runs left out as disturbed, off the "
        f"{len(best)} that agree within {width * 100:.0f} % ({listed})"
    )
    return _pooled({run: runs[run] for run in best}), note


def _sampled(
    case_id: str,
    metric: str,
    allowance: Allowance,
    base_runs: RunSamples | None,
    cand_runs: RunSamples | None,
    base_point: Any,
) -> MetricVerdict:
    described = allowance.describe()
    limit = allowance.relative if allowance.relative is not None else 0.0
    base, baseline_note = (
        steady_baseline(base_runs, limit, allowance.lower_is_better) if base_runs else (None, "")
    )
    cand = _pooled(cand_runs)
    if base_runs and base is None:
        return MetricVerdict(
            case_id,
            metric,
            INCONCLUSIVE,
            "the baseline runs disagree among themselves" + baseline_note,
            described,
        )
    if cand is None or len(cand) < MIN_SAMPLES:
        return MetricVerdict(
            case_id,
            metric,
            INCONCLUSIVE,
            f"candidate has {0 if cand is None else len(cand)} samples; "
            f"at least {MIN_SAMPLES} are needed",
            described,
        )
    candidate = median_interval(cand, PER_SIDE_CONFIDENCE)
    if base is not None and len(base) >= MIN_SAMPLES:
        baseline = median_interval(base, PER_SIDE_CONFIDENCE)
        base_median, base_low, base_high = baseline.median, baseline.low, baseline.high
    elif base_point is not None and not pd.isna(base_point):
        # a pinned baseline without raw samples: its median is taken as exact
        base_median = base_low = base_high = float(base_point)
    else:
        return MetricVerdict(case_id, metric, INCONCLUSIVE, "baseline has no samples", described)
    if base_low <= 0 or candidate.low <= 0:
        return MetricVerdict(
            case_id, metric, INCONCLUSIVE, "a median interval reaches zero", described
        )
    ratio = candidate.median / base_median
    low, high = candidate.low / base_high, candidate.high / base_low
    worse_point = _worse_fraction(allowance, ratio)
    worse_low = min(_worse_fraction(allowance, low), _worse_fraction(allowance, high))
    worse_high = max(_worse_fraction(allowance, low), _worse_fraction(allowance, high))
    text = (
        f"median {worse_point * 100:+.1f} % worse (95 % CI {worse_low * 100:+.1f} to "
        f"{worse_high * 100:+.1f} %), allowance {described}{baseline_note}"
    )
    best_block = _best_block_worse(cand, base_median, allowance)
    slowed_partway = False
    if best_block is not None and worse_point > limit and best_block <= limit:
        slowed_partway = True
        verdict, text = (
            INCONCLUSIVE,
            f"{text}; but the best sixteenth of the candidate run is at most "
            f"{best_block * 100:+.1f} %: the run was slowed partway (a busy machine, not the "
            "code); re-run",
        )
    else:
        verdict, text = against_allowance(worse_low, worse_high, worse_point, limit, text)
    return MetricVerdict(
        case_id,
        metric,
        verdict,
        text,
        described,
        base_median,
        candidate.median,
        ratio - 1.0,
        (low - 1.0, high - 1.0),
        point_beyond=worse_point > limit and not slowed_partway,
    )


def against_allowance(
    worse_low: float, worse_high: float, worse_point: float, limit: float, text: str
) -> tuple[str, str]:
    """The verdict of a change's interval against its allowance: all of it beyond is a
    regression, all within a pass; straddling, the point estimate decides between pass and
    inconclusive (said in ``text``)."""
    if worse_low > limit:
        return REGRESSION, text
    if worse_high <= limit or worse_point <= limit:
        return PASS, text
    return INCONCLUSIVE, text + ": beyond the allowance but within noise"


def _best_block_worse(cand: np.ndarray, base_median: float, allowance: Allowance) -> float | None:
    """How much worse than the baseline the best of the candidate's sixteen consecutive blocks is
    at most (the far end of that block median's confidence interval, so noise alone is not read
    as a better stretch).

    A busy machine only ever adds time, and on a shared VM it often starts or stops in the middle
    of a run (docs/gate.md). Slower code is slower in
    every part of the run; so a regression with a block shown to be within the allowance is the
    machine's, not the code's. ``None`` when the run is too short to split."""
    if len(cand) < RUN_BLOCKS * MIN_BLOCK_SAMPLES:
        return None
    worst_case = []
    for block in np.array_split(cand, RUN_BLOCKS):
        interval = median_interval(block, PER_SIDE_CONFIDENCE)
        far_end = interval.high if allowance.lower_is_better else interval.low
        worst_case.append(_worse_fraction(allowance, far_end / base_median))
    return min(worst_case)


def compare_direct(
    case_id: str,
    metric: str,
    allowance: Allowance,
    base: Any,
    cand: Any,
) -> MetricVerdict:
    """A figure compared directly with its allowance, without an interval: accuracy from a
    fixed held-out set, peak memory's one high-water mark."""
    described = allowance.describe()
    if base is None or cand is None or pd.isna(base) or pd.isna(cand):
        return MetricVerdict(
            case_id, metric, PASS, "not measured on both sides (not applicable)", described
        )
    base, cand = float(base), float(cand)
    if allowance.absolute is not None:
        worse = (cand - base) if allowance.lower_is_better else (base - cand)
        limit, text = allowance.absolute, f"{worse:+.4g} worse, allowance {described}"
        change = cand - base
    else:
        if base == 0:
            return MetricVerdict(case_id, metric, INCONCLUSIVE, "baseline is zero", described)
        worse = _worse_fraction(allowance, cand / base)
        limit, text = (
            allowance.relative or 0.0,
            f"{worse * 100:+.1f} % worse, allowance {described}",
        )
        change = cand / base - 1.0
    verdict = REGRESSION if worse > limit else PASS
    return MetricVerdict(
        case_id, metric, verdict, text, described, base, cand, change, point_beyond=worse > limit
    )


def _intervals(
    case_id: str,
    metric: str,
    allowance: Allowance,
    base_row: pd.Series,
    cand_row: pd.Series,
    interval: tuple[str, str],
) -> MetricVerdict:
    """Compare a value that comes with its interval on each side (a paired ratio to fp32):
    the change's interval is ``[cand_low / base_high, cand_high / base_low]``, then decided as
    raw samples are. Each side's interval is 95 %, so this one covers at least 90 %."""
    described = allowance.describe()
    values: list[list[float]] = []
    for row in (base_row, cand_row):
        figures = [row.get(metric), row.get(interval[0]), row.get(interval[1])]
        known = [float(value) for value in figures if value is not None and not pd.isna(value)]
        if len(known) < len(figures):
            return MetricVerdict(
                case_id, metric, PASS, "not measured on both sides (not applicable)", described
            )
        values.append(known)
    (base, base_low, base_high), (cand, cand_low, cand_high) = values
    unresolved = [
        side
        for side, row in (("baseline", base_row), ("candidate", cand_row))
        if _unresolved(row, metric)
    ]
    if unresolved:
        return MetricVerdict(
            case_id,
            metric,
            INCONCLUSIVE,
            f"the {' and the '.join(unresolved)}'s paired ratio is unresolved (its interval over "
            "processes is wider than the suite's ratio_resolution_rel): more processes "
            "(repeats), or a quieter machine",
            described,
            base,
            cand,
            cand / base - 1.0,
        )
    if base_low <= 0 or cand_low <= 0:
        return MetricVerdict(case_id, metric, INCONCLUSIVE, "an interval reaches zero", described)
    limit = allowance.relative if allowance.relative is not None else 0.0
    ratio, low, high = cand / base, cand_low / base_high, cand_high / base_low
    worse_point = _worse_fraction(allowance, ratio)
    ends = (_worse_fraction(allowance, low), _worse_fraction(allowance, high))
    text = (
        f"paired ratio {base:.4g} -> {cand:.4g}: {worse_point * 100:+.1f} % worse (CI "
        f"{min(ends) * 100:+.1f} to {max(ends) * 100:+.1f} %), allowance {described}"
    )
    verdict, text = against_allowance(min(ends), max(ends), worse_point, limit, text)
    return MetricVerdict(
        case_id,
        metric,
        verdict,
        text,
        described,
        base,
        cand,
        ratio - 1.0,
        (low - 1.0, high - 1.0),
        point_beyond=worse_point > limit,
    )


def _unresolved(row: pd.Series, metric: str) -> bool:
    """The row says its paired ratio ``metric`` is unresolved (rows from before the flag: no)."""
    flag = row.get(f"{metric}_resolved")
    return flag is not None and not pd.isna(flag) and not bool(flag)


def _declared_metrics(row: pd.Series) -> tuple[Metric, ...]:
    """The metrics the row's scenario declares; every known metric for a scenario this process
    has not registered (a plug-in's rows read without the plug-in)."""
    try:
        return get_scenario(str(row.get("scenario"))).metrics
    except UsageError:
        return tuple(known_metrics().values())


def compare_case(
    case_id: str,
    base_row: pd.Series,
    cand_row: pd.Series,
    baseline: Side,
    candidate: Side,
    rules: Rules,
) -> CaseVerdict:
    result = CaseVerdict(case_id)
    case = Case.from_id(case_id) if case_id.count("/") >= 4 else None
    for metric in _declared_metrics(cand_row):
        if metric.column not in rules.metrics:
            continue  # the rules do not gate it
        column = metric.column
        allowance = rules.allowance(case, column) if case else rules.metrics[column]
        for side, row in (("baseline", base_row), ("candidate", cand_row)):
            if row["status"] != Status.OK:
                result.metrics.append(
                    MetricVerdict(
                        case_id,
                        column,
                        INCONCLUSIVE,
                        f"{side} case {row['status']}: {row['error']}",
                        allowance.describe(),
                    )
                )
                break
        else:
            result.metrics.append(
                _metric(case_id, metric, allowance, base_row, cand_row, baseline, candidate)
            )
    return result


_POINT_TO_SAMPLE_UNIT = {RawSamples.LATENCY: 1e6, RawSamples.ENERGY: 1.0}
"""From the row's column (latency in ms) to the raw samples' unit (ns), per kind of raw data."""


def _unusable_energy(base_row: pd.Series, cand_row: pd.Series) -> str:
    """Why the energy of either side cannot gate, or an empty string."""
    for side, row in (("baseline", base_row), ("candidate", cand_row)):
        if row.get("energy_kind") != "measured":
            return (
                f"{side} energy is {row.get('energy_kind') or 'missing'} "
                f"({row.get('energy_source')}): an estimate cannot gate"
            )
        if row.get("energy_valid") is False:
            return f"{side} energy invalid: {row.get('energy_invalid_reason')}"
    return ""


def _metric(
    case_id: str,
    metric: Metric,
    allowance: Allowance,
    base_row: pd.Series,
    cand_row: pd.Series,
    baseline: Side,
    candidate: Side,
) -> MetricVerdict:
    """One metric's verdict, decided on raw samples when the metric has them."""
    column = metric.column
    if metric.needs_measured_energy:
        problem = _unusable_energy(base_row, cand_row)
        if problem:
            return MetricVerdict(case_id, column, INCONCLUSIVE, problem, allowance.describe())
    if metric.interval is not None:
        return _intervals(case_id, column, allowance, base_row, cand_row, metric.interval)
    if metric.raw_samples is None:
        return compare_direct(
            case_id, column, allowance, base_row.get(column), cand_row.get(column)
        )
    point = base_row.get(column)
    scale = _POINT_TO_SAMPLE_UNIT[metric.raw_samples]
    return _sampled(
        case_id,
        column,
        allowance,
        getattr(baseline, metric.raw_samples.value).get(case_id),
        getattr(candidate, metric.raw_samples.value).get(case_id),
        None if point is None or pd.isna(point) else float(point) * scale,
    )


def compare(baseline: Side, candidate: Side, rules: Rules) -> GateResult:
    """Like with like: the same case id on the same hardware id; everything else is listed."""

    def keyed(side: Side) -> dict[tuple[str, str], pd.Series]:
        latest = side.rows.sort_values("run_id").groupby(["case_id", "env_hardware_id"]).tail(1)
        return {(str(r["case_id"]), str(r["env_hardware_id"])): r for _, r in latest.iterrows()}

    base_rows, cand_rows = keyed(baseline), keyed(candidate)
    both = [key for key in cand_rows if key in base_rows]
    skipped = [
        key
        for key in both
        if base_rows[key]["status"] == Status.SKIPPED and cand_rows[key]["status"] == Status.SKIPPED
    ]
    cases = [
        compare_case(key[0], base_rows[key], cand_rows[key], baseline, candidate, rules)
        for key in both
        if key not in skipped
    ]
    unmatched = [
        f"only in candidate: {c} (hardware {hw})" for c, hw in cand_rows if (c, hw) not in base_rows
    ]
    unmatched += [
        f"only in baseline: {c} (hardware {hw})" for c, hw in base_rows if (c, hw) not in cand_rows
    ]
    unmatched += [f"skipped on both sides: {key[0]} ({cand_rows[key]['error']})" for key in skipped]
    unmatched += list(dict.fromkeys([*baseline.left_out, *candidate.left_out]))
    return GateResult(baseline.label, candidate.label, rules.source, cases, unmatched)


def confirm_regressions(result: GateResult, again: GateResult, label: str) -> GateResult:
    """Keep a regression only where the re-run (``again``, the same baseline against a second
    candidate run of the same code) is also worse than the allowance on the same case and
    metric, by its best estimate (its interval may straddle: the first run already showed the
    regression with confidence; the re-run only has to rule out a one-run disturbance).
    Elsewhere the regression becomes ``inconclusive`` with both figures. On a shared machine a
    whole run is sometimes disturbed (docs/gate.md measures how often);
    a regression of the code repeats in the re-run, a disturbance rarely does."""
    repeated = {(m.case_id, m.metric): m for case in again.cases for m in case.metrics}
    for case in result.cases:
        for index, metric in enumerate(case.metrics):
            if metric.verdict != REGRESSION:
                continue
            other = repeated.get((metric.case_id, metric.metric))
            if other is not None and other.point_beyond:
                reason = f"{metric.reason}; repeated in {label}: {other.reason}"
                case.metrics[index] = replace(metric, reason=reason)
                continue
            seen = f"{other.verdict}, {other.reason}" if other else "the case is missing there"
            reason = (
                f"{metric.reason}; not repeated in {label} ({seen}): "
                "a disturbed run or a flaky case"
            )
            case.metrics[index] = replace(metric, verdict=INCONCLUSIVE, reason=reason)
    result.confirmed_by = f"{result.confirmed_by}, {label}" if result.confirmed_by else label
    return result


def first_run(
    baseline: str, candidate: Side, rules_source: str, scope: RunScope, why: str
) -> GateResult:
    """The result for a candidate with no history like it yet: a notice that passes. A nightly
    job's first night, or its first after the store was emptied, must not go red."""
    hardware = ", ".join(sorted(scope.hardware_ids or ())) or "unknown"
    notice = (
        f"first run on this hardware: nothing to compare (hardware {hardware}"
        + (f", suite {scope.suite}" if scope.suite else "")
        + (f", branch {scope.branch}" if scope.branch else "")
        + (f", shard {scope.shard}" if scope.shard else "")
        + f"; {why}). This run is the baseline from now on."
    )
    return GateResult(baseline, candidate.label, rules_source, [], [], notice=notice)
