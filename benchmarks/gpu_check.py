"""One prepared check of benchsuite's GPU paths, for any lease of a GPU machine, in one call.

A GPU machine is lent for minutes at a time, so what needs a GPU is checked here in one command
that fits in 8 minutes, needs no network, and leaves a dated Markdown report and the rows:

    python benchmarks/gpu_check.py --out docs/gpu/$(date +%F)-h100

Sections (``--sections``, all by default), each one table in the report; every energy figure
names the meter that read it:

- ``meters``: NVML's energy counter against NVML power polled at 100 Hz and integrated (the
  trapezoid rule) and, where installed, Zeus's ``ZeusMonitor``, on the same windows: idle with no
  CUDA context, idle with one, and busy (bf16 matrix products); the counter's update period.
- ``generation``: the ``llama-1b`` workload on CUDA at batch 1 and 8: fp32, bf16-weights,
  fp16-weights, int8-weight and compiled; TTFT, TPOT, energy per token and peak memory.
- ``nightly-cuda``: the nightly suite's CUDA half cut to fit: single-stream and offline
  classifiers and a server case.
- ``endpoint``: the ``llama-1b`` shape (random weights, bf16) behind ``transformers serve`` on
  the GPU, under open-loop load at 25 % and 75 % of its measured maximum throughput: TTFT,
  TPOT and energy per output token read by NVML over the server's GPU (``--gpu-ids 0``), with
  its interval over the load window's parts.
- ``gpu-tests``: ``pytest -m gpu``, the tests that use the real CUDA device and NVML.

Without a CUDA device the GPU sections say so in their tables and the CPU paths run instead
(the same suites on the CPU, with ``tiny-llama`` for ``llama-1b``), so the script itself is
checked on any machine; its NVML path is tested against the fake NVML library in
``tests/test_gpu_check.py``. Reads only: it changes no GPU setting.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SECTIONS = ("meters", "generation", "nightly-cuda", "endpoint", "gpu-tests")
REPO = Path(__file__).resolve().parent.parent

GENERATION_SUITE = """
name = "gpu-check-generation"
description = "llama-1b generation in deployed dtypes (benchmarks/gpu_check.py)"
[measure]
warmup_max_s = 2.0
budget_s = {budget_s}
energy_windows = 3
energy_min_windows = 3
energy_target_rel = 0.05
[[matrix]]
workloads = ["{workload}"]
variants = ["fp32", "bf16-weights", "fp16-weights", "int8-weight", "compiled"]
devices = ["{device}"]
scenario = "generation"
batch_sizes = [1, 8]
prompt_tokens = [128]
output_tokens = [{output_tokens}]
"""

NIGHTLY_CUDA_SUITE = """
name = "gpu-check-nightly-cuda"
description = "the nightly suite's CUDA half, cut to fit (benchmarks/gpu_check.py)"
[measure]
warmup_max_s = 2.0
budget_s = 2.0
energy_windows = 3
energy_min_windows = 3
repeats = 3
rounds = 4
[serving]
latency_bound_ms = 50.0
duration_s = 10.0
[[matrix]]
workloads = ["digits-cnn", "text-transformer"]
variants = ["fp32", "bf16", "fp16", "compiled"]
devices = ["{device}"]
scenario = "single-stream"
[[matrix]]
workloads = ["digits-cnn", "text-transformer"]
variants = ["fp32", "fp16"]
devices = ["{device}"]
scenario = "offline"
batch_sizes = [256]
[[matrix]]
workloads = ["digits-cnn"]
variants = ["fp32"]
devices = ["{device}"]
scenario = "server"
batch_sizes = [8]
load_pct = [50]
"""


def cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


# --- meters ---------------------------------------------------------------------------------


class NvmlReaders:
    """The readers of one GPU: NVML's counter (mJ), NVML's power (mW) polled at ``hz``."""

    def __init__(self, index: int) -> None:
        import pynvml

        self.nvml = pynvml
        pynvml.nvmlInit()
        self.handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        self.name = pynvml.nvmlDeviceGetName(self.handle)
        self.driver = pynvml.nvmlSystemGetDriverVersion()

    def energy_mj(self) -> int:
        return int(self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle))

    def power_w(self) -> float:
        return self.nvml.nvmlDeviceGetPowerUsage(self.handle) / 1000

    def update_period_ms(self, seconds: float = 2.0) -> float | None:
        """Median time between changes of the counter, read in a tight loop."""
        changes, last, start = [], self.energy_mj(), time.perf_counter()
        while (now := time.perf_counter()) - start < seconds:
            value = self.energy_mj()
            if value != last:
                changes.append(now)
                last = value
        gaps = sorted(1e3 * (b - a) for a, b in itertools.pairwise(changes))
        return gaps[len(gaps) // 2] if gaps else None

    def window(self, seconds: float, work: Callable[[threading.Event], None] | None) -> dict:
        """Counter, polled power and (where installed) Zeus over the same window."""
        zeus = _zeus_monitor()
        stop = threading.Event()
        load = threading.Thread(target=work, args=(stop,)) if work else None
        if load:
            load.start()
            time.sleep(1.0)  # clocks up before the window opens
        if zeus is not None:
            zeus.begin_window("gpu-check")
        # the polls span the counter's window edge to edge: a poll right after each reading
        start_mj, start = self.energy_mj(), time.perf_counter()
        points = [(start, self.power_w())]
        while time.perf_counter() - start < seconds:
            time.sleep(0.01)
            points.append((time.perf_counter(), self.power_w()))
        end_mj, end = self.energy_mj(), time.perf_counter()
        points.append((end, self.power_w()))
        counter_j = (end_mj - start_mj) / 1000
        duration_s = end - start
        zeus_j = None
        if zeus is not None:
            measured = zeus.end_window("gpu-check")
            zeus_j = float(sum(measured.gpu_energy.values()))
        stop.set()
        if load:
            load.join()
        polled_j = sum(
            (t1 - t0) * (p0 + p1) / 2 for (t0, p0), (t1, p1) in itertools.pairwise(points)
        )
        return {
            "duration_s": duration_s,
            "counter_j": counter_j,
            "polled_j": polled_j,
            "zeus_j": zeus_j,
            "polls": len(points),
        }


def _zeus_monitor() -> Any:
    try:
        from zeus.monitor import ZeusMonitor
    except ImportError:
        return None
    return ZeusMonitor(gpu_indices=[0])


def matmul_load(stop: threading.Event) -> None:
    from bench_nvml_counter import matmul_load as bf16_products  # imports pynvml: here only

    bf16_products(stop)


def cpu_spin(stop: threading.Event) -> None:
    while not stop.is_set():
        sum(range(10_000))


def _agreement(a: float | None, b: float) -> str:
    if a is None:
        return "not installed (pip install zeus)"
    return f"{100 * (a / b - 1):+.2f} %" if b else "counter did not move"


def section_meters(out: Path, window_s: float) -> list[str]:
    lines = ["## Meters: NVML's counter against polled power and Zeus, on the same windows", ""]
    try:
        readers = NvmlReaders(0)
    except Exception as error:  # no NVML here: the table says why
        return [*lines, f"Skipped: NVML could not start ({type(error).__name__}: {error}).", ""]
    cuda = cuda_available()
    period = readers.update_period_ms()
    lines += [
        f"GPU 0: {readers.name}, driver {readers.driver}; the counter changed every "
        f"{period:.1f} ms (median, read in a tight loop)."
        if period
        else "The counter did not move.",
        "",
        "| window | seconds | NVML counter (J) | NVML power at 100 Hz, integrated (J) | polled vs "
        "counter | Zeus ZeusMonitor vs counter | average power, counter (W) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    windows: list[tuple[str, Callable[[threading.Event], None] | None]] = [
        ("idle, no CUDA context", None)
    ]
    if cuda:
        windows += [("idle, with a CUDA context", None), ("busy: bf16 8192² products", matmul_load)]
    else:
        windows += [("busy (no CUDA: a CPU spin; exercises the readers only)", cpu_spin)]
    rows = []
    for label, work in windows:
        if label.startswith("idle, with") and cuda:
            import torch

            torch.zeros(1, device="cuda")  # the context
        reading = readers.window(window_s, work)
        rows.append({"window": label, **reading})
        lines.append(
            f"| {label} | {reading['duration_s']:.2f} | {reading['counter_j']:.2f} | "
            f"{reading['polled_j']:.2f} | {_agreement(reading['polled_j'], reading['counter_j'])} "
            f"| {_agreement(reading['zeus_j'], reading['counter_j'])} | "
            f"{reading['counter_j'] / reading['duration_s']:.1f} |"
        )
    (out / "meters.json").write_text(json.dumps(rows, indent=1))
    lines += ["", "Every figure here is measured by the reader its column names.", ""]
    return lines


# --- suites -------------------------------------------------------------------------------


def run_suite(out: Path, name: str, text: str) -> tuple[Any, float, str]:
    """``benchsuite run`` of a suite written from ``text``; its rows, its wall time, its stderr."""
    import pandas as pd

    suite = out / f"{name}.toml"
    suite.write_text(text)
    results = out / "results"
    before = set(results.glob("*")) if results.exists() else set()
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchsuite",
            "run",
            "--suite",
            str(suite),
            "--results",
            str(results),
            "--no-report",
        ],
        capture_output=True,
        text=True,
    )
    wall_s = time.perf_counter() - started
    (new,) = set(results.glob("*")) - before or {None}
    if new is None:
        return pd.DataFrame(), wall_s, done.stderr[-2000:]
    return pd.read_parquet(new / "cases"), wall_s, done.stderr[-2000:]


def _cell(value: Any, digits: int = 3) -> str:
    """A figure written out: three significant digits, thousands separated, never 4.3e+08."""
    if value is None or value != value:  # None or NaN
        return "–"
    if isinstance(value, str):
        return value
    number = float(value)
    return f"{number:,.0f}" if abs(number) >= 10**digits else f"{number:.{digits}g}"


GENERATION_COLUMNS = {
    "TTFT p50 (ms)": "ttft_p50_ms",
    "TPOT p50 (ms)": "tpot_p50_ms",
    "energy per output token (J)": "energy_per_output_token_j",
    "peak device memory (bytes)": "device_peak_allocated_bytes",
    "peak RSS (bytes)": "peak_rss_bytes",
}
NIGHTLY_COLUMNS = {
    "latency p50 (ms)": "latency_p50_ms",
    "energy per sample (J)": "energy_per_sample_j",
    "latency ratio to fp32": "latency_ratio",
    "energy ratio to fp32": "energy_ratio",
}


def suite_section(
    out: Path, title: str, name: str, text: str, columns: dict[str, str]
) -> list[str]:
    """Run a suite and give its rows as one table: the columns asked for, the status, and the
    meter that read each row's energy (kind and source)."""
    rows, wall_s, err = run_suite(out, name, text)
    lines = [
        f"## {title}",
        "",
        f"`benchsuite run --suite {out.name}/{name}.toml`, {wall_s:.0f} s.",
        "",
        f"| case | status | {' | '.join(columns)} | meter |",
        "| --- " * (len(columns) + 3) + "|",
    ]
    if rows.empty:
        return [*lines, f"| (the run failed) | {err.strip().splitlines()[-1] if err else ''} |", ""]
    for _, row in rows.iterrows():
        status = row["status"] if row["status"] == "ok" else f"{row['status']}: {row['error']}"
        cells = " | ".join(_cell(row.get(column)) for column in columns.values())
        meter = f"{_cell(row.get('energy_kind'))} · {_cell(row.get('energy_source'))}"
        lines.append(f"| `{row['case_id']}` | {status} | {cells} | {meter} |")
    return [*lines, ""]


