"""The test suite's second pass: this machine dressed as a host with energy counters.

With ``BENCHSUITE_TEST_HOST=counters`` each test process (every xdist worker) makes, before any
test runs:

- a powercap tree laid out as /sys/class/powercap is (``intel-rapl:0`` package-0 with its core
  and dram sub-zones), whose ``energy_uj`` counters a background thread advances from the
  monotonic clock every few milliseconds at a steady power, wrapping at the zone's range like the
  kernel's; ``BENCHSUITE_POWERCAP_ROOT`` points at it, so the RAPL meter and every child process
  read it as the machine's own;
- NVIDIA's management library, ``libnvidia-ml.so.1``, compiled from ``fake_nvml.c`` (one 60 W
  GPU, NVML's entry points and units): loaded into this process by its soname, so the real
  ``pynvml`` finds it, and on ``LD_LIBRARY_PATH`` for child processes.

The tests that run in this pass are the ones the first pass saw asking the host
(:mod:`tests.host.probes`); they must pass unchanged, as they must on a real host with RAPL.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

HOST_ENV = "BENCHSUITE_TEST_HOST"
PACKAGE_W, CORE_W, DRAM_W = 18.0, 9.0, 3.0
MAX_RANGE_UJ = 262_143_328_850
WRITE_EVERY_S = 0.002


def _write(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)  # a reader never sees half a value


def powercap_tree(root: Path) -> dict[Path, float]:
    """The zones' folders and each one's power in watts."""
    zones = {
        "intel-rapl:0": ("package-0", PACKAGE_W),
        "intel-rapl:0:0": ("core", CORE_W),
        "intel-rapl:0:1": ("dram", DRAM_W),
    }
    (root / "intel-rapl").mkdir(parents=True, exist_ok=True)
    powers = {}
    for zone, (name, watts) in zones.items():
        folder = root / zone
        folder.mkdir(exist_ok=True)
        (folder / "name").write_text(name + "\n")
        (folder / "max_energy_range_uj").write_text(f"{MAX_RANGE_UJ}\n")
        _write(folder / "energy_uj", "0\n")
        powers[folder] = watts
    return powers


def advance_forever(powers: dict[Path, float]) -> None:
    started = time.monotonic()
    while True:
        elapsed = time.monotonic() - started
        for folder, watts in powers.items():
            _write(folder / "energy_uj", f"{round(watts * elapsed * 1e6) % MAX_RANGE_UJ}\n")
        time.sleep(WRITE_EVERY_S)


def fake_nvml_library(folder: Path) -> Path:
    """``libnvidia-ml.so.1`` built from fake_nvml.c with the real library's soname."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise RuntimeError(
            f"{HOST_ENV}=counters needs a C compiler (cc or gcc) to build the fake NVML library"
        )
    library = folder / "libnvidia-ml.so.1"
    source = Path(__file__).with_name("fake_nvml.c")
    subprocess.run(
        [
            compiler,
            "-shared",
            "-fPIC",
            "-O1",
            "-Wl,-soname,libnvidia-ml.so.1",
            "-o",
            library,
            source,
        ],
        check=True,
        capture_output=True,
    )
    return library


def dress_as_host_with_counters(scratch: Path) -> None:
    """Make the fakes and point this process and its children at them (idempotent)."""
    if os.environ.get("BENCHSUITE_POWERCAP_ROOT", "").startswith(str(scratch)):
        return
    root = scratch / "powercap"
    powers = powercap_tree(root)
    threading.Thread(target=advance_forever, args=(powers,), daemon=True).start()
    os.environ["BENCHSUITE_POWERCAP_ROOT"] = str(root)
    library = fake_nvml_library(scratch)
    ctypes.CDLL(str(library), mode=ctypes.RTLD_GLOBAL)  # dlopen by soname now finds it
    os.environ["LD_LIBRARY_PATH"] = os.pathsep.join(
        part for part in (str(scratch), os.environ.get("LD_LIBRARY_PATH")) if part
    )
