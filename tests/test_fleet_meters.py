"""The fleet's meters (AMD, Apple silicon, Jetson, Intel GPUs, a module's power, the machine's
power supply by Redfish and IPMI) against fakes of their real interfaces (tests/fleet_fakes.py),
each over a real one-second window at a known power; the composite window with the platform's
remainder; the validity checks; several GPUs summed, never averaged; ``--require-measured``."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from benchsuite.instruments.meters import (
    AmdSmiMeter,
    AppleSiliconMeter,
    CompositeMeter,
    IntelGpuMeter,
    IpmiMeter,
    JetsonRailsMeter,
    ModulePowerMeter,
    NvmlMeter,
    RaplMeter,
    RedfishMeter,
    all_meters,
)
from benchsuite.instruments.meters.base import EnergyReading, Meter
from benchsuite.instruments.meters.bmc_config import bmc_settings
from benchsuite.instruments.meters.composite import split_parts
from benchsuite.instruments.meters.ipmi import parse_dcmi
from benchsuite.instruments.meters.polling import PowerPoller
from benchsuite.instruments.meters.validity import WindowFacts, window_problems
from tests.conftest import FakeClock, run_cli
from tests.fakes import FakeGpu, FakePowercap, fake_nvml
from tests.fleet_fakes import (
    FakeAmdGpu,
    HwmonTree,
    RedfishMockup,
    fake_amdsmi,
    fake_ipmitool,
    fake_zeus_apple_silicon,
)

WINDOW_S = 1.0


def _window(meter: Meter, seconds: float = WINDOW_S) -> EnergyReading:
    meter.start()
    time.sleep(seconds)
    return meter.stop()


def _power(reading: EnergyReading) -> float:
    return reading.energy_j / reading.duration_s


def _never_silent(reading: EnergyReading) -> None:
    """Every reading is a positive figure, or invalid with a reason: never a silent zero."""
    assert reading.energy_j > 0 or reading.invalid_reason


# ---------------------------------------------------------------- each source


def test_amd_counter_reads_the_injected_power_and_is_validated_at_start() -> None:
    gpu = FakeAmdGpu(power_w=312.5)
    busy: list[float] = []
    meter = AmdSmiMeter(
        amdsmi=fake_amdsmi([gpu]), busy=lambda i, s: (busy.append(s), time.sleep(s))
    )
    info = meter.info()
    assert info.available and "energy accumulator (15.259 µJ), validated" in info.detail
    assert busy == [0.5]  # the counter was watched under work before it was trusted
    reading = _window(meter)
    assert _power(reading) == pytest.approx(312.5, rel=0.005)
    assert reading.invalid_reason == "" and reading.counter_power_rel is not None
    assert reading.per_device_j.keys() == {"gpu0 = amdsmi 0"}


def test_amd_counter_that_does_not_move_is_refused_for_power_with_the_reason() -> None:
    gpu = FakeAmdGpu(power_w=200.0, frozen=True)
    meter = AmdSmiMeter(amdsmi=fake_amdsmi([gpu]), validate_s=0.05)
    info = meter.info()
    assert "energy counter refused: it did not move over 0.05 s of work" in info.detail
    reading = _window(meter)
    assert _power(reading) == pytest.approx(200.0, rel=0.005)  # the polled socket power
    assert reading.coverage == pytest.approx(1.0, abs=0.02)


def test_amd_without_a_counter_polls_power_and_hip_ids_map_to_physical_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HIP_VISIBLE_DEVICES", "1")
    gpus = [FakeAmdGpu(power_w=50.0), FakeAmdGpu(power_w=150.0, has_counter=False)]
    meter = AmdSmiMeter([0], amdsmi=fake_amdsmi(gpus), validate_s=0.01)
    assert "no energy counter (AMDSMI_STATUS_NOT_SUPPORTED)" in meter.info().detail
    reading = _window(meter)
    assert _power(reading) == pytest.approx(150.0, rel=0.005)
    assert list(reading.per_device_j) == ["gpu0 = amdsmi 1"]


def _fake_clock_window(tree: HwmonTree, meter: Meter, clock: FakeClock) -> EnergyReading:
    """A 1 s window on ``clock``: the tree's writer thread has written the counter for the
    window's start, and for its end, before the meter reads it."""
    with tree.running():
        tree.settle()
        meter.start()
        clock.advance(int(WINDOW_S * 1e9))
        tree.settle()
        return meter.stop()


