"""Fakes of the fleet's energy sources that this machine lacks, each imitating its real interface:

* ``fake_amdsmi``: a module with AMD SMI's functions, return dictionaries, units (the
  accumulator in counts of ``counter_resolution`` µJ, timestamps in ns, socket power in W, power
  caps in µW) and exceptions (``AmdSmiLibraryException(err_code)`` with ``get_error_code`` and
  ``get_error_info``, as ``amdsmi/amdsmi_exception.py`` of amdsmi 7.0.2 defines them);
* ``fake_zeus_apple_silicon``: ``AppleEnergyMonitor`` with ``begin_window`` / ``end_window``
  (labels as the real one checks them) returning ``AppleEnergyMetrics``' mJ fields;
* ``HwmonTree``: a ``/sys/class/hwmon`` of files (an Intel ``xe`` energy counter in µJ, a
  Jetson's ``ina3221`` rails in mV and mA, a Grace module's ``power_meter`` in µW), rewritten
  whole by a background thread at a known power, as the kernel's files change under a reader;
* ``fake_ipmitool``: an ``ipmitool`` on PATH that prints what ``ipmitool dcmi power reading``
  prints, with the power a test sets, and records its arguments and environment;
* ``RedfishMockup``: sushy-tools' ``sushy-static`` Redfish mockup server on 127.0.0.1 serving a
  chassis whose power a background thread keeps changing (the server reads the file on every
  GET).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

AMDSMI_STATUS_NOT_SUPPORTED = 2
AMDSMI_STATUS_INIT_ERROR = 18


def write_whole(path: Path, text: str) -> None:
    """Replace a file at once, as a sysfs read never sees half a value."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


# ---------------------------------------------------------------- AMD SMI


@dataclass
class FakeAmdGpu:
    """An AMD GPU drawing ``power_w`` (W, steady); its accumulator counts the integral."""

    power_w: float
    resolution_uj: float = 15.259
    frozen: bool = False
    has_counter: bool = True
    reported_power_scale: float = 1.0
    """The socket power reported, relative to what the counter counts (1: they agree)."""
    max_power_cap_uw: int = 750_000_000
    start_count: int = 1_000_000
    """The accumulator's value now: near 2**64 to see it wrap (it is a uint64)."""
    started: float = field(default_factory=time.perf_counter)


