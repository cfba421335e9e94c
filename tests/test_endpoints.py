"""Endpoints under load: a real OpenAI-compatible server (``transformers serve``) on 127.0.0.1
with a tiny causal LM saved from a config; no mock stands in for the server."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from benchsuite.case import Case
from benchsuite.gate import REGRESSION, run_gate
from benchsuite.instruments.config import MeasureConfig
from benchsuite.instruments.endpoint_client import (
    Endpoint,
    RequestBody,
    RequestOutcome,
    RequestRecord,
    client_ttft_overhead_ms,
    stream_request,
)
from benchsuite.instruments.endpoint_load import (
    EndpointConfig,
    LevelFigures,
    LoadRun,
    PromptStream,
    Slo,
    _Saturation,
    arrival_times_ns,
)
from benchsuite.instruments.energy import EnergyConfig
from benchsuite.instruments.meters.base import ESTIMATED, EnergyReading, Meter, MeterInfo
from benchsuite.instruments.meters.estimate import EstimateMeter
from benchsuite.instruments.meters.process_tree import ProcessTreeEstimate, listening_pid
from benchsuite.instruments.split_window import read_in_parts, summed
from benchsuite.report import render_report
from benchsuite.run.fingerprint import capture_fingerprint
from benchsuite.scenarios import run_case
from benchsuite.scenarios.endpoint import server_meter
from benchsuite.sources import ModelSpec, build_workload
from benchsuite.sources.serve import ServerProcess
from benchsuite.store.runs import ResultStore
from tests.conftest import run_cli, sigint_as_from_a_terminal
from tests.fakes import FakeGpu, fake_nvml
from tests.serving import WORDS, SerialProxy, free_port, serve_command, tiny_chat_model

FAST = """
[measure]
idle_s = 0.5
[endpoints]
duration_s = {duration}
probe_requests = 12
max_users = 4
warmup_requests = 2
request_timeout_s = 20
search_probes = 3
pair_rounds = 4
"""


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_chat_model(tmp_path_factory.mktemp("endpoint") / "tiny-chat")


@pytest.fixture(scope="module")
def server(model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with ServerProcess(serve_command(model, port), f"http://127.0.0.1:{port}/v1", log, 120) as up:
        yield up


def _suite(folder: Path, duration_s: float = 3.0, extra: str = "") -> Path:
    path = folder / "endpoint.toml"
    path.write_text(
        '[[matrix]]\nworkloads = ["unused"]\n' + FAST.format(duration=duration_s) + extra
    )
    return path


def _rows(results: Path) -> pd.DataFrame:
    (run,) = results.iterdir()
    return pd.read_parquet(run / "cases")


def _run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("run", "--results", str(folder / "r"), "--no-report", *args, cwd=folder)


# -- the load's shape, without a server ---------------------------------------------------------


def test_arrivals_offer_the_rate_they_name_and_gamma_is_burstier() -> None:
    poisson = np.diff(arrival_times_ns(20.0, 2001, "poisson", seed=3)) / 1e9
    bursty = np.diff(arrival_times_ns(20.0, 2001, "gamma", burstiness=0.25, seed=3)) / 1e9
    for gaps in (poisson, bursty):  # 2000 gaps at 20/s: 100 s of arrivals, minus the last gap
        assert len(gaps) / gaps.sum() == pytest.approx(20.0, rel=0.02)
    assert np.std(poisson) / np.mean(poisson) == pytest.approx(1.0, abs=0.1)
    assert np.std(bursty) / np.mean(bursty) == pytest.approx(2.0, abs=0.3)  # 1/sqrt(0.25)


def test_a_growing_backlog_is_saturation_and_a_steady_one_is_not() -> None:
    steady, growing = _Saturation(10.0), _Saturation(10.0)
    said_steady = said_growing = False
    for step in range(28):
        now = 0.25 * (step + 1)
        said_steady |= steady.saturated(now, 3 + step % 2, [0.2] * 10)
        said_growing |= growing.saturated(now, 3 * step, [0.2] * 10)  # 12 more each second
    assert said_growing and not said_steady


def test_the_prompt_stream_is_seeded_and_recorded() -> None:
    stream = PromptStream(12, seed=1)
    assert stream.prompts(5) == PromptStream(12, seed=1).prompts(5)
    assert stream.prompts(5) != PromptStream(12, seed=2).prompts(5)
    assert all(len(prompt.split()) == 12 for prompt in stream.prompts(5))
    assert stream.describe(5) == PromptStream(12, seed=1).describe(5)
    assert "bundled prose" in stream.describe(5)


def test_the_server_estimate_charges_the_process_that_works_not_the_client() -> None:
    """A child that listens on a port and burns 0.6 s of CPU: the tree estimate charges it
    (0.6 s x 10 W = 6 J), the process estimate of this, idle, process does not."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket, sys, time\n"
            "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
            "print(s.getsockname()[1], flush=True); sys.stdin.readline()\n"
            "end = time.process_time() + 0.6\n"
            "while time.process_time() < end: pass\n"
            "print('done', flush=True); sys.stdin.readline()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        port = int(child.stdout.readline())
        assert listening_pid(port) == child.pid
        tree, client = (
            ProcessTreeEstimate(child.pid, EstimateMeter(10.0, 0.0)),
            EstimateMeter(10.0, 0.0),
        )
        tree.start()
        client.start()
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "done"
        server_reading, client_reading = tree.stop(), client.stop()
        assert server_reading.energy_j == pytest.approx(6.0, rel=0.15)
        assert f"(PID {child.pid}, 1 processes)" in server_reading.model  # the child's tree only
        # this process waited (on a host dressed with counters, their writer threads run here)
        assert client_reading.energy_j < server_reading.energy_j
    finally:
        child.kill()
        child.communicate()


