"""Scenario ``single-stream``: one sample per call, calls back to back (MLPerf's single-stream:
the latency one user sees)."""

from __future__ import annotations

from benchsuite.scenarios.inference import InferenceScenario


class SingleStream(InferenceScenario):
    name = "single-stream"
    description = "one sample per call, back to back: the latency one user sees"
    single_batch = True