def fake_amdsmi(gpus: list[FakeAmdGpu]) -> types.ModuleType:  # noqa: C901 - one module
    module = types.ModuleType("amdsmi")

    class AmdSmiException(Exception):
        """Base smi exception class"""

    class AmdSmiLibraryException(AmdSmiException):
        def __init__(self, err_code: int) -> None:
            err_code = abs(err_code)
            super().__init__(err_code)
            self.err_code = err_code
            self.err_info = {
                AMDSMI_STATUS_NOT_SUPPORTED: "AMDSMI_STATUS_NOT_SUPPORTED - Feature not supported",
                AMDSMI_STATUS_INIT_ERROR: "AMDSMI_STATUS_INIT_ERROR - Initialization error",
            }.get(err_code, "unknown error")

        def __str__(self) -> str:
            return f"Error code:\n\t{self.err_code} | {self.err_info}"

        def get_error_info(self, detailed: bool = True) -> str:
            return self.err_info if detailed else self.err_info.split(" - ")[0]

        def get_error_code(self) -> int:
            return self.err_code

    class AmdSmiInitFlags:
        INIT_ALL_PROCESSORS = 0xFFFFFFFF
        INIT_AMD_CPUS = 1 << 0
        INIT_AMD_GPUS = 1 << 1

    class ProcessorHandle:  # amdsmi_wrapper.amdsmi_processor_handle: an opaque pointer
        def __init__(self, gpu: FakeAmdGpu) -> None:
            self.gpu = gpu

    handles = [ProcessorHandle(gpu) for gpu in gpus]
    module.AmdSmiException = AmdSmiException  # type: ignore[attr-defined]
    module.AmdSmiLibraryException = AmdSmiLibraryException  # type: ignore[attr-defined]
    module.AmdSmiInitFlags = AmdSmiInitFlags  # type: ignore[attr-defined]

    def amdsmi_init(flag: int = AmdSmiInitFlags.INIT_AMD_GPUS) -> None:
        return None

    def amdsmi_get_processor_handles() -> list[ProcessorHandle]:
        return list(handles)

    def amdsmi_get_energy_count(handle: ProcessorHandle) -> dict[str, float | int]:
        gpu = handle.gpu
        if not gpu.has_counter:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_SUPPORTED)
        now = time.perf_counter()
        joules = 0.0 if gpu.frozen else gpu.power_w * (now - gpu.started)
        return {
            "energy_accumulator": (int(joules * 1e6 / gpu.resolution_uj) + gpu.start_count) % 2**64,
            "counter_resolution": gpu.resolution_uj,
            "timestamp": int(now * 1e9),
        }

    def amdsmi_get_power_info(handle: ProcessorHandle) -> dict[str, int | str]:
        watts = round(handle.gpu.power_w * handle.gpu.reported_power_scale)
        return {
            "socket_power": watts,
            "current_socket_power": watts,
            "average_socket_power": "N/A",
            "gfx_voltage": "N/A",
            "soc_voltage": "N/A",
            "mem_voltage": "N/A",
            "power_limit": handle.gpu.max_power_cap_uw // 1_000_000,
        }

    def amdsmi_get_power_cap_info(handle: ProcessorHandle) -> dict[str, int]:
        cap = handle.gpu.max_power_cap_uw
        return {
            "power_cap": cap,
            "default_power_cap": cap,
            "dpm_cap": 0,
            "min_power_cap": 0,
            "max_power_cap": cap,
        }

    def amdsmi_shut_down() -> None:
        return None

    for function in (
        amdsmi_init,
        amdsmi_get_processor_handles,
        amdsmi_get_energy_count,
        amdsmi_get_power_info,
        amdsmi_get_power_cap_info,
        amdsmi_shut_down,
    ):
        setattr(module, function.__name__, function)
    return module


# ---------------------------------------------------------------- Apple silicon


def fake_zeus_apple_silicon(watts: dict[str, float | None]) -> types.ModuleType:
    """``watts`` per ``AppleEnergyMetrics`` field (``cpu_total_mj``, ``gpu_mj``, ...); ``None``:
    a field this chip does not report."""
    module = types.ModuleType("zeus_apple_silicon")

    @dataclass
    class AppleEnergyMetrics:
        cpu_total_mj: int | None = None
        efficiency_cores_mj: list[int] | None = None
        performance_cores_mj: list[int] | None = None
        efficiency_core_manager_mj: int | None = None
        performance_core_manager_mj: int | None = None
        dram_mj: int | None = None
        gpu_mj: int | None = None
        gpu_sram_mj: int | None = None
        ane_mj: int | None = None

    class AppleEnergyMonitor:
        def __init__(self) -> None:
            self.windows: dict[str, float] = {}

        def begin_window(self, key: str, restart: bool = False) -> None:
            if key in self.windows and not restart:
                raise RuntimeError(f"Measurement window '{key}' already exists")
            self.windows[key] = time.perf_counter()

        def end_window(self, key: str) -> AppleEnergyMetrics:
            if key not in self.windows:
                raise RuntimeError(f"No measurement window with name '{key}' exists")
            seconds = time.perf_counter() - self.windows.pop(key)
            return AppleEnergyMetrics(
                **{
                    name: None if power is None else round(power * seconds * 1000)
                    for name, power in watts.items()
                }
            )

    module.AppleEnergyMonitor = AppleEnergyMonitor  # type: ignore[attr-defined]
    module.AppleEnergyMetrics = AppleEnergyMetrics  # type: ignore[attr-defined]
    return module


# ---------------------------------------------------------------- hwmon