def test_an_endpoint_elsewhere_gets_no_energy_and_says_why() -> None:
    chosen = server_meter(EstimateMeter(), False, Endpoint("http://192.0.2.7:8000/v1", "m"))
    assert chosen.meter is None
    assert "another machine (192.0.2.7)" in chosen.note


def test_gpu_ids_meter_every_gpu_the_server_uses_and_sum_them() -> None:
    """Two fake GPUs (NVML's calls and units: mJ counters, mW power) at 100 W and 50 W: the
    endpoint's meter reads both, 150 W in all, not their average."""
    start = time.monotonic()
    gpus = [
        FakeGpu(
            lambda: time.monotonic() - start,
            lambda _t, watts=watts: watts,
            lambda t, watts=watts: watts * t,
            uuid=f"GPU-{index}",
        )
        for index, watts in enumerate((100.0, 50.0))
    ]
    endpoint = Endpoint("http://127.0.0.1:8000/v1", "m")
    chosen = server_meter(EstimateMeter(), True, endpoint, (0, 1), nvml=fake_nvml(gpus))
    assert chosen.meter is not None and "gpu0, gpu1" in chosen.note
    with chosen.meter.window() as window:
        time.sleep(0.5)
    reading = window.reading
    gpu_j = sum(j for domain, j in reading.domain_energy_j.items() if domain.startswith("gpu"))
    assert gpu_j / reading.duration_s == pytest.approx(150.0, rel=0.05)
    unreadable = server_meter(EstimateMeter(), True, endpoint, (5,), nvml=fake_nvml(gpus))
    assert "--gpu-ids: the server's GPUs cannot be read" in unreadable.note


class _SteadyMeter(Meter):
    """10 W, always: what a window's parts must add up to is then known."""

    source, kind = "estimate", ESTIMATED

    def info(self) -> MeterInfo:
        return MeterInfo(self.source, self.kind, True, "10 W", ("steady",), 1e-6)

    def start(self) -> None:
        self.started = time.perf_counter()

    def stop(self) -> EnergyReading:
        seconds = time.perf_counter() - self.started
        return EnergyReading(self.source, self.kind, ("steady",), 10.0 * seconds, seconds, 1e-6)


def test_a_window_read_in_parts_is_tiled_by_them() -> None:
    result, parts = read_in_parts(_SteadyMeter(), 0.2, lambda: time.sleep(1.05) or 7)
    assert result == 7 and 4 <= len(parts) <= 6
    assert all(a.end_ns == b.start_ns for a, b in itertools.pairwise(parts))
    whole = summed([part.reading for part in parts])
    assert whole.duration_s == pytest.approx(1.05, abs=0.05)
    assert whole.energy_j == pytest.approx(10.0 * whole.duration_s, rel=1e-6)
    assert (parts[-1].end_ns - parts[0].start_ns) / 1e9 == pytest.approx(whole.duration_s, rel=0.01)


def test_the_client_measures_its_own_share_of_a_ttft() -> None:
    overhead = client_ttft_overhead_ms(20)
    assert 0 < overhead < 50