def test_amd_and_intel_counters_read_across_their_wrap(tmp_path: Path) -> None:
    """Both counters are 64-bit (AMD SMI's accumulator in counts, the hwmon file in µJ); each
    starts a few joules short of 2**64 here, so that it wraps inside the window."""
    gpu = FakeAmdGpu(power_w=250.0, start_count=2**64 - 100_000)  # 1.5 J before the wrap
    amd = AmdSmiMeter(amdsmi=fake_amdsmi([gpu]), validate_s=0.01)
    amd.info()
    assert _power(_window(CompositeMeter([amd]))) == pytest.approx(250.0, rel=0.005)
    clock = FakeClock()
    tree = HwmonTree(tmp_path / "hwmon", lambda: clock() / 1e9)
    tree.add_intel_gpu(watts=40.0, start_uj=2**64 - 3_000_000)  # 3 J before the wrap
    reading = _fake_clock_window(tree, IntelGpuMeter(tree.root, clock), clock)
    assert _power(reading) == pytest.approx(40.0, rel=0.005)
    assert reading.invalid_reason == ""


def test_intel_gpu_counter_reads_the_injected_power(tmp_path: Path) -> None:
    clock = FakeClock()
    tree = HwmonTree(tmp_path / "hwmon", lambda: clock() / 1e9)
    tree.add_intel_gpu(watts=87.0)
    meter = IntelGpuMeter(tree.root, clock)
    assert meter.info().available and meter.info().domains == ("gpu0",)
    reading = _fake_clock_window(tree, meter, clock)
    assert _power(reading) == pytest.approx(87.0, rel=0.005)
    assert split_parts(reading)["gpu"][0] == reading.energy_j


def test_jetson_input_rail_is_the_total_and_the_others_are_inside_it(tmp_path: Path) -> None:
    tree = HwmonTree(tmp_path / "hwmon")
    tree.add_jetson({"VDD_IN": 14.0, "VDD_CPU_GPU_CV": 6.0, "VDD_SOC": 3.0})
    meter = JetsonRailsMeter(tree.root)
    assert "the input rail VDD_IN is the total" in meter.info().detail
    reading = _window(meter)
    assert _power(reading) == pytest.approx(14.0, rel=0.005)  # not 23 W: nothing twice
    assert reading.domain_energy_j["rail/VDD_SOC"] == pytest.approx(3.0 * reading.duration_s, 0.01)
    assert split_parts(reading) == {"soc": (reading.energy_j, "measured")}


def test_a_module_reading_leaves_its_gpu_meter_out_of_the_composite(tmp_path: Path) -> None:
    tree = HwmonTree(tmp_path / "hwmon")
    tree.add_power_meter("Module Power Socket 0", 620.0)
    tree.add_power_meter("Grace Power Socket 0", 140.0)
    module = ModulePowerMeter(tree.root)
    assert module.info().available
    gpu = FakeGpu(time.perf_counter, lambda t: 400.0, lambda t: 400.0 * t)
    nvml = NvmlMeter(nvml=fake_nvml([gpu]), sync=lambda: None)
    composite = CompositeMeter([nvml, module])
    assert composite.source == "module"
    assert composite.left_out == ["nvml left out: the module reading includes its gpu"]
    reading = _window(composite)
    assert _power(reading) == pytest.approx(620.0, rel=0.005)
    assert reading.domain_energy_j["Grace Power Socket 0"] > 0  # kept, not added


def test_apple_silicon_parts_and_a_field_the_chip_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    watts = {"cpu_total_mj": 9.0, "gpu_mj": 4.0, "gpu_sram_mj": 0.5, "dram_mj": None, "ane_mj": 1.5}
    meter = AppleSiliconMeter(fake_zeus_apple_silicon(watts))
    reading = _window(meter)
    parts = {
        part: joules / reading.duration_s for part, (joules, _) in split_parts(reading).items()
    }
    assert parts == pytest.approx({"cpu": 9.0, "gpu": 4.5, "soc": 1.5}, rel=0.005)
    assert "dram" not in parts  # not reported: absent, never a zero
    _window(meter, 0.01)  # a label is free again once its window ended


def test_redfish_chassis_power_through_the_dmtf_client(tmp_path: Path) -> None:
    for environment_metrics in (False, True):
        mockup = RedfishMockup(
            tmp_path / f"mockup-{environment_metrics}", 412.0, environment_metrics
        )
        mockup.wobble_w = 1.0  # the readings change between polls: 411 and 413 W
        with mockup.serving() as url:
            meter = RedfishMeter({"url": url, "username": "u", "password": "p", "period_s": 0.05})
            info = meter.info()
            assert info.available, info.detail
            assert ("EnvironmentMetrics" in info.detail) == environment_metrics
            reading = _window(meter)
        assert _power(reading) == pytest.approx(412.0, rel=0.005)
        assert reading.domains == ("platform",) and reading.coverage == pytest.approx(1, abs=0.05)


