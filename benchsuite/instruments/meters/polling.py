"""Power polled in a background thread and integrated: the way to energy for a source that gives
power only (a board's sensor, a BMC, a Jetson rail, a module's power meter).

Every sample keeps its time, so a window knows how much of itself its samples covered and its
largest gap between samples (:mod:`benchsuite.instruments.meters.validity` checks both): a read
that fails or hangs leaves a gap, never a silent zero.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

COVERED_GAP_PERIODS = 1.5
"""A gap up to this many sampling periods is ordinary sampling (a read's own time, the
scheduler's jitter); beyond it, the window is not covered."""


@dataclass(frozen=True)
class PolledWindow:
    """What a polled window saw: the trapezoid integral of its samples, and how well the samples
    covered it."""

    energy_j: float
    """The trapezoid between samples, and the nearest sample's power out to the window's edges."""
    samples: int
    duration_s: float
    coverage: float
    """The share of the window within reach of a sample: 1.0 when no gap between samples (or
    between a sample and the window's edge) was longer than :data:`COVERED_GAP_PERIODS`
    periods; each longer gap takes its excess off."""
    max_gap_s: float
    """The longest time between two consecutive samples (the window's edges count as samples
    only when a read there succeeded)."""
    peak_w: float
    failed_reads: int

    @property
    def average_power_w(self) -> float:
        return self.energy_j / self.duration_s if self.duration_s > 0 else float("nan")


@dataclass
class PowerPoller:
    """Polls ``read_w`` (watts) every ``period_s`` in a thread between :meth:`start` and
    :meth:`stop`, and integrates the trapezoid between samples. A read that raises is counted
    and leaves a gap."""

    read_w: Callable[[], float]
    period_s: float
    clock: Callable[[], int] = time.perf_counter_ns
    name: str = "power-poll"
    points: list[tuple[int, float]] = field(default_factory=list)
    failed_reads: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _started_ns: int = 0

    def _sample(self) -> None:
        """One reading, timed at the middle of the read: a slow source (a BMC over the network,
        a subprocess) answers for some moment during the call."""
        before = self.clock()
        try:
            watts = float(self.read_w())
        except Exception:  # a failed read is a gap, counted; the window's checks judge it
            self.failed_reads += 1
            return
        self.points.append(((before + self.clock()) // 2, watts))

    def start(self) -> None:
        """Open the window now and poll from a thread, its first read at once: a slow source (a
        BMC, a subprocess) does not delay the window's start, nor the other meters of a
        composite window."""
        self.points, self.failed_reads = [], 0
        self._started_ns = self.clock()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True, name=self.name)
        self._thread.start()

    def _run(self) -> None:
        """Read every ``period_s`` on a fixed schedule: a slow read does not push the next ones
        later (a read slower than the period is followed at once by the next)."""
        due = time.monotonic()
        while True:
            self._sample()
            due += self.period_s
            if self._stop.wait(max(0.0, due - time.monotonic())):
                return

    def stop(self) -> PolledWindow:
        """Close the window now; the read in flight and one more are taken, so that the power
        at the window's end is known from both sides of it."""
        ended_ns = self.clock()
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        duration_s = (ended_ns - self._started_ns) / 1e9
        energy_j = _integral(self.points, self._started_ns, ended_ns)
        inside = [t for t, _ in self.points if self._started_ns <= t <= ended_ns]
        times = [self._started_ns, *inside, ended_ns]
        gaps = [(b - a) / 1e9 for a, b in itertools.pairwise(times)]
        uncovered = sum(max(0.0, gap - COVERED_GAP_PERIODS * self.period_s) for gap in gaps)
        return PolledWindow(
            energy_j=energy_j,
            samples=len(inside),
            duration_s=duration_s,
            coverage=max(0.0, 1.0 - uncovered / duration_s) if duration_s > 0 else 0.0,
            max_gap_s=max(gaps) if gaps else duration_s,
            peak_w=max((p for _, p in self.points), default=float("nan")),
            failed_reads=self.failed_reads,
        )


def _integral(points: list[tuple[int, float]], start_ns: int, end_ns: int) -> float:
    """Joules between ``start_ns`` and ``end_ns`` of the power through ``points`` (ns, W): linear
    between samples, the nearest sample's power beyond the first and the last."""
    if not points or end_ns <= start_ns:
        return 0.0
    points = sorted(points)
    knots = [(start_ns, _power_at(points, start_ns))]
    knots += [(t, w) for t, w in points if start_ns < t < end_ns]
    knots.append((end_ns, _power_at(points, end_ns)))
    return sum(
        (w0 + w1) / 2.0 * (t1 - t0) / 1e9 for (t0, w0), (t1, w1) in itertools.pairwise(knots)
    )


def _power_at(points: list[tuple[int, float]], t_ns: int) -> float:
    """The power at ``t_ns``: interpolated between the samples either side, else the nearest."""
    if t_ns <= points[0][0]:
        return points[0][1]
    for (t0, w0), (t1, w1) in itertools.pairwise(points):
        if t0 <= t_ns <= t1:
            return w0 + (w1 - w0) * (t_ns - t0) / (t1 - t0) if t1 > t0 else w1
    return points[-1][1]
