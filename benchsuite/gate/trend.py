"""Step detection over a nightly history: where did a metric shift, and by how much.

For each case, the per-run medians (oldest to newest) are split in two at the point that best
explains them as two constant levels, by the sum of absolute deviations from each side's median
(robust to single noisy nights; the same L1 idea asv's step detection uses). A split is reported
when it lowers that cost by at least half and the two levels differ by more than the metric's
allowance. A slow creep shows up too: its best split separates the early and late nights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MIN_SIDE = 3
MIN_COST_REDUCTION = 0.5


@dataclass(frozen=True)
class Shift:
    index: int  # first run of the new level
    before: float
    after: float

    @property
    def change(self) -> float:
        return self.after / self.before - 1.0


def _cost(values: np.ndarray) -> float:
    return float(np.abs(values - np.median(values)).sum())


def detect_shift(values: Sequence[float], min_change: float) -> Shift | None:
    series = np.asarray(values, dtype=float)
    if len(series) < 2 * MIN_SIDE:
        return None
    whole = _cost(series)
    best: tuple[float, int] | None = None
    for split in range(MIN_SIDE, len(series) - MIN_SIDE + 1):
        cost = _cost(series[:split]) + _cost(series[split:])
        if best is None or cost < best[0]:
            best = (cost, split)
    assert best is not None
    cost, split = best
    before, after = float(np.median(series[:split])), float(np.median(series[split:]))
    if before <= 0:
        return None
    reduced_enough = whole == 0 or cost <= (1 - MIN_COST_REDUCTION) * whole
    if reduced_enough and abs(after / before - 1.0) > min_change:
        return Shift(split, before, after)
    return None
