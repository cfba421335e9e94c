"""The building blocks of the measurement protocol, shared by every scenario and by
``benchsuite.measure()``:

1. quality of a variant against the fp32 model (:func:`evaluate_quality`);
2. parameters, size and FLOPs (:func:`count_parameters`, :func:`count_flops_per_sample`);
3. warm-up until timings settle, then per-call latency until the median is known, then energy
   over an idle window and several busy windows (:func:`time_and_meter`);
4. memory peaks (:func:`memory_peaks`).

Scenarios (:mod:`benchsuite.scenarios`) put these together; nothing here knows a scenario.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn

from benchsuite.instruments import devices, memory
from benchsuite.instruments.config import MeasureConfig
from benchsuite.instruments.energy import EnergyResult, measure_energy
from benchsuite.instruments.meters.base import Meter
from benchsuite.instruments.quality import evaluate, quality_metrics
from benchsuite.instruments.timing import Timer
from benchsuite.results import LatencyResult, MemoryResult, QualityResult
from benchsuite.scenarios.flops import count_flops
from benchsuite.variants import PreparedModel, Variant, get_variant
from benchsuite.workload.base import Workload
from benchsuite.workload.batch import Batch, batch_slice, batch_to, call_model

EVAL_BATCH_SIZE = 256


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run with ``threads`` intra-op threads, restoring torch's setting afterwards."""
    if threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


_RUNNING_STATS = ("running_mean", "running_var", "num_batches_tracked")


def _tensors(value: object) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, tuple | list):
        return [t for item in value for t in _tensors(item)]
    return []


def count_parameters(module: nn.Module) -> tuple[int, int]:
    """Parameter count and model size in bytes, from the state dict, so int8 packed weights count.

    The count covers weights and biases (not BatchNorm running statistics); the size is what the
    state dict takes serialised, every tensor included.
    """
    module = getattr(module, "_orig_mod", module)  # torch.compile wraps the model
    state = module.state_dict()
    count = sum(
        t.numel()
        for key, value in state.items()
        if not key.endswith(_RUNNING_STATS)
        for t in _tensors(value)
    )
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return count, buffer.getbuffer().nbytes


def count_flops_per_sample(prepared: PreparedModel, batch: Batch, batch_size: int) -> int:
    """FLOPs of one call (see ``benchsuite.scenarios.flops``), divided by the declared batch size.
    For int8 and compiled variants it counts the eager fp32 model, which does the same
    operations."""
    module = prepared.flops_module or prepared.module
    with prepared.context():
        return count_flops(lambda: call_model(module, batch)) // batch_size


def model_outputs(
    workload: Workload, prepared: PreparedModel, inputs: Batch, count: int
) -> torch.Tensor:
    """The workload's reading of the model's outputs over ``count`` samples, as float on the CPU."""
    outputs = []
    with prepared.context():
        for start in range(0, count, EVAL_BATCH_SIZE):
            batch = batch_to(batch_slice(inputs, start, start + EVAL_BATCH_SIZE), prepared.device)
            output = workload.read_output(call_model(prepared.module, batch))
            outputs.append(output.float().cpu())
    return torch.cat(outputs)


def evaluate_quality(
    workload: Workload, prepared: PreparedModel, reference: PreparedModel
) -> QualityResult:
    """The workload's quality metrics of ``prepared`` against the fp32 ``reference`` on its
    held-out data (see :mod:`benchsuite.instruments.quality`); nothing when the workload has no
    such data.

    An untrained model's logits can be nearly equal for every class (a random
    MobileNetV2's top-1/top-2 gap is near rounding: docs/workloads.md), so its arg-max is
    decided by rounding; such a workload sets ``quality_metric = None`` and gets the output
    error only, which still says how far a variant moves the numbers.
    """
    data = workload.eval_data()
    if data is None:
        return QualityResult(None)
    metrics = quality_metrics(workload.quality_metric_names(), f"workload {workload.name}")
    count = data.samples
    outputs = model_outputs(workload, prepared, data.inputs, count)
    reference_outputs = model_outputs(workload, reference, data.inputs, count)
    values = evaluate(metrics, outputs, reference_outputs, data.labels)
    return QualityResult(workload.quality_metric, values, count)


def fp32_twin(workload: Workload, variant: Variant, prepared: PreparedModel) -> PreparedModel:
    """The fp32 model a variant's quality is judged against (``prepared`` itself for fp32)."""
    fp32 = get_variant("fp32")
    return prepared if variant is fp32 else workload.prepare_variant(fp32, prepared.device)


def time_and_meter(
    call: Callable[[], object],
    device: str,
    meter: Meter,
    batch_size: int,
    config: MeasureConfig,
    context: Callable[[], contextlib.AbstractContextManager[object]] = contextlib.nullcontext,
) -> tuple[LatencyResult, EnergyResult]:
    """One untimed first call, then warm up, sample per-call latency and read energy, all inside
    ``context()`` (entered once around the loops, never per call). The first call is where a
    compiled model compiles for this batch's shape and kernels initialise lazily: kept out of the
    warm-up, it cannot exhaust the warm-up's time limit. The device is synchronised inside the
    timer."""
    sync = devices.synchronizer(device)
    timer = Timer(call, sync)
    with context():
        call()
        if sync is not None:
            sync()
        warmup = timer.warm_up(config.sampling)
        typical_ns = float(np.median(warmup.samples_ns[-max(1, warmup.calls // 4) :]))
        sampling = timer.sample(config.sampling, typical_ns)
        energy = measure_energy(
            call, sync, meter, batch_size, config.energy, idle=config.idle_for(device)
        )
    latency = LatencyResult(
        sampling,
        batch_size,
        config.sampling.ci_target_rel,
        config.sampling.confidence,
        warmup,
    )
    return latency, energy


@contextlib.contextmanager
def memory_peaks(device: str) -> Iterator[Callable[[], MemoryResult]]:
    """Reset the peaks on entry; the yielded function reads them."""
    reset = memory.reset_peak_rss()
    devices.reset_device_peak_memory(device)
    yield lambda: MemoryResult(
        memory.peak_rss_bytes(), reset, devices.device_peak_memory_bytes(device)
    )
