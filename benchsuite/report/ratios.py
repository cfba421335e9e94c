"""A variant's figure over fp32's, as the report states it: the paired per-round ratio where the
run measured the two in the same rounds (:mod:`benchsuite.run.comparison`), else the ratio of the
two figures."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Row = Mapping[str, Any]

PAIRED_RATIOS = {"latency_p50_ms": "latency_ratio", "energy_per_sample_j": "energy_ratio"}
"""The figures whose ratio to fp32 a row may carry paired round by round (see
:mod:`benchsuite.run.comparison`): free of the drift between two cases measured minutes apart."""


def paired_ratio(row: Row, baseline: Row, column: str) -> float | None:
    """``row``'s paired per-round ratio of ``column`` to ``baseline``, when the two were
    measured in the same rounds of one run; else ``None``."""
    paired = PAIRED_RATIOS.get(column)
    if paired is None or row.get(paired) is None:
        return None
    same_rounds = row.get("comparison_reference") == baseline.get("case_id") and row.get(
        "run_id"
    ) == baseline.get("run_id")
    return float(row[paired]) if same_rounds else None


RESOLVED_FLAGS = {
    "latency_p50_ms": "latency_ratio_resolved",
    "energy_per_sample_j": "energy_ratio_resolved",
}
"""Whether a paired ratio's interval over processes is narrow enough to state it as a figure."""


def unresolved(row: Row, baseline: Row | None, column: str) -> bool:
    """``row``'s paired ratio of ``column`` to ``baseline`` is one the run flagged unresolved:
    the report gives no precise-looking figure for it (older rows, without the flag: no)."""
    if baseline is None or paired_ratio(row, baseline, column) is None:
        return False
    return row.get(RESOLVED_FLAGS[column]) is False


def ratio_to_baseline(row: Row, baseline: Row, column: str) -> float | None:
    """``row``'s ``column`` over the baseline's: the paired ratio where there is one, else the
    ratio of the two figures."""
    paired = paired_ratio(row, baseline, column)
    if paired is not None:
        return paired
    value, reference = row.get(column), baseline.get(column)
    if value is None or reference in (None, 0):
        return None
    return float(value) / float(reference)