class HwmonTree:
    """A ``/sys/class/hwmon`` in a folder; :meth:`running` rewrites its changing files from a
    thread every ``step_s`` at the powers set on it."""

    def __init__(self, root: Path, clock_s: Callable[[], float] = time.perf_counter) -> None:
        self.root = root
        self.clock_s = clock_s
        """The time the files are written for: a test's fake clock makes them exact."""
        root.mkdir(parents=True, exist_ok=True)
        self._writers: list[Callable[[float], None]] = []
        self.cycles = 0

    def _device(self, name: str) -> Path:
        device = self.root / f"hwmon{len(list(self.root.iterdir()))}"
        device.mkdir()
        (device / "name").write_text(name + "\n")
        return device

    def add_intel_gpu(self, watts: float, driver: str = "xe", start_uj: int = 10**9) -> Path:
        """An energy counter (µJ) labelled ``card``, counting ``watts`` from now on."""
        device = self._device(driver)
        (device / "energy1_label").write_text("card\n")
        counter = device / "energy1_input"
        write_whole(counter, f"{start_uj}\n")
        state = {"watts": watts, "base": float(start_uj), "since": self.clock_s()}

        def write(now: float) -> None:
            joules = state["watts"] * (now - state["since"])
            write_whole(counter, f"{int(state['base'] + joules * 1e6) % 2**64}\n")  # u64

        self._writers.append(write)
        return device

    def add_jetson(self, rails_w: dict[str, float], volts: float = 5.0) -> Path:
        """An INA3221 whose channels are ``rails_w`` (label: watts) at ``volts``."""
        device = self._device("ina3221")
        for channel, (label, watts) in enumerate(rails_w.items(), start=1):
            (device / f"in{channel}_label").write_text(label + "\n")
            write_whole(device / f"in{channel}_input", f"{round(volts * 1000)}\n")  # mV
            write_whole(device / f"curr{channel}_input", f"{round(watts / volts * 1000)}\n")  # mA
        return device

    def add_power_meter(self, what: str, watts: float, interval_ms: int = 50) -> Path:
        """An ACPI power meter (``power_meter``): ``power1_average`` in µW."""
        device = self._device("power_meter")
        (device / "power1_oem_info").write_text(what + "\n")
        (device / "power1_average_interval").write_text(f"{interval_ms}\n")
        write_whole(device / "power1_average", f"{round(watts * 1e6)}\n")
        return device

    def settle(self) -> None:
        """Wait until the writer has written the files for the clock's time now (two whole
        cycles after this call: one may have begun before it)."""
        first = self.cycles
        deadline = time.monotonic() + 60
        while self.cycles < first + 2 and time.monotonic() < deadline:
            time.sleep(0.001)

    @contextmanager
    def running(self, step_s: float = 0.002) -> Iterator[None]:
        stop = threading.Event()

        def run() -> None:
            while not stop.wait(step_s):
                now = self.clock_s()
                for write in self._writers:
                    write(now)
                self.cycles += 1

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


# ---------------------------------------------------------------- ipmitool

IPMITOOL = '''#!{python}
"""A fake ipmitool: prints what `ipmitool dcmi power reading` prints, with the power in {power}."""
import json, os, sys
from pathlib import Path
Path({log!r}).open("a").write(json.dumps({{"argv": sys.argv[1:],
    "password_env": os.environ.get("IPMI_PASSWORD")}}) + "\\n")
if sys.argv[-3:] != ["dcmi", "power", "reading"]:
    print("Invalid command", file=sys.stderr)
    sys.exit(1)
watts = round(float(Path({power!r}).read_text()))
print("""
    Instantaneous power reading:                 %4d Watts
    Minimum during sampling period:              %4d Watts
    Maximum during sampling period:              %4d Watts
    Average power reading over sample period:    %4d Watts
    IPMI timestamp:                           Mon Dec  7 10:00:00 2026
    Sampling period:                          00000001 Seconds.
    Power reading state is:                   activated
""" % (watts, watts - 5, watts + 5, watts))
'''


