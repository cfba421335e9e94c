"""Scenario ``training``: what it costs to train a model to its target quality.

For ``fp32`` the workload's model is trained from scratch; for ``distilled`` its student is
trained from the (already trained, cached) teacher. Training stops at the first epoch whose
held-out accuracy reaches the workload's target, or at its epoch or time budget; the row says
which. One meter window covers the run, after an idle window read by the same meter; a run shorter
than the meter's minimum window is repeated back to back (same seed, same work) until the window
is long enough, and the energy is divided by the repeats (``train_repeats``). The window is checked
like an inference window (idle, length, plausible power).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import torch

from benchsuite import units
from benchsuite.case import Case
from benchsuite.instruments import devices
from benchsuite.instruments.config import MeasureConfig
from benchsuite.instruments.energy import EnergyWindow, min_window_s, read_idle, summarize_windows
from benchsuite.instruments.meters.base import Meter
from benchsuite.results import (
    CaseResult,
    ModelFacts,
    QualityResult,
    TrainingOutcome,
    TrainingResult,
)
from benchsuite.scenarios.base import Metric, Role, Scenario, SummaryCells, energy_flag
from benchsuite.scenarios.steps import count_parameters, memory_peaks, torch_threads
from benchsuite.variants import Variant
from benchsuite.variants.distill import build_student
from benchsuite.workload.base import Workload, seeded
from benchsuite.workload.trainer import (
    LossFn,
    cross_entropy_loss,
    distillation_loss,
    train_classifier,
)

TRAINABLE_VARIANTS = ("fp32", "distilled")


def _to(data: tuple[torch.Tensor, torch.Tensor], device: str) -> tuple[torch.Tensor, torch.Tensor]:
    return data[0].to(device), data[1].to(device)


class Training(Scenario):
    name = "training"
    description = "train to the workload's target accuracy: time, energy, samples"
    role = Role.TRAINING
    metrics = (
        Metric("train_energy_j", "training energy", needs_measured_energy=True),
        Metric("train_time_s", "training time"),
        Metric("accuracy", "accuracy", lower_is_better=False),
        Metric("peak_rss_bytes", "peak RSS"),
    )

    def unsupported_reason(self, case: Case, workload: Workload, variant: Variant) -> str | None:
        if workload.training is None or workload.train_data() is None:
            return f"workload {workload.name} defines no training (training spec and train_data)"
        if variant.name not in TRAINABLE_VARIANTS:
            return f"training is measured for {' and '.join(TRAINABLE_VARIANTS)} only"
        if variant.name == "distilled" and workload.build_student() is None:
            return f"workload {workload.name} defines no student model"
        return None

    def run(
        self,
        case: Case,
        workload: Workload,
        variant: Variant,
        meter: Meter,
        config: MeasureConfig,
    ) -> CaseResult:
        assert workload.training is not None
        spec = dataclasses.replace(workload.training, batch_size=case.batch_size)
        train = _to(workload.labelled(workload.train_data(), "train_data"), case.device)
        held_out = _to(workload.labelled(workload.eval_data(), "eval_data"), case.device)
        shortest = min_window_s(meter.info().resolution_s or 0.0)
        fresh_model, loss_fn = self._recipe(case, workload, variant, spec.seed)
        with torch_threads(case.threads):
            idle = config.idle_for(case.device) or read_idle(meter, config.energy.idle_s)
            with memory_peaks(case.device) as peaks:
                runs: list[TrainingOutcome] = []
                with meter.window() as window:
                    # one run, repeated back to back (same seed, same work) until the window is
                    # long enough for the meter: a 1 s run is below the protocol's minimum window
                    while not runs or sum(run.duration_s for run in runs) < shortest:
                        model = fresh_model()
                        runs.append(train_classifier(model, train, held_out, spec, loss_fn=loss_fn))
                    sync = devices.synchronizer(case.device)
                    if sync is not None:
                        sync()
                memory = peaks()
        reading = window.reading
        outcome = _per_run(runs, reading.duration_s)
        window_of_runs = EnergyWindow(
            0,
            outcome.epochs * len(runs),
            outcome.samples * len(runs),
            reading,
            idle.average_power_w,
        )
        energy = summarize_windows(
            idle,
            (window_of_runs,),
            reading.duration_s,
            min_windows=1,
            per_sample=False,
            stop_reason="one window: the whole training run",
        )
        param_count, size_bytes = count_parameters(model)
        return CaseResult(
            case,
            model=ModelFacts(
                variant.recipe,
                param_count=param_count,
                model_size_bytes=size_bytes,
                variant_backend=f"PyTorch {torch.__version__} eager, training in fp32",
                threads_used=case.threads or torch.get_num_threads(),
            ),
            quality=QualityResult(
                workload.quality_metric, {"accuracy": outcome.accuracy}, len(held_out[0])
            ),
            energy=energy,
            memory=memory,
            training=TrainingResult(
                outcome, spec.target_accuracy, len(runs), reading.energy_j / len(runs)
            ),
        )

    @staticmethod
    def _recipe(
        case: Case, workload: Workload, variant: Variant, seed: int
    ) -> tuple[Callable[[], torch.nn.Module], LossFn]:
        """A fresh model to train, and its loss."""
        if variant.name == "distilled":
            # the teacher is trained (or read from the cache) here, before the window opens
            teacher = copy.deepcopy(workload.reference_model()).to(case.device)
            return lambda: build_student(workload).to(case.device), distillation_loss(teacher)
        return lambda: seeded(workload.build_model, seed).to(case.device), cross_entropy_loss

    def summary(self, row: Mapping[str, Any]) -> SummaryCells:
        reached = "reached" if row["train_reached_target"] else "missed"
        return SummaryCells(
            throughput=units.rate(row["train_samples_per_s"]),
            energy=f"{units.energy(row['train_energy_j'])}/run" + energy_flag(row),
            notes=f"{reached} {row['train_target_accuracy']:.2f} in {row['train_epochs']} "
            f"epochs, {row['train_time_s']:.1f} s",
        )


def _per_run(runs: list[TrainingOutcome], window_s: float) -> TrainingOutcome:
    """One run of the window's back-to-back repeats: its time is the window's over the repeats,
    so that a row's time and its energy describe the same runs. The repeats do the same work
    from the same seed; where they differ, the epochs, samples and accuracy are the median
    run's."""
    middle = sorted(runs, key=lambda run: run.duration_s)[len(runs) // 2]
    return dataclasses.replace(middle, duration_s=window_s / len(runs))