def _answer(ttft_ms: float, tpot_ms: float, outcome: RequestOutcome = RequestOutcome.OK) -> Any:
    """A request sent at 0 whose 5 tokens came one a chunk: the first after ``ttft_ms``."""
    chunks = tuple(round((ttft_ms + k * tpot_ms) * 1e6) for k in range(5))
    return RequestRecord(0, 0, chunks, chunks[-1], outcome, 5, 3, True)


def test_goodput_counts_only_requests_within_every_bound() -> None:
    slo = Slo(ttft_ms=100, tpot_ms=10)
    assert slo.describe() == "TTFT <= 100 ms and TPOT <= 10 ms"
    assert slo.met_by(_answer(90, 9))
    assert not slo.met_by(_answer(110, 9))  # first token too late
    assert not slo.met_by(_answer(90, 11))  # tokens too slow after it
    assert not slo.met_by(_answer(90, 9, RequestOutcome.TRUNCATED))
    answers = (_answer(90, 9), _answer(110, 9), _answer(90, 11), _answer(50, 5))
    figures = LevelFigures(LoadRun(answers, 4, 10**9, "done"), 4.0, slo)
    assert figures.goodput_rps == pytest.approx(figures.achieved_rps / 2)  # 2 of 4 met
    with pytest.raises(ValueError, match="slo_ttft_ms must be positive"):
        Slo(ttft_ms=0)


# -- a real server --------------------------------------------------------------------------------


@pytest.mark.slow
def test_streamed_tokens_are_counted_and_timed(server: ServerProcess) -> None:
    endpoint = Endpoint(server.endpoint.base_url, str(server_model(server)))
    for api in ("chat", "completions"):
        endpoint = Endpoint(endpoint.base_url, endpoint.served_model, api)
        origin = time.perf_counter_ns()
        record = asyncio.run(
            stream_request(endpoint, RequestBody("the river report", 8), 0, origin, 20)
        )
        assert record.ok, record.error
        assert record.tokens_from_usage  # the server's own count ...
        assert 1 <= record.output_tokens <= 8
        # ... checked against the words received (the tokenizer is one word, one token); a chunk
        # may carry several tokens when the server flushes them together
        assert len(record.text.split()) == record.output_tokens
        assert 1 <= len(record.chunk_ns) <= record.output_tokens
        assert record.ttft_ns is not None and 0 < record.ttft_ns <= record.e2e_ns


def server_model(server: ServerProcess) -> str:
    from benchsuite.sources.serve import models_listed

    (name,) = models_listed(server.endpoint)
    return name


@pytest.mark.slow
def _labelled(server: ServerProcess, path: Path) -> None:
    """Eval data whose labels are the server's own greedy answers for half the texts and a
    word it never says for the other half: its accuracy is 0.5 exactly."""
    endpoint = Endpoint(server.endpoint.base_url, server_model(server))
    rows = []
    for index in range(40):
        text = f"the {WORDS[index]} of {WORDS[index + 7]} river report"
        origin = time.perf_counter_ns()
        record = asyncio.run(stream_request(endpoint, RequestBody(text, 8), 0, origin, 20))
        if record.ok and record.text.split():
            right = len(rows) % 2 == 0
            rows.append({"text": text, "label": record.text.split()[0] if right else "zzz"})
        if len(rows) == 6:
            break
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def _in_process(spec: ModelSpec, scenario: str, **axes: int) -> dict[str, object]:
    """One endpoint case measured in this process (the CLI's runs happen in workers)."""
    workload = build_workload(spec)
    workload.check()
    case = Case(workload.name, "as-served", "cpu", scenario, axes.pop("users", 1), **axes)
    config = MeasureConfig(
        energy=EnergyConfig(idle_s=0.3),
        endpoint=EndpointConfig(
            duration_s=1.5,
            probe_requests=8,
            max_users=2,
            warmup_requests=1,
            search_probes=2,
            pair_rounds=2,
            slo_ttft_ms=1000.0,
            request_timeout_s=20.0,
        ),
    )
    return run_case(case, workload, EstimateMeter(), config).row()


