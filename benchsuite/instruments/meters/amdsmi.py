"""AMD GPU energy through AMD SMI (the ``amdsmi`` package of ROCm: ``pip install
'benchsuite[amd]'``).

Per GPU, the energy accumulator (``amdsmi_get_energy_count``: a count, its resolution in µJ and
a timestamp in ns) is read at ``start()`` and ``stop()``; the socket power
(``amdsmi_get_power_info``, W) is polled beside it, so that the counter can be checked against
it (:mod:`benchsuite.instruments.meters.validity`). Where a GPU has no accumulator (NOT_SUPPORTED)
the polled power is integrated instead.

**The counter is validated when the meter opens**: it must move while the GPU works
(``validate_s`` of matrix products on it, when torch sees the GPU; else of waiting, which any
powered GPU's counter still moves over). A counter that does not is refused, with the reason,
and power is used: rocm-smi read 0-2 W on an MI325X under load (InferenceX), and a frozen
counter would have read as a very efficient GPU.

GPUs are addressed by HIP index, mapped through ``HIP_VISIBLE_DEVICES`` (or
``ROCR_VISIBLE_DEVICES``) to AMD SMI's order; each GPU's energy is kept with both ids.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from benchsuite.instruments.meters.base import MEASURED, EnergyReading, Meter, MeterInfo
from benchsuite.instruments.meters.polling import PowerPoller
from benchsuite.instruments.meters.validity import WindowFacts, window_problems

COUNTER_WRAP = 2**64  # the accumulator is a uint64
COUNTER_PERIOD_S = 0.001  # the SMU updates the accumulator about every millisecond
DEFAULT_POLL_HZ = 10.0
VALIDATE_S = 0.5


def _load_amdsmi() -> tuple[ModuleType | None, str]:
    try:
        import amdsmi
    except ImportError:
        return None, "amdsmi is not installed (pip install 'benchsuite[amd]')"
    except Exception as error:  # the package loads libamd_smi.so at import
        return None, f"amdsmi could not load its library ({type(error).__name__}: {error})"
    return amdsmi, ""


def visible_amd_ids(environ: dict[str, str] | None = None) -> list[int] | None:
    """AMD SMI indices of the GPUs HIP sees, in HIP order; ``None``: all."""
    env = environ if environ is not None else os.environ
    value = env.get("HIP_VISIBLE_DEVICES", env.get("ROCR_VISIBLE_DEVICES"))
    if value is None:
        return None
    return [int(item) for item in value.split(",") if item.strip().isdigit()]


def _counts_between(before: int, after: int) -> int:
    """Accumulator counts from ``before`` to ``after``, across a wrap of the uint64."""
    return (after - before) % COUNTER_WRAP


@dataclass
class _Gpu:
    label: str
    handle: Any
    counter: bool
    resolution_uj: float
    max_power_w: float | None
    note: str = ""


def _busy_gpu(hip_index: int, seconds: float) -> None:
    """Work the GPU for ``seconds`` (torch on ROCm names it cuda); else just wait."""
    try:
        import torch

        if torch.cuda.is_available():
            device = torch.device(f"cuda:{hip_index}")
            a = torch.randn(2048, 2048, device=device)
            until = time.perf_counter() + seconds
            while time.perf_counter() < until:
                a = a @ a
                a = a / a.norm()
            torch.cuda.synchronize(device)
            return
    except Exception:  # no usable torch here: waiting still moves a powered GPU's counter
        pass
    time.sleep(seconds)


class AmdSmiMeter(Meter):
    """Energy of the given HIP-visible AMD GPUs (all visible ones by default), summed."""

    source = "amdsmi"
    reads = frozenset({"gpu"})
    kind = MEASURED

    def __init__(
        self,
        hip_indices: Sequence[int] | None = None,
        amdsmi: ModuleType | Any | None = None,
        poll_hz: float = DEFAULT_POLL_HZ,
        clock: Callable[[], int] = time.perf_counter_ns,
        validate_s: float = VALIDATE_S,
        busy: Callable[[int, float], None] = _busy_gpu,
    ) -> None:
        self.hip_indices = list(hip_indices) if hip_indices is not None else None
        self.amdsmi: Any
        self.amdsmi, self._unavailable = (amdsmi, "") if amdsmi is not None else _load_amdsmi()
        self.poll_hz = poll_hz
        self.clock = clock
        self.validate_s = validate_s
        self.busy = busy
        self._gpus: list[_Gpu] | None = None
        self._window: dict[str, tuple[int | None, PowerPoller]] = {}
        self._start_ns = 0

    def _count(self, gpu: _Gpu) -> int:
        return int(self.amdsmi.amdsmi_get_energy_count(gpu.handle)["energy_accumulator"])

    def _power_w(self, handle: Any) -> float:
        info = self.amdsmi.amdsmi_get_power_info(handle)
        watts = info.get("current_socket_power")
        if not isinstance(watts, int | float):  # "N/A" on GPUs that report the average only
            watts = info["average_socket_power"]
        return float(watts)

    def _open(self) -> list[_Gpu]:
        if self._gpus is not None:
            return self._gpus
        self._gpus = []
        smi = self.amdsmi
        if smi is None:
            return self._gpus
        try:
            smi.amdsmi_init(smi.AmdSmiInitFlags.INIT_AMD_GPUS)
            handles = smi.amdsmi_get_processor_handles()
            ids = visible_amd_ids()
            ids = ids if ids is not None else list(range(len(handles)))
            chosen = self.hip_indices if self.hip_indices is not None else range(len(ids))
            for hip_index in chosen:
                if hip_index >= len(ids) or ids[hip_index] >= len(handles):
                    self._unavailable = f"HIP GPU {hip_index} is not visible ({len(ids)} visible)"
                    self._gpus = []
                    return self._gpus
                self._gpus.append(self._checked(hip_index, ids[hip_index], handles))
        except smi.AmdSmiException as error:
            self._unavailable = f"AMD SMI could not start ({error}): no AMD GPU driver here"
            self._gpus = []
        if not self._gpus and not self._unavailable:
            self._unavailable = "AMD SMI found no GPU"
        return self._gpus

    def _checked(self, hip_index: int, physical: int, handles: Sequence[Any]) -> _Gpu:
        """One GPU, its counter validated under load (see the module's doc)."""
        smi, handle = self.amdsmi, handles[physical]
        label = f"gpu{hip_index} = amdsmi {physical}"
        try:
            cap = smi.amdsmi_get_power_cap_info(handle)["max_power_cap"] / 1e6  # µW
        except smi.AmdSmiException:
            cap = None
        gpu = _Gpu(label, handle, True, 0.0, cap or None)
        try:
            gpu.resolution_uj = float(smi.amdsmi_get_energy_count(handle)["counter_resolution"])
        except smi.AmdSmiLibraryException as error:
            gpu.counter, gpu.note = False, f"no energy counter ({error.get_error_info(False)})"
            return gpu
        before = self._count(gpu)
        self.busy(hip_index, self.validate_s)
        moved = _counts_between(before, self._count(gpu))
        if moved <= 0:
            gpu.counter = False
            gpu.note = (
                f"energy counter refused: it did not move over {self.validate_s:g} s of work "
                "at start; socket power polled instead"
            )
        return gpu

    def info(self) -> MeterInfo:
        gpus = self._open()
        if not gpus:
            return MeterInfo(self.source, self.kind, False, self._unavailable)
        polled = f"socket power polled at {self.poll_hz:g} Hz, integrated"
        methods = [
            f"{g.label}: "
            + (f"energy accumulator ({g.resolution_uj:g} µJ), validated" if g.counter else polled)
            + (f" ({g.note})" if g.note else "")
            for g in gpus
        ]
        resolution = COUNTER_PERIOD_S if all(g.counter for g in gpus) else 1.0 / self.poll_hz
        return MeterInfo(
            self.source,
            self.kind,
            True,
            "AMD SMI: " + "; ".join(methods),
            tuple(g.label.split(" ")[0] for g in gpus),
            resolution,
        )

    def start(self) -> None:
        gpus = self._open()
        if not gpus:
            raise RuntimeError(f"AMD SMI meter is unavailable: {self._unavailable}")
        self._window = {}
        starts = {gpu.label: self._count(gpu) if gpu.counter else None for gpu in gpus}
        self._start_ns = self.clock()  # the counters were read just now: the window opens
        for gpu in gpus:
            poller = PowerPoller(
                functools.partial(self._power_w, gpu.handle),
                1.0 / self.poll_hz,
                self.clock,
                "amd-power",
            )
            poller.start()
            self._window[gpu.label] = (starts[gpu.label], poller)

    def stop(self) -> EnergyReading:
        assert self._gpus is not None
        per_gpu: dict[str, float] = {}
        problems: list[str] = []
        coverage, gaps, agreement = [], [], []
        duration_s = (self.clock() - self._start_ns) / 1e9
        ends = {gpu.label: self._count(gpu) if gpu.counter else None for gpu in self._gpus}
        for gpu in self._gpus:
            start, poller = self._window[gpu.label]
            polled = poller.stop()
            counter_j = None
            end = ends[gpu.label]
            if start is not None and end is not None:
                counter_j = _counts_between(start, end) * gpu.resolution_uj / 1e6
                if polled.energy_j > 0:
                    agreement.append(counter_j / polled.energy_j - 1)
            else:
                coverage.append(polled.coverage)
                gaps.append(polled.max_gap_s)
            energy_j = counter_j if counter_j is not None else polled.energy_j
            per_gpu[gpu.label] = energy_j
            problems += window_problems(
                WindowFacts(
                    f"{self.source} {gpu.label}",
                    duration_s,
                    energy_j,
                    COUNTER_PERIOD_S if gpu.counter else 1.0 / self.poll_hz,
                    polled,
                    counter_j,
                    gpu.max_power_w,
                )
            )
        return EnergyReading(
            source=self.source,
            kind=self.kind,
            domains=tuple(label.split(" ")[0] for label in per_gpu),
            energy_j=sum(per_gpu.values()),
            duration_s=duration_s,
            resolution_s=self.info().resolution_s or 1.0 / self.poll_hz,
            domain_energy_j={label.split(" ")[0]: j for label, j in per_gpu.items()},
            model="; ".join(
                f"{g.label}: {'energy accumulator' if g.counter else 'polled socket power'}"
                for g in self._gpus
            ),
            invalid_reason="; ".join(problems),
            coverage=min(coverage) if coverage else None,
            max_gap_s=max(gaps) if gaps else None,
            counter_power_rel=max(agreement, key=abs) if agreement else None,
            per_device_j=per_gpu,
        )
