"""The small way in from Python: measure a model or a function, or read energy around any code.

    import benchsuite

    result = benchsuite.measure(model, {"input_ids": ids, "attention_mask": mask}, batch_size=8)
    result.latency.p50_ms, result.energy.energy_per_sample_j, result.row()

    with benchsuite.energy_window() as window:
        train_one_epoch()
    window.reading.energy_j, window.reading.kind   # "measured" or "estimated", and by what

Both go through the same protocol and meters as ``benchsuite run``; ``measure`` returns the same
:class:`~benchsuite.results.CaseResult` a suite case gives.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from benchsuite.case import Case
from benchsuite.instruments.config import MeasureConfig
from benchsuite.instruments.energy import EnergyConfig
from benchsuite.instruments.meters import choose_meter
from benchsuite.instruments.meters.base import MeterWindow
from benchsuite.instruments.timing import SamplingConfig
from benchsuite.results import CaseResult, ModelFacts
from benchsuite.scenarios.flops import count_flops
from benchsuite.scenarios.offline import Offline
from benchsuite.scenarios.single_stream import SingleStream
from benchsuite.scenarios.steps import count_parameters, memory_peaks, time_and_meter, torch_threads
from benchsuite.workload.batch import Batch, batch_to, bound_call

CUSTOM_VARIANT = "as-given"


def measure(
    target: nn.Module | Callable[..., Any],
    batch: Batch | None = None,
    *,
    batch_size: int = 1,
    device: str = "cpu",
    threads: int | None = None,
    meter: str = "auto",
    name: str = "measure",
    sampling: SamplingConfig | None = None,
    energy: EnergyConfig | None = None,
) -> CaseResult:
    """Latency, energy, memory and FLOPs of ``target(batch)`` (or ``target()`` without a batch).

    ``batch_size`` is the number of samples one call processes (declared, never guessed from a
    shape): per-sample energy and throughput divide by it. A ``torch.nn.Module`` runs in
    inference mode and its parameters are counted; the model must already be on ``device``,
    the batch is moved there. ``meter``: ``auto`` (a hardware counter when one is readable,
    else the labelled estimate) or a source name, see ``benchsuite meters``.
    """
    scenario = SingleStream.name if batch_size == 1 else Offline.name
    case = Case(name, CUSTOM_VARIANT, device, scenario, batch_size, threads)
    config = MeasureConfig(sampling or SamplingConfig(), energy or EnergyConfig())
    call = target if batch is None else bound_call(target, batch_to(batch, device))

    is_module = isinstance(target, nn.Module)
    context = torch.inference_mode if is_module else contextlib.nullcontext
    chosen = choose_meter(device, meter).meter
    with torch_threads(threads), memory_peaks(device) as peaks:
        with context():
            flops = count_flops(call) // batch_size
        latency, energy_result = time_and_meter(call, device, chosen, batch_size, config, context)
        memory = peaks()
    params, size = count_parameters(target) if isinstance(target, nn.Module) else (None, None)
    facts = ModelFacts(
        f"{type(target).__name__} as given to benchsuite.measure()",
        param_count=params,
        model_size_bytes=size,
        flops_per_sample=flops,
    )
    return CaseResult(case, model=facts, latency=latency, energy=energy_result, memory=memory)


@contextlib.contextmanager
def energy_window(device: str = "cpu", meter: str = "auto") -> Iterator[MeterWindow]:
    """Energy used by the code in the ``with`` block, read by the best meter for ``device``;
    ``window.reading`` (after the block) carries its provenance. Always closed, even when the
    block raises."""
    chosen = choose_meter(device, meter).meter
    with chosen.window() as window:
        yield window