def section_generation(out: Path, device: str) -> list[str]:
    workload, tokens, budget = (
        ("llama-1b", 64, 3.0) if device == "cuda" else ("tiny-llama", 16, 1.0)
    )
    text = GENERATION_SUITE.format(
        workload=workload, device=device, output_tokens=tokens, budget_s=budget
    )
    title = f"Generation: {workload} on {device}, deployed dtypes, batch 1 and 8"
    return suite_section(out, title, "generation", text, GENERATION_COLUMNS)


def section_nightly(out: Path, device: str) -> list[str]:
    title = f"The nightly suite's CUDA half, cut to fit (on {device})"
    text = NIGHTLY_CUDA_SUITE.format(device=device)
    return suite_section(out, title, "nightly-cuda", text, NIGHTLY_COLUMNS)


ENDPOINT_SUITE = """
name = "gpu-check-endpoint"
description = "a model behind transformers serve under load (benchmarks/gpu_check.py)"
[measure]
idle_s = 2.0
[endpoints]
duration_s = {duration_s}
max_users = 16
probe_requests = 64
warmup_requests = 4
request_timeout_s = 120
[[models]]
name = "{name}"
source = "openai:http://127.0.0.1:{port}/v1"
task = "text-generation"
serve = "{serve}"
ready_timeout_s = 600
{gpu_ids}
[[matrix]]
workloads = ["{name}"]
variants = ["as-served"]
devices = ["{device}"]
scenario = "endpoint"
prompt_tokens = [{tokens}]
output_tokens = [{tokens}]
load_pct = [25, 75]
"""
ENDPOINT_COLUMNS = {
    "offered req/s": "offered_rps",
    "achieved req/s": "achieved_rps",
    "TTFT p50 (ms)": "ttft_p50_ms",
    "TPOT p50 (ms)": "tpot_p50_ms",
    "energy per output token (J)": "energy_per_output_token_j",
    "its interval, low": "energy_per_output_token_low_j",
    "high": "energy_per_output_token_high_j",
}


