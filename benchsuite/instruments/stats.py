"""Summary statistics of raw samples, and the distribution-free confidence interval of a median.

The interval of the median comes from order statistics: with ``n`` samples, the number that fall
below the true median is Binomial(n, 1/2), so the pair of order statistics ``x(j), x(n-j+1)``
brackets the median with probability ``1 - 2 P(B < j)``. No assumption on the shape of the
distribution is needed, which matters for latency (skewed, heavy right tail).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

_EXACT_BINOMIAL_MAX_N = 1000


def median_ci_ranks(n: int, confidence: float = 0.95) -> tuple[int, int] | None:
    """0-based ranks ``(lo, hi)`` of the order statistics that bound the median's interval.

    Returns ``None`` when ``n`` is too small for any pair of order statistics to reach the
    requested confidence (for 95 % that is ``n < 6``).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    alpha_half = (1.0 - confidence) / 2.0
    if n > _EXACT_BINOMIAL_MAX_N:
        z = NormalDist().inv_cdf(1.0 - alpha_half)
        j = math.floor(n / 2.0 - z * math.sqrt(n) / 2.0)
        return max(j - 1, 0), min(n - j, n - 1)
    # exact: largest j (1-based) with P(B <= j - 1) <= alpha/2, B ~ Binomial(n, 1/2)
    log_half_n = n * math.log(0.5)
    cumulative = 0.0
    j = 0
    for k in range(n):
        log_pmf = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + log_half_n
        cumulative += math.exp(log_pmf)
        if cumulative > alpha_half:
            break
        j = k + 1
    if j < 1:
        return None
    return j - 1, n - j


@dataclass(frozen=True)
class MedianInterval:
    """A median with its confidence interval, in the samples' own unit."""

    median: float
    low: float
    high: float
    confidence: float

    @property
    def half_width_rel(self) -> float:
        """The larger distance from the median to an end, relative to the median."""
        if self.median == 0:
            return math.inf
        return max(self.median - self.low, self.high - self.median) / abs(self.median)


def median_interval(
    samples: Sequence[float] | np.ndarray, confidence: float = 0.95
) -> MedianInterval:
    """Median and its distribution-free confidence interval.

    With too few samples for the requested confidence the interval is the full range and
    ``half_width_rel`` is infinite, so a stopping rule can never be met by accident.
    """
    ordered = np.sort(np.asarray(samples, dtype=float))
    n = ordered.size
    if n == 0:
        raise ValueError("no samples")
    median = float(np.median(ordered))
    ranks = median_ci_ranks(n, confidence)
    if ranks is None:
        return MedianInterval(median, -math.inf, math.inf, confidence)
    lo, hi = ranks
    return MedianInterval(median, float(ordered[lo]), float(ordered[hi]), confidence)


@dataclass(frozen=True)
class Summary:
    """Descriptive statistics of one sample set, in the samples' own unit."""

    count: int
    median: MedianInterval
    p90: float
    p99: float
    mean: float
    std: float
    iqr: float
    minimum: float
    maximum: float

    @property
    def iqr_over_median(self) -> float:
        return self.iqr / self.median.median if self.median.median else math.inf


def summarize(samples: Sequence[float] | np.ndarray, confidence: float = 0.95) -> Summary:
    """p50 (with CI), p90, p99, mean, sample standard deviation, IQR, min and max."""
    values = np.asarray(samples, dtype=float)
    if values.size == 0:
        raise ValueError("no samples")
    q25, q75, p90, p99 = np.percentile(values, [25, 75, 90, 99])
    return Summary(
        count=int(values.size),
        median=median_interval(values, confidence),
        p90=float(p90),
        p99=float(p99),
        mean=float(values.mean()),
        std=float(values.std(ddof=1)) if values.size > 1 else 0.0,
        iqr=float(q75 - q25),
        minimum=float(values.min()),
        maximum=float(values.max()),
    )


@dataclass(frozen=True)
class ProcessInterval:
    """A figure measured in several processes: its centre (the geometric mean of the processes'
    own figures) and a Student-t interval over them, on the log scale (ratios and times are
    multiplicative), with ``processes - 1`` degrees of freedom.

    The process is the unit of repetition: what one process happens to get (its memory layout,
    its core's state, the machine's mood during its minute) is shared by all its rounds, so an
    interval over rounds alone says nothing about the next run. With one process there is no
    spread to estimate: the interval is infinite, never a precise-looking number.
    """

    centre: float
    low: float
    high: float
    processes: int
    confidence: float

    @property
    def half_width_rel(self) -> float:
        """The larger distance from the centre to an end, relative to the centre."""
        if not self.centre > 0:
            return math.inf
        return max(self.centre - self.low, self.high - self.centre) / self.centre

    @property
    def method(self) -> str:
        return (
            f"{self.confidence:.0%} t-interval over {self.processes} processes' own figures "
            f"({self.processes - 1} degrees of freedom, log scale)"
        )


def process_interval(
    per_process: Sequence[float], confidence: float = 0.95, floor_rel: float = 0.0
) -> ProcessInterval:
    """:class:`ProcessInterval` of ``per_process``, one positive figure per process; with
    ``floor_rel``, a movement between runs that the processes of one run share (and so cannot
    show) is added to the half-width in quadrature, on the log scale."""
    from scipy.stats import t  # scikit-learn's dependency; imported when a group is pooled

    given = np.asarray(per_process, dtype=float)
    values = given[np.isfinite(given) & (given > 0)]  # a process without a figure gives none
    if values.size == 0:
        raise ValueError(f"no process gave a positive figure: {list(given)}")
    logs = np.log(values)
    centre = float(np.exp(logs.mean()))
    if values.size < 2:
        return ProcessInterval(centre, 0.0, math.inf, 1, confidence)
    half = float(t.ppf(0.5 + confidence / 2, values.size - 1)) * logs.std(ddof=1)
    half /= math.sqrt(values.size)
    half = math.hypot(half, math.log1p(floor_rel))
    low, high = float(np.exp(logs.mean() - half)), float(np.exp(logs.mean() + half))
    return ProcessInterval(centre, low, high, int(values.size), confidence)
