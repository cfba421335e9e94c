"""The checks every energy window passes, whatever its source: a figure that fails one is
invalid with the reason, never a silent zero, and the gate never decides on it.

Per window (:func:`window_problems`):

* **coverage**: the share of the window its samples covered (a polled source), at least
  :data:`MIN_COVERAGE`;
* **the largest gap** between samples, at most :data:`MAX_GAP_PERIODS` sampling periods;
* **a counter against its integrated power**, where a source has both, within
  :data:`COUNTER_POWER_TOLERANCE_REL` (windows of at least :data:`AGREEMENT_MIN_S`: a sensor
  that averages over a second cannot agree with a counter over less);
* **a counter that did not move** while work ran, over ten of its update periods or more (the
  AMD counter read 0-2 W under load on an MI325X; CodeCarbon reported 0 kWh on GPUs without a
  counter);
* **power above what the parts can draw**: the source's own limit where it states one (a GPU's
  power cap, a power supply's rating).
"""

from __future__ import annotations

from dataclasses import dataclass

from benchsuite.instruments.meters.polling import PolledWindow

MIN_COVERAGE = 0.9
MAX_GAP_PERIODS = 3.0
COUNTER_POWER_TOLERANCE_REL = 0.15
AGREEMENT_MIN_S = 2.0
FROZEN_MIN_PERIODS = 10


@dataclass(frozen=True)
class WindowFacts:
    """What one source saw in one window, for the checks."""

    source: str
    duration_s: float
    energy_j: float
    period_s: float
    """The source's sampling or update period."""
    polled: PolledWindow | None = None
    """The samples, for a polled source (or the power polled beside a counter)."""
    counter_j: float | None = None
    """The counter's own figure, where the source has a counter."""
    max_power_w: float | None = None
    """The most the parts this source reads can draw, where the source says."""


def window_problems(facts: WindowFacts) -> list[str]:
    """Every check ``facts`` fails, each as a reason naming the source and the figures."""
    problems = []
    polled = facts.polled
    if polled is not None and facts.counter_j is None:
        if polled.coverage < MIN_COVERAGE:
            problems.append(
                f"{facts.source}: samples covered {polled.coverage:.0%} of the window (at least "
                f"{MIN_COVERAGE:.0%}; {polled.failed_reads} reads failed)"
            )
        if polled.max_gap_s > MAX_GAP_PERIODS * facts.period_s:
            problems.append(
                f"{facts.source}: a gap of {polled.max_gap_s:.3g} s between samples (sampling "
                f"every {facts.period_s:g} s; at most {MAX_GAP_PERIODS:g} periods)"
            )
    if facts.counter_j is not None:
        if facts.counter_j == 0 and facts.duration_s >= FROZEN_MIN_PERIODS * facts.period_s:
            problems.append(
                f"{facts.source}: the energy counter did not move over {facts.duration_s:.3g} s "
                "(a frozen or unsupported counter)"
            )
        elif polled is not None and facts.duration_s >= AGREEMENT_MIN_S and polled.energy_j > 0:
            off = facts.counter_j / polled.energy_j - 1
            if abs(off) > COUNTER_POWER_TOLERANCE_REL:
                problems.append(
                    f"{facts.source}: the energy counter ({facts.counter_j:.4g} J) and the "
                    f"integrated power ({polled.energy_j:.4g} J) disagree by {off:+.0%} (at most "
                    f"±{COUNTER_POWER_TOLERANCE_REL:.0%})"
                )
    if facts.max_power_w is not None and facts.duration_s > 0:
        average = facts.energy_j / facts.duration_s
        peak = polled.peak_w if polled is not None and facts.counter_j is None else average
        if max(average, peak) > facts.max_power_w:
            problems.append(
                f"{facts.source}: {max(average, peak):.4g} W is above what its parts can draw "
                f"({facts.max_power_w:.4g} W)"
            )
    return problems