@dataclass
class FakeIpmitool:
    folder: Path
    power_file: Path
    log: Path

    def set_power(self, watts: float) -> None:
        write_whole(self.power_file, f"{watts}\n")

    def calls(self) -> list[dict[str, object]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


def fake_ipmitool(folder: Path, watts: float) -> FakeIpmitool:
    """An ``ipmitool`` script in ``folder`` (put it first on PATH)."""
    folder.mkdir(parents=True, exist_ok=True)
    fake = FakeIpmitool(folder, folder / "power.txt", folder / "calls.jsonl")
    fake.set_power(watts)
    script = folder / "ipmitool"
    script.write_text(
        IPMITOOL.format(python=sys.executable, power=str(fake.power_file), log=str(fake.log))
    )
    script.chmod(0o755)
    return fake


# ---------------------------------------------------------------- Redfish


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedfishMockup:
    """A Redfish service root with one chassis, served by ``sushy-static``; ``power_w`` is what
    the chassis reports, rewritten every ``step_s`` with a small wobble of ``wobble_w``."""

    def __init__(self, root: Path, power_w: float, environment_metrics: bool = False) -> None:
        self.root = root
        self.power_w = power_w
        self.wobble_w = 0.0
        self.environment_metrics = environment_metrics
        base = "/redfish/v1"
        chassis = {"@odata.id": f"{base}/Chassis/1", "Id": "1", "Name": "Chassis 1"}
        if environment_metrics:
            chassis["EnvironmentMetrics"] = {"@odata.id": f"{base}/Chassis/1/EnvironmentMetrics"}
        else:
            chassis["Power"] = {"@odata.id": f"{base}/Chassis/1/Power"}
        documents = {
            "": {
                "@odata.id": f"{base}/",
                "RedfishVersion": "1.15.0",
                "Chassis": {"@odata.id": f"{base}/Chassis"},
                "SessionService": {"@odata.id": f"{base}/SessionService"},
                "Links": {"Sessions": {"@odata.id": f"{base}/SessionService/Sessions"}},
            },
            "SessionService": {"@odata.id": f"{base}/SessionService"},
            "SessionService/Sessions": {
                "@odata.id": f"{base}/SessionService/Sessions",
                "Members": [],
            },
            "Chassis": {
                "@odata.id": f"{base}/Chassis",
                "Members": [{"@odata.id": f"{base}/Chassis/1"}],
            },
            "Chassis/1": chassis,
        }
        for path, body in documents.items():
            folder = root / path
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "index.json").write_text(json.dumps(body))
        self._power_file().parent.mkdir(parents=True, exist_ok=True)
        self._write(power_w)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def _power_file(self) -> Path:
        leaf = "EnvironmentMetrics" if self.environment_metrics else "Power"
        return self.root / "Chassis" / "1" / leaf / "index.json"

    def _write(self, watts: float) -> None:
        if self.environment_metrics:
            body = {"PowerWatts": {"Reading": watts, "DataSourceUri": "/redfish/v1/Chassis/1"}}
        else:
            body = {"PowerControl": [{"MemberId": "0", "PowerConsumedWatts": watts}]}
        write_whole(self._power_file(), json.dumps(body))

    @contextmanager
    def serving(self, step_s: float = 0.02) -> Iterator[str]:
        server = subprocess.Popen(
            [
                Path(sys.executable).parent / "sushy-static",
                "-i",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-m",
                str(self.root),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        stop = threading.Event()

        def wobble() -> None:
            sign = 1
            while not stop.wait(step_s):
                sign = -sign
                self._write(self.power_w + sign * self.wobble_w)

        thread = threading.Thread(target=wobble, daemon=True)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("sushy-static did not start") from None
                    time.sleep(0.05)
            thread.start()
            yield self.url
        finally:
            stop.set()
            if thread.is_alive():
                thread.join()
            server.terminate()
            server.wait(10)
