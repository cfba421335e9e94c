"""Two deployments of one model side by side: interleaved load windows and their paired ratio.

A machine drifts: another job starts, a clock throttles, a cache warms. Two endpoints measured
one after the other carry that drift into their comparison. Here each round serves the same
rate and the same prompts to both, in adjacent windows, the order alternating (R C, C R, R C,
...), so that a drift that lasts longer than a round hits both alike and a linear one cancels
over each pair of rounds. Each round gives one ratio (this endpoint's figure over the
reference's); the row's ratio is their geometric mean with a Student-t interval over the rounds
and the suite's run-to-run floor in quadrature, as the in-process comparison groups report theirs
(:mod:`benchsuite.run.pooling`).

Quality beside cost: both endpoints answer the same prompts greedily (temperature 0); the share
of output words that agree, position by position, is the row's ``output_agreement``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from benchsuite.instruments.endpoint_client import RequestRecord
from benchsuite.instruments.endpoint_load import LevelFigures, LoadRun
from benchsuite.instruments.rounds import RoundsConfig
from benchsuite.instruments.split_window import summed
from benchsuite.instruments.stats import ProcessInterval, process_interval

if TYPE_CHECKING:  # the endpoint scenario imports this module
    from benchsuite.scenarios.endpoint import EndpointLevel, LoadPlan


def _p50_e2e_ms(level: EndpointLevel) -> float:
    values = [record.e2e_ns for record in level.run.completed]
    return float(np.median(values)) / 1e6 if values else float("nan")


def _energy_per_token_j(level: EndpointLevel) -> float:
    reading, tokens = level.reading, level.figures.output_tokens
    if reading is None or reading.invalid_reason or not tokens:
        return float("nan")
    return reading.energy_j / tokens


def output_agreement(
    reference: Sequence[RequestRecord], candidate: Sequence[RequestRecord]
) -> float | None:
    """Share of output words equal position by position, over the prompts both answered."""
    matched = total = 0
    for ours, theirs in zip(candidate, reference, strict=False):
        if not (ours.ok and theirs.ok):
            continue
        a, b = ours.text.split(), theirs.text.split()
        matched += sum(1 for x, y in zip(a, b, strict=False) if x == y)
        total += max(len(a), len(b))
    return matched / total if total else None


def _later(record: RequestRecord, offset_ns: int) -> RequestRecord:
    return dataclasses.replace(
        record,
        scheduled_ns=record.scheduled_ns + offset_ns,
        sent_ns=record.sent_ns + offset_ns,
        chunk_ns=tuple(t + offset_ns for t in record.chunk_ns),
        done_ns=record.done_ns + offset_ns,
    )


def merged_level(levels: Sequence[EndpointLevel]) -> EndpointLevel:
    """One endpoint's windows of a pair as one level: every request, the summed reading."""
    runs = [level.run for level in levels]
    shifted, offset = [], 0
    for window in runs:  # one timeline, the windows back to back (each is timed from its start)
        shifted += [_later(record, offset) for record in window.records]
        offset += window.duration_ns
    run = LoadRun(
        tuple(shifted),
        sum(r.planned_requests for r in runs),
        sum(r.duration_ns for r in runs),
        f"{len(runs)} interleaved load windows; " + runs[-1].stop_reason,
        any(r.saturated for r in runs),
        any(r.server_gone for r in runs),
        max(r.late_sends_p99_ms for r in runs),
    )
    first = levels[0]
    readings = [level.reading for level in levels if level.reading is not None]
    reading = (
        summed(readings, "interleaved windows")
        if readings and len(readings) == len(levels)
        else None
    )
    figures = LevelFigures(run, first.figures.offered_rps, first.figures.slo)
    return dataclasses.replace(
        first,
        figures=figures,
        reading=reading,
        client_cpu_s=sum(level.client_cpu_s for level in levels),
        parts=(),  # the windows' times are each from its own start: the ratio carries the spread
    )


@dataclass(frozen=True)
class PairedLevels:
    """Both endpoints' windows at one rate, the order they ran in, and the paired ratios."""

    reference: tuple[EndpointLevel, ...]
    candidate: tuple[EndpointLevel, ...]
    orders: tuple[str, ...]
    reference_name: str
    rounds_config: RoundsConfig

    def _interval(self, figure: Any) -> ProcessInterval | None:
        ratios = [
            figure(ours) / figure(theirs)
            for ours, theirs in zip(self.candidate, self.reference, strict=True)
        ]
        usable = [ratio for ratio in ratios if np.isfinite(ratio) and ratio > 0]
        if not usable:
            return None
        return process_interval(usable, floor_rel=self.rounds_config.floor_rel)

    def columns(self) -> dict[str, Any]:
        latency = self._interval(_p50_e2e_ms)
        energy = self._interval(_energy_per_token_j)
        resolution = self.rounds_config.resolution_rel
        columns: dict[str, Any] = {
            "comparison_reference": self.reference_name,
            "measure_order": "interleaved load windows: "
            + " ".join(self.orders)
            + " (R: the reference endpoint, C: this one)",
            "rounds": len(self.orders),
            "repeats": 1,
            "ratio_interval_method": (
                f"geometric mean of {len(self.orders)} rounds' ratios (a round: this endpoint "
                "and the reference at the same rate and prompts, in adjacent windows), "
                f"Student-t over the rounds, {self.rounds_config.floor_rel:.0%} run-to-run "
                "floor in quadrature; latency: end-to-end p50, energy: per output token"
            ),
            "output_agreement": output_agreement(
                self.reference[0].run.records, self.candidate[0].run.records
            ),
        }
        for name, interval in (("latency", latency), ("energy", energy)):
            if interval is None:
                continue
            columns.update(
                {
                    f"{name}_ratio": interval.centre,
                    f"{name}_ratio_low": interval.low,
                    f"{name}_ratio_high": interval.high,
                    f"{name}_ratio_resolved": interval.half_width_rel <= resolution,
                }
            )
        return columns


def serve_pair(
    reference: LoadPlan, candidate: LoadPlan, rate_per_s: float, rounds: int, config: RoundsConfig
) -> tuple[PairedLevels, EndpointLevel]:
    """``rounds`` rounds at ``rate_per_s``, the order alternating; the pair, and the
    candidate's windows merged into its row's level."""
    ours: list[EndpointLevel] = []
    theirs: list[EndpointLevel] = []
    orders = []
    for index in range(rounds):
        order = "RC" if index % 2 == 0 else "CR"
        orders.append(order)
        for arm in order:
            if arm == "R":
                theirs.append(reference.open_level(rate_per_s))
            else:
                ours.append(candidate.open_level(rate_per_s))
    name = f"{reference.endpoint.base_url} ({reference.endpoint.served_model})"
    pair = PairedLevels(tuple(theirs), tuple(ours), tuple(orders), name, config)
    return pair, merged_level(ours)