def served_model(folder: Path, cuda: bool) -> Path:
    """A model ``transformers serve`` can load: the llama-1b shape in bf16 with a word-level
    tokenizer of the prose's words and fillers to its 32,000 on a GPU, else the tests' tiny
    Llama."""
    sys.path.insert(0, str(REPO))
    from tests.serving import WORDS, tiny_chat_model, word_tokenizer

    if not cuda:
        return tiny_chat_model(folder / "tiny-chat")
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    sys.path.insert(0, str(REPO / "workloads"))
    from llama_1b import Llama1B

    tokenizer = word_tokenizer(WORDS, size=Llama1B.vocabulary)
    config = LlamaConfig(
        vocab_size=len(tokenizer), bos_token_id=2, eos_token_id=3, **Llama1B.config
    )
    torch.manual_seed(0)
    path = folder / "llama-1b-shape"
    LlamaForCausalLM(config).to(torch.bfloat16).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def section_endpoint(out: Path, device: str) -> list[str]:
    cuda = device == "cuda"
    model = served_model(out, cuda)
    port = 8765
    command = (
        f"{Path(sys.executable).parent / 'transformers'} serve {model} --host 127.0.0.1 "
        f"--port {port} --device {'cuda' if cuda else 'cpu'} --dtype "
        f"{'bfloat16' if cuda else 'auto'} --log-level warning"
    )
    text = ENDPOINT_SUITE.format(
        name=model.name,
        port=port,
        serve=command,
        gpu_ids="gpu_ids = [0]" if cuda else "",
        device=device,
        tokens=64 if cuda else 8,
        duration_s=30 if cuda else 3,
    )
    title = f"An endpoint under load: {model.name} behind transformers serve on {device}"
    return suite_section(out, title, "endpoint", text, ENDPOINT_COLUMNS)


