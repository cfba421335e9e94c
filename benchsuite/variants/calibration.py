"""Calibration data for static int8: a few hundred of the workload's own samples.

Static quantization fixes each activation's int8 scale ahead of time from the ranges it sees on
calibration batches. Those come from the workload's training data when it has any, else from its
held-out data (which quality is then judged on too: the row says so), never from random inputs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from benchsuite.workload.base import EvalData, Workload
from benchsuite.workload.batch import Batch, batch_slice

CALIBRATION_SAMPLES = 256
CALIBRATION_BATCH_SIZE = 32


@dataclass(frozen=True)
class CalibrationData:
    data: EvalData
    origin: str
    """``training data`` or ``held-out data``: where the samples came from."""

    @property
    def samples(self) -> int:
        return min(CALIBRATION_SAMPLES, self.data.samples)

    def batches(self) -> Iterator[Batch]:
        for start in range(0, self.samples, CALIBRATION_BATCH_SIZE):
            stop = min(start + CALIBRATION_BATCH_SIZE, self.samples)
            yield batch_slice(self.data.inputs, start, stop)

    def describe(self) -> str:
        return f"calibrated on {self.samples} samples of the workload's {self.origin}"


def calibration_data(workload: Workload) -> CalibrationData | None:
    """The workload's training data, else its held-out data; ``None`` when it has neither."""
    training = workload.train_data()
    if training is not None:
        return CalibrationData(training, "training data")
    held_out = workload.eval_data()
    return CalibrationData(held_out, "held-out data") if held_out is not None else None


def requires_calibration_data(workload: Workload) -> str | None:
    if calibration_data(workload) is None:
        return (
            "static int8 calibrates on the workload's own samples; it has neither train_data() "
            "nor eval_data()"
        )
    return None
