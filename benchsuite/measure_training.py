"""Training cases (scenario ``training``): what it costs to train a model to its target quality.

For ``fp32`` the workload's model is trained from scratch; for ``distilled`` its student is
trained from the (already trained, cached) teacher. Training stops at the first epoch whose
held-out accuracy reaches the workload's target, or at its epoch or time budget; the row says
which. One meter window covers the run, after an idle window read by the same meter; a run shorter
than the meter's minimum window is repeated back to back (same seed, same work) until the window
is long enough, and the energy is divided by the repeats (``train_repeats``).
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import torch

from benchsuite import devices, memory
from benchsuite.case import Case
from benchsuite.energy import EnergyConfig, min_window_s, read_idle
from benchsuite.measure import CaseMeasurement, count_parameters, torch_threads
from benchsuite.meters.base import Meter
from benchsuite.training import TrainingOutcome, train_classifier
from benchsuite.variants import Variant
from benchsuite.variants.distill import build_student, distillation_loss
from benchsuite.workload import Workload, seeded

TRAINABLE_VARIANTS = ("fp32", "distilled")


def training_unsupported_reason(workload: Workload, variant: Variant) -> str | None:
    if workload.training is None or workload.train_data() is None:
        return f"workload {workload.name} defines no training (training spec and train_data)"
    if variant.name not in TRAINABLE_VARIANTS:
        return f"training is measured for {' and '.join(TRAINABLE_VARIANTS)} only"
    if variant.name == "distilled" and workload.build_student() is None:
        return f"workload {workload.name} defines no student model"
    return None


def _to(data: tuple[torch.Tensor, torch.Tensor], device: str) -> tuple[torch.Tensor, torch.Tensor]:
    return data[0].to(device), data[1].to(device)


def measure_training(
    case: Case, workload: Workload, variant: Variant, meter: Meter, energy: EnergyConfig
) -> CaseMeasurement:
    assert workload.training is not None
    spec = dataclasses.replace(workload.training, batch_size=case.batch_size)
    train = _to(workload.labelled(workload.train_data(), "train_data"), case.device)
    held_out = _to(workload.labelled(workload.eval_data(), "eval_data"), case.device)
    resolution_s = meter.info().resolution_s or 0.0
    shortest = min_window_s(resolution_s)
    with torch_threads(case.threads):
        if variant.name == "distilled":
            teacher = copy.deepcopy(workload.reference_model()).to(case.device)  # before the window
            loss_fn = distillation_loss(teacher)

            def fresh_model() -> torch.nn.Module:
                return build_student(workload).to(case.device)
        else:
            loss_fn = None

            def fresh_model() -> torch.nn.Module:
                return seeded(workload.build_model, spec.seed).to(case.device)

        idle = read_idle(meter, energy.idle_s)
        devices.reset_device_peak_memory(case.device)
        peak_reset = memory.reset_peak_rss()
        runs: list[TrainingOutcome] = []
        meter.start()
        # one run, repeated back to back (same seed, same work) until the window is long enough
        # for the meter: a 1 s training run is otherwise below the protocol's minimum window
        while not runs or sum(run.duration_s for run in runs) < shortest:
            model = fresh_model()
            if loss_fn is None:
                runs.append(train_classifier(model, train, held_out, spec))
            else:
                runs.append(train_classifier(model, train, held_out, spec, loss_fn=loss_fn))
        if case.device.startswith("cuda"):
            torch.cuda.synchronize(torch.device(case.device))
        reading = meter.stop()
        peak_rss = memory.peak_rss_bytes()
        device_peak = devices.device_peak_memory_bytes(case.device)
    outcome = runs[0]
    repeats = len(runs)
    energy_per_run_j = reading.energy_j / repeats

    invalid = reading.invalid_reason
    if not invalid and reading.energy_j <= 0:
        invalid = f"training window read {reading.energy_j:g} J (zero or negative)"
    if not invalid and reading.duration_s < shortest:
        invalid = (
            f"training lasted {reading.duration_s:.3g} s, shorter than the minimum {shortest:g} s"
        )
    param_count, size = count_parameters(model)
    row: dict[str, Any] = {
        "variant_recipe": variant.recipe,
        "param_count": param_count,
        "model_size_bytes": size,
        "quality_metric": workload.quality_metric,
        "accuracy": outcome.accuracy,
        "eval_samples": len(held_out[0]),
        "train_target_accuracy": spec.target_accuracy,
        "train_reached_target": outcome.reached_target,
        "train_stop_reason": outcome.stop_reason,
        "train_epochs": outcome.epochs,
        "train_samples": outcome.samples,
        "train_time_s": outcome.duration_s,
        "train_samples_per_s": outcome.samples / outcome.duration_s,
        "train_repeats": repeats,
        "train_energy_j": energy_per_run_j,
        "train_energy_per_sample_j": energy_per_run_j / outcome.samples,
        "energy_source": reading.source,
        "energy_kind": reading.kind,
        "energy_domains": ",".join(reading.domains),
        "energy_model": reading.model or None,
        "energy_windows": 1,
        "energy_total_j": reading.energy_j,
        "idle_power_w": idle.average_power_w,
        "average_power_w": reading.average_power_w,
        "energy_valid": not invalid,
        "energy_invalid_reason": invalid or None,
        "energy_min_window_s": shortest,
        "peak_rss_bytes": peak_rss,
        "peak_rss_reset": peak_reset,
        "device_peak_allocated_bytes": device_peak,
    }
    window = {
        "case_id": case.id,
        "window": 0,
        "calls": outcome.epochs,
        "samples": outcome.samples,
        "duration_s": reading.duration_s,
        "energy_j": reading.energy_j,
        "net_energy_j": reading.energy_j - idle.average_power_w * reading.duration_s,
        "source": reading.source,
        "kind": reading.kind,
        "domains": ",".join(reading.domains),
        "model": reading.model,
    }
    idle_row = {
        **window,
        "window": -1,
        "calls": 0,
        "samples": 0,
        "duration_s": idle.duration_s,
        "energy_j": idle.energy_j,
        "net_energy_j": None,
        "model": idle.model,
    }
    return CaseMeasurement(row=row, energy_windows=(idle_row, window))