def section_gpu_tests(out: Path) -> list[str]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    (out / "gpu-tests.txt").write_text(done.stdout + done.stderr)
    last = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    return [
        "## The tests that need a GPU (`pytest -m gpu`)",
        "",
        f"Exit {done.returncode} in {time.perf_counter() - started:.0f} s: {last}",
        "",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(f"gpu-check-{datetime.date.today()}"))
    parser.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated")
    parser.add_argument("--window-s", type=float, default=5.0, help="each meters window")
    args = parser.parse_args()
    chosen = [name.strip() for name in args.sections.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        parser.error(f"--sections {','.join(unknown)}: choose from {', '.join(SECTIONS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    # NVML before CUDA: the first meters window is idle with no CUDA context
    cuda = "meters" not in chosen and cuda_available()
    lines = [
        f"# GPU check, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Command: `python benchmarks/gpu_check.py --out {args.out} --sections "
        f"{','.join(chosen)}` on {platform.node()} ({platform.machine()}), Python "
        f"{platform.python_version()}.",
        "",
    ]
    for name in chosen:
        print(f"gpu check: {name} ({time.perf_counter() - started:.0f} s in)", file=sys.stderr)
        if name == "meters":
            lines += section_meters(args.out, args.window_s)
            cuda = cuda_available()
        elif name == "generation":
            lines += section_generation(args.out, "cuda" if cuda else "cpu")
        elif name == "nightly-cuda":
            lines += section_nightly(args.out, "cuda" if cuda else "cpu")
        elif name == "endpoint":
            lines += section_endpoint(args.out, "cuda" if cuda else "cpu")
        elif name == "gpu-tests":
            lines += section_gpu_tests(args.out)
    if not cuda:
        lines.insert(4, "No CUDA device here: the GPU sections ran their CPU paths instead.\n")
    lines.append(f"Total: {time.perf_counter() - started:.0f} s.")
    report = "\n".join(lines) + "\n"
    (args.out / "report.md").write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
