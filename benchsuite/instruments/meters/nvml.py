"""NVIDIA GPU energy through NVML (the ``nvidia-ml-py`` binding, imported as ``pynvml``).

Per GPU, the total-energy counter (``nvmlDeviceGetTotalEnergyConsumption``, mJ, Volta and newer)
is read at ``start()`` and ``stop()``. Where a GPU lacks it (NVML answers NOT_SUPPORTED), its
board power (``nvmlDeviceGetPowerUsage``, mW) is polled in a background thread at ``poll_hz``
(≥ 10 Hz) and integrated with the trapezoid rule; the reading says so in ``model``. Both are
``measured``: the figures come from the board's sensors.

GPUs are addressed by CUDA index, mapped to NVML through ``CUDA_VISIBLE_DEVICES`` (indexes or
``GPU-`` UUIDs), so ``cuda:0`` is the first *visible* GPU. CUDA work is synchronised before every
read, so queued kernels land in the window that launched them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from benchsuite.instruments.meters.base import MEASURED, EnergyReading, Meter, MeterInfo
from benchsuite.instruments.meters.polling import PowerPoller
from benchsuite.instruments.meters.validity import WindowFacts, window_problems

COUNTER_RESOLUTION_S = 0.1  # the energy counter follows the board's ~10 Hz power sensor
DEFAULT_POLL_HZ = 20.0
MIN_POLL_HZ = 10.0


def _load_nvml() -> ModuleType | None:
    try:
        import pynvml
    except ImportError:
        return None
    return pynvml


def _cuda_sync() -> None:
    try:
        import torch
    except ImportError:
        return
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def visible_gpu_ids(environ: dict[str, str] | None = None) -> list[str] | None:
    """The NVML ids (index or UUID) of visible GPUs, in CUDA order; ``None`` means all."""
    value = (environ if environ is not None else os.environ).get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return None
    ids = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        if not (item.isdigit() or item.startswith("GPU-")):
            break  # CUDA stops at the first invalid entry; so do we
        ids.append(item)
    return ids


class NvmlMeter(Meter):
    """Energy of the given CUDA-visible GPUs (all visible ones by default)."""

    source = "nvml"
    reads = frozenset({"gpu"})
    kind = MEASURED

    def __init__(
        self,
        cuda_indices: Sequence[int] | None = None,
        nvml: ModuleType | Any | None = None,
        poll_hz: float = DEFAULT_POLL_HZ,
        clock: Callable[[], int] = time.perf_counter_ns,
        sync: Callable[[], None] = _cuda_sync,
    ) -> None:
        if poll_hz < MIN_POLL_HZ:
            raise ValueError(f"poll_hz must be at least {MIN_POLL_HZ:g}, got {poll_hz}")
        self.cuda_indices = list(cuda_indices) if cuda_indices is not None else None
        self.nvml: Any = nvml if nvml is not None else _load_nvml()
        self.poll_hz = poll_hz
        self.clock = clock
        self.sync = sync
        self._gpus: list[tuple[str, Any, bool]] | None = None  # (domain, handle, has_counter)
        self._labels: dict[str, str] = {}  # domain -> "gpu0 = nvml 2": visible and physical ids
        self._unavailable = ""
        self._window: dict[str, Any] = {}
        self._start_ns = 0

    def _open(self) -> list[tuple[str, Any, bool]]:
        if self._gpus is not None:
            return self._gpus
        self._gpus = []
        nvml = self.nvml
        if nvml is None:
            self._unavailable = "nvidia-ml-py is not installed (pip install 'benchsuite[nvidia]')"
            return self._gpus
        try:
            nvml.nvmlInit()
            ids = visible_gpu_ids()
            if ids is None:
                ids = [str(i) for i in range(nvml.nvmlDeviceGetCount())]
            indices = self.cuda_indices if self.cuda_indices is not None else range(len(ids))
            for cuda_index in indices:
                if cuda_index >= len(ids):
                    self._unavailable = (
                        f"cuda:{cuda_index} is not visible ({len(ids)} GPU(s) visible to CUDA)"
                    )
                    self._gpus = []
                    return self._gpus
                nvml_id = ids[cuda_index]
                handle = (
                    nvml.nvmlDeviceGetHandleByUUID(nvml_id)
                    if nvml_id.startswith("GPU-")
                    else nvml.nvmlDeviceGetHandleByIndex(int(nvml_id))
                )
                try:
                    nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
                    has_counter = True
                except nvml.NVMLError_NotSupported:
                    has_counter = False
                self._gpus.append((f"gpu{cuda_index}", handle, has_counter))
                self._labels[f"gpu{cuda_index}"] = f"gpu{cuda_index} = nvml {nvml_id}"
        except nvml.NVMLError as error:
            self._unavailable = (
                f"NVML could not start ({error}): no NVIDIA driver or GPU on this machine"
            )
            self._gpus = []
        if not self._gpus and not self._unavailable:
            self._unavailable = "NVML found no GPU"
        return self._gpus

    def info(self) -> MeterInfo:
        gpus = self._open()
        if not gpus:
            return MeterInfo(self.source, self.kind, False, self._unavailable)
        polled = f"power polled at {self.poll_hz:g} Hz, integrated"
        methods = [
            f"{domain}: {'energy counter (mJ)' if counter else polled}"
            for domain, _, counter in gpus
        ]
        resolution = COUNTER_RESOLUTION_S if all(c for _, _, c in gpus) else 1.0 / self.poll_hz
        return MeterInfo(
            self.source,
            self.kind,
            True,
            "NVML: " + "; ".join(methods),
            tuple(d for d, _, _ in gpus),
            resolution,
        )

    def start(self) -> None:
        gpus = self._open()
        if not gpus:
            raise RuntimeError(f"NVML meter is unavailable: {self._unavailable}")
        self.sync()
        self._window = {}
        for domain, handle, has_counter in gpus:
            if has_counter:
                self._window[domain] = self.nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
            else:
                poller = PowerPoller(
                    self._power_reader(handle), 1.0 / self.poll_hz, self.clock, "nvml-power-poll"
                )
                poller.start()
                self._window[domain] = poller
        self._start_ns = self.clock()

    def _power_reader(self, handle: Any) -> Callable[[], float]:
        def read_w() -> float:
            return float(self.nvml.nvmlDeviceGetPowerUsage(handle)) / 1000.0  # mW

        return read_w

    def stop(self) -> EnergyReading:
        self.sync()
        assert self._gpus is not None
        per_domain: dict[str, float] = {}
        notes = []
        duration_s = (self.clock() - self._start_ns) / 1e9
        invalid: list[str] = []
        coverage, gaps = [], []
        for domain, handle, has_counter in self._gpus:
            if has_counter:
                end_mj = self.nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
                per_domain[domain] = (end_mj - self._window[domain]) / 1000.0
                notes.append(f"{domain}: energy counter")
                facts = WindowFacts(
                    f"nvml {domain}",
                    duration_s,
                    per_domain[domain],
                    COUNTER_RESOLUTION_S,
                    counter_j=per_domain[domain],
                )
            else:
                polled = self._window[domain].stop()
                per_domain[domain] = polled.energy_j
                coverage.append(polled.coverage)
                gaps.append(polled.max_gap_s)
                notes.append(
                    f"{domain}: {polled.samples} power samples at {self.poll_hz:g} Hz, "
                    "trapezoid-integrated"
                )
                facts = WindowFacts(
                    f"nvml {domain}", duration_s, polled.energy_j, 1.0 / self.poll_hz, polled
                )
            invalid += window_problems(facts)
        invalid += [f"{d} energy counter went backwards" for d, e in per_domain.items() if e < 0]
        counters_only = all(c for _, _, c in self._gpus)
        return EnergyReading(
            source=self.source,
            kind=self.kind,
            domains=tuple(per_domain),
            energy_j=sum(per_domain.values()),
            duration_s=duration_s,
            resolution_s=COUNTER_RESOLUTION_S if counters_only else 1.0 / self.poll_hz,
            domain_energy_j=per_domain,
            model="; ".join(notes),
            invalid_reason="; ".join(invalid),
            coverage=min(coverage) if coverage else None,
            max_gap_s=max(gaps) if gaps else None,
            per_device_j={self._labels.get(d, d): j for d, j in per_domain.items()},
        )