def test_ipmi_dcmi_reading_with_the_password_in_the_environment_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = fake_ipmitool(tmp_path / "bin", 233.0)
    monkeypatch.setenv("PATH", f"{fake.folder}:{os.environ['PATH']}")
    settings = {"host": "10.0.0.9", "username": "admin", "password": "s3cret", "period_s": 0.05}
    meter = IpmiMeter(settings)
    assert meter.info().available
    reading = _window(meter)
    assert _power(reading) == pytest.approx(233.0, rel=0.005)
    call = fake.calls()[-1]
    assert call["argv"][:7] == ["-I", "lanplus", "-H", "10.0.0.9", "-U", "admin", "-E"]
    assert "s3cret" not in call["argv"] and call["password_env"] == "s3cret"


def test_dcmi_output_that_says_measurement_is_off_is_refused() -> None:
    assert parse_dcmi("Instantaneous power reading:   180 Watts\n") == 180.0
    with pytest.raises(ValueError, match="deactivated"):
        parse_dcmi("Instantaneous power reading: 0 Watts\nPower reading state is: deactivated\n")


def test_bmc_credentials_come_from_the_environment_or_a_private_file(tmp_path: Path) -> None:
    config = tmp_path / "bmc.toml"
    config.write_text('[redfish]\nurl = "https://bmc"\nusername = "a"\npassword = "b"\n')
    config.chmod(0o644)
    from benchsuite.errors import UsageError

    with pytest.raises(UsageError, match="others can read it; chmod 600"):
        bmc_settings("redfish", {"BENCHSUITE_BMC_CONFIG": str(config)})
    config.chmod(0o600)
    env = {"BENCHSUITE_BMC_CONFIG": str(config), "BENCHSUITE_REDFISH_PERIOD_S": "0.5"}
    assert bmc_settings("redfish", env) == {
        "url": "https://bmc",
        "username": "a",
        "password": "b",
        "period_s": 0.5,
    }


def test_every_source_is_listed_with_why_it_does_not_work_here() -> None:
    sources = {meter.source: meter.info() for meter in all_meters()}
    assert {"amdsmi", "apple", "jetson", "intel-gpu", "module", "redfish", "ipmi"} <= set(sources)
    for info in sources.values():
        assert info.available or info.detail
    done = run_cli("meters")
    assert done.returncode == 0 and "benchsuite[amd]" in done.stdout


# ---------------------------------------------------------------- one window, all parts