@pytest.mark.slow
def test_every_endpoint_scenario_in_this_process(server: ServerProcess, tmp_path: Path) -> None:
    """The three scenarios and a pair (the server against itself), and the report and gate
    over their rows, in the test's own process."""
    url = f"openai:{server.endpoint.base_url}"
    tokens = {"prompt_tokens": 8, "output_tokens": 4}
    rows = [
        _in_process(ModelSpec(url, "text-generation"), "endpoint", load_pct=30, **tokens),
        _in_process(ModelSpec(url, "text-generation"), "endpoint-capacity", **tokens),
        _in_process(ModelSpec(url, "text-generation"), "endpoint-users", users=2, **tokens),
        _in_process(
            ModelSpec(url, "text-generation", name="itself", reference=url),
            "endpoint",
            load_pct=30,
            **tokens,
        ),
    ]
    level, capacity, users, pair = rows
    assert level["offered_rps"] > 0 and level["goodput_rps"] is not None
    assert capacity["capacity_rps"] is not None and "bisection" in capacity["capacity_search"]
    assert users["arrival_process"] == "closed loop, 2 users"
    assert pair["measure_order"].startswith("interleaved load windows: RC CR")
    assert pair["output_agreement"] == 1.0 and pair["latency_ratio"] > 0
    for row in rows:
        assert row["energy_domains"] == "server-cpu,server-memory"
    store = ResultStore(tmp_path / "r")
    writer = store.start_run("endpoints")
    environment = capture_fingerprint().as_columns()
    for row in rows:
        writer.add_case({**row, **environment, "status": "ok", "suite": "endpoints"})
    writer.finish()
    page = render_report(store, writer.run_id, tmp_path / "report")
    html = page.read_text()
    assert "Deployments under load" in html and "SLO 1000 ms" in html.replace("\u202f", " ")
    again = store.start_run("endpoints")  # the same rows as a second night: nothing moved
    for row in rows:
        again.add_case({**row, **environment, "status": "ok", "suite": "endpoints"})
    again.finish()
    verdict = run_gate(tmp_path / "r", writer.run_id, again.run_id)
    judged = {(m.case_id.split("/")[3], m.metric) for c in verdict.cases for m in c.metrics}
    assert ("endpoint", "latency_p50_ms") in judged and ("endpoint", "latency_ratio") in judged
    assert verdict.count(REGRESSION) == 0  # the same figures twice


