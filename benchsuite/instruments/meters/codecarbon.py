"""CodeCarbon as an optional meter, for figures comparable with CodeCarbon's own.

CodeCarbon sums CPU, GPU and RAM energy. Its RAM figure is always a model (watts per GB), and its
CPU figure is a model too unless it could read RAPL (``intel_rapl``), Intel Power Gadget or the
Windows energy interface: in its ``cpu_load`` or ``constant`` (TDP) modes it estimates. A reading
is therefore ``measured`` only when CodeCarbon read a counter for every part it summed, which in
practice means ``estimated`` whenever RAM is included; the mode of each part is in ``model``.
Install with ``pip install 'benchsuite[codecarbon]'``.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

from benchsuite.instruments.meters.base import ESTIMATED, MEASURED, EnergyReading, Meter, MeterInfo

_MEASURED_CPU_MODES = ("intel_rapl", "intel_power_gadget", "windows_emi")
_KWH_TO_J = 3.6e6


def _hardware_modes(tracker: Any) -> dict[str, str]:
    """CodeCarbon's parts and how it gets each one's power: 'measured' or 'estimated (mode)'.

    CodeCarbon has no public word for its modes, so this reads its ``_hardware`` list (after the
    public ``get_detected_hardware()`` has made it detect them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tracker.get_detected_hardware()
    modes = {}
    for part in getattr(tracker, "_hardware", []):
        kind = type(part).__name__.lower()
        if kind == "cpu":
            mode = getattr(part, "_mode", "unknown")
            modes["cpu"] = "measured" if mode in _MEASURED_CPU_MODES else f"estimated ({mode})"
        elif kind == "gpu":
            modes["gpu"] = "measured"  # CodeCarbon reads NVML
        elif kind == "ram":
            modes["ram"] = "estimated (W per GB model)"
        else:
            modes[kind] = "unknown"
    return modes


class CodeCarbonMeter(Meter):
    source = "codecarbon"
    reads = frozenset({"cpu", "dram", "gpu"})
    kind = ESTIMATED  # until a reading proves otherwise; see the module docstring

    def __init__(self, country_iso_code: str = "USA") -> None:
        self.country_iso_code = country_iso_code
        self._tracker: Any = None

    def _new_tracker(self) -> Any:
        from codecarbon import OfflineEmissionsTracker

        logging.getLogger("codecarbon").setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # CodeCarbon's own deprecation noise
            return OfflineEmissionsTracker(
                country_iso_code=self.country_iso_code,
                save_to_file=False,
                log_level="error",
                tracking_mode="process",
                measure_power_secs=1,
            )

    def info(self) -> MeterInfo:
        try:
            tracker = self._new_tracker()
        except ImportError:
            return MeterInfo(
                self.source,
                self.kind,
                False,
                "codecarbon is not installed (pip install 'benchsuite[codecarbon]')",
            )
        except Exception as error:  # CodeCarbon failing to start is "unavailable", not a crash
            return MeterInfo(self.source, self.kind, False, f"CodeCarbon could not start: {error}")
        modes = _hardware_modes(tracker)
        kind = MEASURED if modes and all(m == "measured" for m in modes.values()) else ESTIMATED
        detail = "CodeCarbon offline tracker; " + ", ".join(f"{k}: {v}" for k, v in modes.items())
        return MeterInfo(self.source, kind, True, detail, tuple(modes), 1.0)

    def start(self) -> None:
        self._tracker = self._new_tracker()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._tracker.start()

    def stop(self) -> EnergyReading:
        tracker, self._tracker = self._tracker, None
        if tracker is None:
            raise RuntimeError("CodeCarbonMeter.stop() called before start()")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tracker.stop()
        data = tracker.final_emissions_data
        modes = _hardware_modes(tracker)
        per_domain = {
            "cpu": data.cpu_energy * _KWH_TO_J,
            "gpu": data.gpu_energy * _KWH_TO_J,
            "ram": data.ram_energy * _KWH_TO_J,
        }
        per_domain = {k: v for k, v in per_domain.items() if k in modes}
        kind = MEASURED if modes and all(m == "measured" for m in modes.values()) else ESTIMATED
        return EnergyReading(
            source=self.source,
            kind=kind,
            domains=tuple(per_domain),
            energy_j=data.energy_consumed * _KWH_TO_J,
            duration_s=float(data.duration),
            resolution_s=1.0,
            domain_energy_j=per_domain,
            model="codecarbon " + ", ".join(f"{k}: {v}" for k, v in modes.items()),
        )