def test_one_window_gives_parts_that_add_up_and_the_platform_remainder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A GPU at 100 W (NVML), CPU packages at 60 W and DRAM at 10 W (RAPL), and the machine at
    its power supply at 250 W (IPMI): the unattributed remainder is the injected 80 W."""
    powercap = FakePowercap(tmp_path / "powercap")
    powercap.add_zone("intel-rapl:0", "package-0")
    powercap.add_zone("intel-rapl:0:2", "dram")
    ipmi = fake_ipmitool(tmp_path / "bin", 250.0)
    monkeypatch.setenv("PATH", f"{ipmi.folder}:{os.environ['PATH']}")
    gpu = FakeGpu(time.perf_counter, lambda t: 100.0, lambda t: 100.0 * t)
    meter = CompositeMeter(
        [
            NvmlMeter(nvml=fake_nvml([gpu]), sync=lambda: None),
            RaplMeter(powercap.root),
            IpmiMeter({"period_s": 0.05}),
        ]
    )
    last = [time.perf_counter()]

    def advance() -> None:  # the counters as the kernel has them now
        now = time.perf_counter()
        powercap.advance(now - last[0], {"intel-rapl:0": 60.0, "intel-rapl:0:2": 10.0})
        last[0] = now

    advance()
    meter.start()
    time.sleep(WINDOW_S)
    advance()
    reading = meter.stop()
    watts = {
        part: joules / reading.duration_s for part, (joules, _) in split_parts(reading).items()
    }
    assert watts == pytest.approx(
        {"gpu": 100.0, "cpu": 60.0, "dram": 10.0, "platform": 250.0, "unattributed": 80.0},
        rel=0.02,
    )
    assert _power(reading) == pytest.approx(170.0, rel=0.01)  # the parts; the platform beside
    assert reading.part_sources["platform"] == "ipmi" and reading.invalid_reason == ""


# ---------------------------------------------------------------- validity


def test_a_frozen_counter_is_invalid_with_its_reason(tmp_path: Path) -> None:
    tree = HwmonTree(tmp_path / "hwmon")
    tree.add_intel_gpu(watts=0.0)  # the counter never moves
    reading = _window(IntelGpuMeter(tree.root), 0.2)
    assert "the energy counter did not move over" in reading.invalid_reason
    _never_silent(reading)


def test_a_gap_between_samples_is_invalid_with_its_reason() -> None:
    reads = iter(range(10**6))

    def hangs_once() -> float:
        if next(reads) == 3:
            time.sleep(0.5)  # a BMC that did not answer for half a second
        return 100.0

    poller = PowerPoller(hangs_once, 0.02)
    poller.start()
    time.sleep(1.0)
    polled = poller.stop()
    problems = window_problems(
        WindowFacts("redfish", polled.duration_s, polled.energy_j, 0.02, polled)
    )
    assert polled.max_gap_s >= 0.25  # a sample is timed at the middle of its read
    assert any("a gap of" in p and "at most 3 periods" in p for p in problems), problems


def test_a_counter_and_its_power_disagreeing_is_invalid_with_its_reason() -> None:
    gpu = FakeAmdGpu(power_w=300.0, reported_power_scale=0.5)  # power reads half the counter
    meter = AmdSmiMeter(amdsmi=fake_amdsmi([gpu]), validate_s=0.01)
    reading = _window(meter, 2.1)
    assert "the integrated power" in reading.invalid_reason and "disagree by +10" in (
        reading.invalid_reason
    )
    assert reading.counter_power_rel == pytest.approx(1.0, rel=0.05)


def test_power_above_what_the_parts_can_draw_is_invalid_with_its_reason() -> None:
    gpu = FakeAmdGpu(power_w=900.0, max_power_cap_uw=750_000_000)
    reading = _window(AmdSmiMeter(amdsmi=fake_amdsmi([gpu]), validate_s=0.01), 0.3)
    assert "is above what its parts can draw (750 W)" in reading.invalid_reason


def test_an_invalid_window_makes_the_row_invalid_never_zero(tmp_path: Path) -> None:
    from benchsuite.instruments.energy import EnergyWindow, summarize_windows

    tree = HwmonTree(tmp_path / "hwmon")
    tree.add_intel_gpu(watts=0.0)
    meter = IntelGpuMeter(tree.root)
    idle = _window(meter, 0.05)
    windows = tuple(EnergyWindow(k, 10, 10, _window(meter, 0.11), 0.0) for k in range(3))
    result = summarize_windows(idle, windows, 0.1, 3)
    row = result.columns()
    assert row["energy_valid"] is False and "did not move" in row["energy_invalid_reason"]


# ---------------------------------------------------------------- several GPUs


def test_several_gpus_are_summed_per_visible_and_physical_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two of four GPUs visible (CUDA_VISIBLE_DEVICES=3,1), at 100 W and 50 W: 150 W in all,
    each GPU's own figure kept with both ids. Averaging them (the known bug) would read 75 W."""
    watts = [10.0, 50.0, 20.0, 100.0]
    gpus = [
        FakeGpu(time.perf_counter, lambda t, w=w: w, lambda t, w=w: w * t, uuid=f"GPU-{k}")
        for k, w in enumerate(watts)
    ]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,1")
    meter = NvmlMeter(nvml=fake_nvml(gpus), sync=lambda: None)
    reading = _window(meter, 0.5)
    assert _power(reading) == pytest.approx(150.0, rel=0.005)
    per_gpu = {label: j / reading.duration_s for label, j in reading.per_device_j.items()}
    assert per_gpu == pytest.approx({"gpu0 = nvml 3": 100.0, "gpu1 = nvml 1": 50.0}, rel=0.005)


# ---------------------------------------------------------------- --require-measured


@pytest.mark.slow
def test_require_measured_fails_a_run_whose_energy_is_estimated(
    tmp_path: Path, tiny_suite: Path, tiny_workloads: Path
) -> None:
    """The run chooses the estimate itself (``--meter estimate``), so the test holds on a host
    with counters too; the rows are written all the same."""
    done = run_cli(
        "run",
        "--suite",
        str(tiny_suite),
        "--workloads",
        str(tiny_workloads),
        "--results",
        str(tmp_path / "r"),
        "--no-report",
        "--meter",
        "estimate",
        "--require-measured",
    )
    assert done.returncode == 3, done.stdout[-2000:] + done.stderr[-2000:]
    assert "--require-measured:" in done.stderr and "energy estimated (estimate)" in done.stderr
    (run,) = (tmp_path / "r").iterdir()
    assert (run / "cases").is_dir()
    assert json.loads((run / "run.json").read_text())["state"] == "complete"
