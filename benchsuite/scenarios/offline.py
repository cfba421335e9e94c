"""Scenario ``offline``: large batches back to back (MLPerf's offline: throughput and energy per
sample when latency does not matter)."""

from __future__ import annotations

from benchsuite.scenarios.inference import InferenceScenario


class Offline(InferenceScenario):
    name = "offline"
    description = "batches of batch_size samples back to back: throughput, energy per sample"
