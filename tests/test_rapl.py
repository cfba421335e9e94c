"""The RAPL meter against a fake powercap tree advanced by a known power profile."""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from pathlib import Path

import pytest

from benchsuite.instruments.meters import MEASURED, RaplMeter, choose_meter
from benchsuite.instruments.meters.rapl import PERMISSION_FIX
from tests.conftest import FakeClock
from tests.fakes import FakePowercap

TWO_SOCKETS = {
    "intel-rapl:0": 65.0,
    "intel-rapl:0:0": 40.0,
    "intel-rapl:0:2": 7.5,
    "intel-rapl:1": 55.0,
    "intel-rapl:1:2": 6.5,
}


@pytest.fixture
def powercap(tmp_path: Path) -> FakePowercap:
    tree = FakePowercap(tmp_path / "powercap")
    tree.add_zone("intel-rapl:0", "package-0", energy_uj=1_000_000)
    tree.add_zone("intel-rapl:0:0", "core", energy_uj=500_000)
    tree.add_zone("intel-rapl:0:2", "dram")
    # socket 1's package counter sits just below its wrap point
    tree.add_zone(
        "intel-rapl:1",
        "package-1",
        max_range_uj=65_532_610_987,
        energy_uj=65_532_610_987 - 30_000_000,
    )
    tree.add_zone("intel-rapl:1:2", "dram")
    return tree


def _window(
    meter: RaplMeter, tree: FakePowercap, clock: FakeClock, seconds: float, watts: dict[str, float]
):  # type: ignore[no-untyped-def]
    meter.start()
    # a profile in steps, as a real load varies: half the time at full power, half at 40 %
    for fraction, scale in ((0.5, 1.0), (0.5, 0.4)):
        tree.advance(seconds * fraction, {zone: w * scale for zone, w in watts.items()})
        clock.advance(int(seconds * fraction * 1e9))
    return meter.stop()


def test_recovers_injected_energy_across_two_sockets_with_a_wrap(
    powercap: FakePowercap, fake_clock: FakeClock
) -> None:
    meter = RaplMeter(powercap.root, clock=fake_clock)
    info = meter.info()
    assert info.available, info.detail
    assert info.domains == ("package-0", "package-0/dram", "package-1", "package-1/dram")

    reading = _window(meter, powercap, fake_clock, 2.0, TWO_SOCKETS)
    assert powercap.energy_uj("intel-rapl:1") < 65_532_610_987 - 30_000_000  # it did wrap
    expected = {zone: w * 2.0 * 0.7 for zone, w in TWO_SOCKETS.items()}
    assert reading.kind == MEASURED and reading.source == "rapl"
    assert reading.domain_energy_j["package-1"] == pytest.approx(
        expected["intel-rapl:1"], rel=0.005
    )
    assert reading.domain_energy_j["package-0/core"] == pytest.approx(
        expected["intel-rapl:0:0"], rel=0.005
    )
    # the total counts packages and dram, not core (which is inside its package)
    total = sum(
        expected[z] for z in ("intel-rapl:0", "intel-rapl:0:2", "intel-rapl:1", "intel-rapl:1:2")
    )
    assert reading.energy_j == pytest.approx(total, rel=0.005)
    assert reading.duration_s == 2.0
    assert reading.average_power_w == pytest.approx(total / 2.0, rel=0.005)
    assert reading.invalid_reason == ""


def test_a_counter_that_goes_backwards_without_a_wrap_is_invalid(
    powercap: FakePowercap, fake_clock: FakeClock
) -> None:
    meter = RaplMeter(powercap.root, clock=fake_clock)
    meter.start()
    powercap.set_energy_uj("intel-rapl:0", 400_000)  # was 1,000,000: a reset, not a wrap
    fake_clock.advance(1_000_000_000)
    reading = meter.stop()
    assert (
        "package-0 counter went backwards without a wrap (1000000 -> 400000 uJ)"
        in reading.invalid_reason
    )


def test_psys_alone_is_the_total(tmp_path: Path, fake_clock: FakeClock) -> None:
    tree = FakePowercap(tmp_path / "pc")
    tree.add_zone("intel-rapl:0", "psys")
    meter = RaplMeter(tree.root, clock=fake_clock)
    reading = _window(meter, tree, fake_clock, 1.0, {"intel-rapl:0": 20.0})
    assert reading.domains == ("psys",)
    assert reading.energy_j == pytest.approx(14.0, rel=0.005)


def test_no_tree_says_why(tmp_path: Path) -> None:
    info = RaplMeter(tmp_path / "none").info()
    assert not info.available
    assert "no RAPL zones under" in info.detail


def test_the_root_comes_from_the_environment(
    powercap: FakePowercap, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCHSUITE_POWERCAP_ROOT", str(powercap.root))
    assert RaplMeter().info().available
    choice = choose_meter("cpu")
    assert choice.meter.source == "rapl" and choice.note == ""


def _info_as_unprivileged_user(root: Path) -> tuple[bool, str]:
    """RaplMeter(root).info() in a forked child that, if we are root, becomes 'nobody' first."""
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads running
        pid = os.fork()
    if pid == 0:  # the child: no exec, so it needs no access to the interpreter's files
        try:
            os.close(read_end)
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            info = RaplMeter(root).info()
            os.write(write_end, f"{info.available}\n{info.detail}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        answer = pipe.read()
    os.waitpid(pid, 0)
    available, detail = answer.split("\n", 1)
    return available == "True", detail


def test_permission_denied_names_the_fixes() -> None:
    """Read as an unprivileged user: root reads any file, so a root test drops to 'nobody'."""
    folder = Path(tempfile.mkdtemp(prefix="benchsuite-powercap-"))
    try:
        os.chmod(folder, 0o755)
        tree = FakePowercap(folder / "powercap")
        tree.add_zone("intel-rapl:0", "package-0")
        tree.add_zone("intel-rapl:0:2", "dram")
        for zone in ("intel-rapl:0", "intel-rapl:0:2"):
            os.chmod(tree.root / zone / "energy_uj", 0o400)  # as the kernel has it since 5.10
        for path in (tree.root, *tree.root.iterdir()):
            os.chmod(path, 0o755)
        if os.geteuid() != 0:
            for zone in ("intel-rapl:0", "intel-rapl:0:2"):
                os.chmod(tree.root / zone / "energy_uj", 0o000)
        available, detail = _info_as_unprivileged_user(tree.root)
        assert available is False
        assert (
            "permission denied reading" in detail and "intel-rapl:0/energy_uj and 1 more" in detail
        )
        assert PERMISSION_FIX in detail
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_denied_rapl_falls_back_to_the_estimate_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCHSUITE_POWERCAP_ROOT", str(tmp_path / "none"))
    choice = choose_meter("cpu", "rapl")
    assert choice.meter.source == "estimate"
    assert choice.note.startswith("--meter rapl is unavailable (no RAPL zones under")
    assert "measured with estimate instead" in choice.note