def test_an_endpoint_under_load(server: ServerProcess, tmp_path: Path) -> None:
    """Token counts, TTFT below end-to-end time, the achieved rate within 15 % of the offered
    one below saturation, the estimate charged to the server's process tree, and accuracy on
    labelled eval data."""
    _labelled(server, tmp_path / "eval.jsonl")
    done = _run(
        tmp_path,
        "--model",
        f"openai:{server.endpoint.base_url}",
        "--suite",
        # 10 % of a stated 40 req/s, for 8 s: 32 requests, few enough for a server that the
        # tests beside this one starve of CPU, and five parts of the estimate's window
        str(_suite(tmp_path, 8.0, extra="max_rps = 40.0\n")),
        "--prompt-tokens",
        "16",
        "--output-tokens",
        "8",
        "--load-pct",
        "10",
        "--meter",
        "estimate",
        "--eval-data",
        "eval.jsonl",
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (row,) = _rows(tmp_path / "r").to_dict("records")
    assert row["status"] == "ok" and row["variant"] == "as-served"
    assert row["requests_failed"] == 0 and row["served_requests"] == row["planned_requests"]
    assert 1 <= row["output_tokens_mean"] <= 8
    assert "refuses min_tokens/ignore_eos" in row["output_tokens_forced"]
    assert (
        row["ttft_p50_ms"] < row["latency_p50_ms"] and row["ttft_p99_ms"] <= row["latency_max_ms"]
    )
    assert row["achieved_rps"] == pytest.approx(row["offered_rps"], rel=0.15)
    assert not row["saturated"]
    assert row["energy_kind"] == "estimated" and row["energy_domains"] == "server-cpu,server-memory"
    assert f"PID {server.pid}" in row["energy_model"]
    assert "the CPU time of the server's process tree" in row["energy_meter_note"]
    assert row["client_cpu_s"] > 0 and row["client_ttft_overhead_ms"] > 0
    assert row["endpoint_served_model"] and "uvicorn" in row["endpoint_server"]
    assert row["accuracy"] == 0.5 and row["eval_samples"] == 6
    if row["served_requests"] >= 30:  # batch means: 10 batches of 3 requests at least
        assert row["ttft_p50_low_ms"] <= row["ttft_p50_ms"] <= row["ttft_p50_high_ms"]
        assert row["latency_p50_ci_low_ms"] <= row["latency_p50_ms"]
        assert row["latency_p50_ms"] <= row["latency_p50_ci_high_ms"]
    else:
        assert pd.isna(row["ttft_p50_low_ms"]) and "no interval" in row["latency_interval_method"]
    low, high = row["energy_per_output_token_low_j"], row["energy_per_output_token_high_j"]
    assert low <= row["energy_per_output_token_j"] <= high  # by batch means over the parts
    assert row["energy_per_sample_low_j"] <= row["energy_per_sample_j"]
    assert "batch means over the load window's" in row["energy_interval_method"]
    assert "begins with the label" in row["quality_metric"]
    assert "eval_data texts" in row["prompt_stream"]
    assert row["energy_per_output_token_j"] * row["output_tokens_mean"] == pytest.approx(
        row["energy_per_request_j"], rel=1e-6
    )


@pytest.mark.slow
def test_the_capacity_search_finds_the_rate_a_slowed_server_can_meet(
    server: ServerProcess, tmp_path: Path
) -> None:
    """Behind a proxy that serves one request at a time after 100 ms, the server cannot answer
    more than 10 requests a second: the search's rate stays under that, and its level met the
    SLO."""
    with SerialProxy(server.endpoint.port, 0.1) as proxy:
        done = _run(
            tmp_path,
            "--model",
            f"openai:http://127.0.0.1:{proxy.port}/v1",
            "--suite",
            str(_suite(tmp_path, 2.0)),
            "--scenarios",
            "endpoint-capacity",
            "--prompt-tokens",
            "8",
            "--output-tokens",
            "4",
            "--slo-ttft-ms",
            "600",
            "--meter",
            "estimate",
        )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (row,) = _rows(tmp_path / "r").to_dict("records")
    assert row["max_throughput_rps"] < 10.0
    assert 0 < row["capacity_rps"] < 10.0
    assert row["latency_bound_met"] and row["ttft_p99_ms"] <= 600
    assert "bisection" in row["capacity_search"] and row["slo"] == "TTFT <= 600 ms"


@pytest.mark.slow
def test_two_endpoints_interleaved_give_a_paired_ratio(
    server: ServerProcess, model: Path, tmp_path: Path
) -> None:
    """The same model behind a second server, started by the run itself (serve): each level is
    served to both in alternating windows; the row carries the ratio with its interval, and
    greedy answers agree word for word."""
    port = free_port()
    suite = tmp_path / "pair.toml"
    suite.write_text(
        f"""
[[models]]
name = "first"
source = "openai:{server.endpoint.base_url}"
task = "text-generation"
[[models]]
name = "second"
source = "openai:http://127.0.0.1:{port}/v1"
task = "text-generation"
serve = "{serve_command(model, port)}"
ready_timeout_s = 120
reference = "first"
[[matrix]]
workloads = ["second"]
variants = ["as-served"]
scenario = "endpoint"
prompt_tokens = [12]
output_tokens = [6]
load_pct = [30]
"""
        + FAST.format(duration=1.5)
    )
    done = _run(tmp_path, "--suite", str(suite), "--meter", "estimate")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "starting the server of second" in done.stdout
    assert listening_pid(port) is None  # stopped with the run
    (row,) = _rows(tmp_path / "r").to_dict("records")
    assert row["measure_order"].startswith("interleaved load windows: RC CR RC CR")
    assert row["rounds"] == 4 and row["comparison_reference"].startswith(server.endpoint.base_url)
    for name in ("latency", "energy"):  # the same model: a ratio near 1, unless the machine's
        # other load (the tests beside this one) came and went faster than the rounds
        assert 0 < row[f"{name}_ratio_low"] <= row[f"{name}_ratio"] <= row[f"{name}_ratio_high"]
        assert isinstance(row[f"{name}_ratio_resolved"], bool)
    assert "Student-t over the rounds" in row["ratio_interval_method"]
    assert row["output_agreement"] == 1.0
    assert row["endpoint_command"].startswith(str(Path(sys.executable).parent / "transformers"))


@pytest.mark.slow
def test_a_server_that_dies_mid_load_fails_its_level_and_the_run_goes_on(
    model: Path, tmp_path: Path
) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    server = ServerProcess(serve_command(model, port), f"http://127.0.0.1:{port}/v1", log, 120)
    server.start()
    try:
        results = tmp_path / "r"
        command = _levels_command(
            port, _suite(tmp_path, extra="requests = 40\n"), results, "--prompt-tokens", "12"
        )
        run = subprocess.Popen(
            command,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        killer = threading.Thread(target=_kill_in_second_level, args=(server, results, log))
        killer.start()
        output, _ = run.communicate(timeout=300)
        killer.join(10)
    finally:
        server.stop()
    assert run.returncode == 1, output[-3000:]
    rows = _rows(results).sort_values("load_pct").to_dict("records")
    assert [row["status"] for row in rows] == ["ok", "failed", "failed"], output[-3000:]
    assert rows[0]["served_requests"] == rows[0]["planned_requests"]  # measured, and kept
    died = rows[1]["error"]
    assert "endpoint failed under load" in died and "requests answered" in died
    assert "connection" in died
    assert "Connect" in rows[2]["error"] or "connection" in rows[2]["error"].lower()
    # the server back on its port: the run completed by measuring its failed levels again
    with ServerProcess(serve_command(model, port), server.endpoint.base_url, log, 120):
        (run_id,) = (folder.name for folder in results.iterdir())
        resumed = subprocess.run(
            [*command, "--resume", run_id, "--retry-failed"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    read = ResultStore(results).read_cases([run_id]).sort_values("load_pct")
    assert list(read["status"]) == ["ok", "ok", "ok"]
    assert read.iloc[0]["finished_at_utc"] == rows[0]["finished_at_utc"]  # the first one kept


def _levels_command(port: int, suite: Path, results: Path, *extra: str) -> list[str]:
    """``benchsuite run`` of three load levels of the endpoint on ``port``, as a user types it
    (``extra`` last: a later option wins)."""
    return [
        sys.executable,
        "-m",
        "benchsuite",
        "run",
        "--model",
        f"openai:http://127.0.0.1:{port}/v1",
        "--suite",
        str(suite),
        "--load-pct",
        "20,40,60",
        "--prompt-tokens",
        "8",
        "--output-tokens",
        "6",
        "--meter",
        "estimate",
        "--results",
        str(results),
        "--no-report",
        *extra,
    ]


def _kill_in_second_level(server: ServerProcess, results: Path, log: Path) -> None:
    """Kill the server (its whole process group, SIGKILL) a few requests into the second case's
    load window of 40: after the first case's row is written, and 10 more requests than the
    second case's check, warm-up and probe took."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not list(results.glob("*/cases/*.parquet")):
        time.sleep(0.1)
    start = log.read_text().count("POST /v1/chat/completions")
    while time.monotonic() < deadline:
        if log.read_text().count("POST /v1/chat/completions") >= start + 1 + 2 + 12 + 10:
            break
        time.sleep(0.05)
    assert server.pid is not None
    os.killpg(server.pid, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_a_run_stopped_midway_stops_the_server_it_started(
    stop: signal.Signals, model: Path, tmp_path: Path
) -> None:
    """Ctrl-C, or SIGTERM (a cancelled CI job), after the first level: the run is interrupted
    and resumable, and the server it started with --serve is gone."""
    port = free_port()
    serve = ("--serve", serve_command(model, port))
    run = subprocess.Popen(
        _levels_command(port, _suite(tmp_path, 1.5), tmp_path / "r", *serve),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=sigint_as_from_a_terminal,
    )
    assert run.stdout is not None
    seen = ""
    while "[1/3] ok" not in seen and run.poll() is None:
        seen += run.stdout.readline()
    assert listening_pid(port) is not None, seen
    run.send_signal(stop)
    rest, _ = run.communicate(timeout=120)
    assert run.returncode == 130, seen + rest
    assert "--resume" in rest
    assert listening_pid(port) is None


@pytest.mark.slow
def test_a_bad_url_or_a_server_that_never_answers_is_one_line_with_exit_2(tmp_path: Path) -> None:
    port = free_port()
    done = _run(tmp_path, "--model", f"openai:http://127.0.0.1:{port}/v1")
    assert done.returncode == 2
    assert f"no OpenAI-compatible server answers at http://127.0.0.1:{port}/v1/models" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr
    sleeper = f"{sys.executable} -c 'import time; time.sleep(60)'"
    done = _run(
        tmp_path,
        "--model",
        f"openai:http://127.0.0.1:{port}/v1",
        "--serve",
        sleeper,
        "--ready-timeout",
        "2",
    )
    assert done.returncode == 2 and "not ready after 2 s" in done.stderr
    exits = f"{sys.executable} -c 'import sys; print(\"no such model\"); sys.exit(3)'"
    done = _run(tmp_path, "--model", f"openai:http://127.0.0.1:{port}/v1", "--serve", exits)
    assert done.returncode == 2
    assert "exited with code 3" in done.stderr and "no such model" in done.stderr
