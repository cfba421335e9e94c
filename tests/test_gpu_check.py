"""benchmarks/gpu_check.py without a GPU: its NVML path against the fake NVML library (one 60 W
GPU behind NVML's own C entry points, loaded by the real pynvml), its other sections' words."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.host.counters import fake_nvml_library


@pytest.mark.slow
def test_the_meters_section_reads_the_fake_gpu_by_two_readers_that_agree(tmp_path: Path) -> None:
    library = fake_nvml_library(tmp_path)
    out = tmp_path / "check"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "gpu_check.py"),
            "--out",
            str(out),
            "--sections",
            "meters,endpoint",
            "--window-s",
            "1",
        ],
        env={
            "PATH": "/usr/bin:/bin",
            "LD_LIBRARY_PATH": str(library.parent),
            "FAKE_NVML_POWER_MW": "60000",
            "HOME": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = (out / "report.md").read_text()
    assert "GPU 0: Fake GPU (tests/host/fake_nvml.c), driver 550.54.15" in report
    assert "| idle, no CUDA context |" in report
    assert "not installed (pip install zeus)" in report  # Zeus's column says why it is empty
    # the endpoint section's CPU path: the tiny Llama behind a real transformers serve
    assert "An endpoint under load: tiny-chat behind transformers serve on cpu" in report
    assert "`tiny-chat/as-served/cpu/endpoint/b1/p8-o8/l25` | ok |" in report
    for window in json.loads((out / "meters.json").read_text()):
        power_w = window["counter_j"] / window["duration_s"]
        assert power_w == pytest.approx(60.0, rel=0.01)  # the counter: the injected 60 W
        assert window["polled_j"] == pytest.approx(window["counter_j"], rel=0.02)
        assert window["polls"] > 50  # 100 Hz over a second


def test_an_unknown_section_is_one_line_naming_the_choices(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "gpu_check.py"),
            "--out",
            str(tmp_path),
            "--sections",
            "meterz",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "--sections meterz: choose from meters, generation" in done.stderr
