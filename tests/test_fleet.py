"""A fleet: a real S3-compatible server (moto) on loopback and a real two-node Ray cluster on this
machine. A suite runs across the cluster into ``s3://``, the report and the gate read the same
URI, a Ray worker killed mid-case becomes a failed row, and ``--resume`` works across the fleet."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psutil
import pyarrow.fs as pafs
import pytest
import torch

from benchsuite.cli import main
from benchsuite.run.fleet.ray_executor import Node
from benchsuite.run.fleet.shard import Shard
from benchsuite.store.runs import ResultStore
from tests.conftest import HANG_GUARD_S

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
BUCKET = "benchsuite-fleet"
pytestmark = [
    pytest.mark.slow,
    # Ray's own start-up warnings are not ours to fail on
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    """moto's S3 server on loopback; the AWS_* environment points every client (pyarrow here,
    and on the Ray nodes started after it) at it."""
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + HANG_GUARD_S
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"moto_server did not start within {HANG_GUARD_S:g} s")
            time.sleep(0.1)
    environment = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    try:
        with pytest.MonkeyPatch.context() as patch:
            for key, value in environment.items():
                patch.setenv(key, value)
            endpoint = environment["AWS_ENDPOINT_URL"]
            pafs.S3FileSystem(endpoint_override=endpoint, allow_bucket_creation=True).create_dir(
                BUCKET
            )
            yield f"s3://{BUCKET}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def cluster(s3_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A head node with one CPU and a second node with one CPU, one (logical) GPU and the
    H100 accelerator resource, in a temporary folder of their own (a stale /tmp/ray would make
    Ray join a dead cluster)."""
    folder = Path(f"/tmp/bsray-{os.getpid()}")  # short: Ray's socket paths must stay < 108
    (folder / "ray").mkdir(parents=True, exist_ok=True)
    hold = tmp_path_factory.mktemp("hold")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_TMPDIR", str(folder))
        patch.setenv("BENCHSUITE_TEST_HOLD_DIR", str(hold))
        started = Cluster(
            initialize_head=True,
            head_node_args={"num_cpus": 1, "include_dashboard": False},
        )
        started.add_node(num_cpus=1, num_gpus=1, resources={"accelerator_type:H100": 1})
        ray.init(address=started.address, log_to_driver=False)
        yield started
        ray.shutdown()
        started.shutdown()
    shutdown_deadline = time.monotonic() + 10
    while time.monotonic() < shutdown_deadline and any(
        "raylet" in (p.info["name"] or "") for p in psutil.process_iter(["name"])
    ):
        time.sleep(0.2)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def workloads(tmp_path: Path) -> Path:
    folder = tmp_path / "workloads"
    folder.mkdir()
    shutil.copy(DATA / "tiny_workloads" / "tiny_mlp.py", folder)
    shutil.copy(DATA / "fleet_workloads" / "held_mlp.py", folder)
    return folder


def _run(store: str, suite: str, workloads: Path, *extra: str) -> int:
    return main(
        [
            "run",
            "--suite",
            str(DATA / suite),
            "--workloads",
            str(workloads),
            "--results",
            store,
            "--executor",
            "ray",
            "--no-report",
            *extra,
        ]
    )


def test_a_suite_runs_across_the_cluster_into_s3(
    cluster: Cluster, s3_server: str, workloads: Path, tmp_path: Path
) -> None:
    store_uri = f"{s3_server}/nightly"
    assert _run(store_uri, "fleet.toml", workloads, "--branch", "main") == 0
    store = ResultStore(store_uri)
    (run_id,) = store.run_ids()
    rows = store.read_cases([run_id]).set_index("case_id")
    assert len(rows) == 3  # fp32 on cpu and on cuda, and the offline case
    nodes = {node["NodeID"]: node["Resources"] for node in ray.nodes() if node["Alive"]}
    assert set(rows["executor_node"]) <= set(nodes)
    cpu = rows[rows["device"] == "cpu"]
    assert (cpu["status"] == "ok").all(), cpu["error"].tolist()
    assert (cpu["latency_p50_ms"] > 0).all()
    # the cuda cases went only to the node with the H100 resource: they run on a host with a
    # CUDA device and are skipped, with the reason, on one without
    cuda = rows[rows["device"] == "cuda"]
    assert set(cuda["status"]) == ({"ok"} if torch.cuda.is_available() else {"skipped"})
    assert all("accelerator_type:H100" in nodes[node] for node in cuda["executor_node"])
    # every case's samples and energy windows are in the store, and the manifest came last
    samples = store.read_samples([run_id])
    assert set(samples["case_id"]) == set(cpu.index)
    manifest = store.manifest(run_id)
    assert (manifest["state"], manifest["cases_written"], manifest["executor"]) == (
        "complete",
        3,
        "ray",
    )
    assert manifest["branch"] == "main"

    # the report and the gate read the same URI
    assert main(["report", "--results", store_uri, "--out", str(tmp_path / "html")]) == 0
    assert run_id in (tmp_path / "html" / "index.html").read_text()
    first_gate = tmp_path / "first.json"
    gate = ["gate", "--results", store_uri, "--baseline", "rolling:7", "--json"]
    assert main([*gate, str(first_gate)]) == 0
    assert json.loads(first_gate.read_text())["verdict"] == "no-baseline"
    assert _run(store_uri, "fleet.toml", workloads, "--branch", "main") == 0
    second_gate = tmp_path / "second.json"
    assert main([*gate, str(second_gate)]) in (0, 1)  # a verdict, whichever the noise gives
    verdict = json.loads(second_gate.read_text())
    assert verdict["verdict"] != "no-baseline"
    assert {case["case_id"] for case in verdict["cases"]} == set(cpu.index)


def _ray_worker_of(pid: int) -> psutil.Process:
    """The Ray worker process that ``pid`` (a case's worker) descends from."""
    process: psutil.Process | None = psutil.Process(pid)
    while process is not None:
        if " ".join(process.cmdline()).startswith("ray::"):
            return process
        process = process.parent()
    raise AssertionError(f"process {pid} does not descend from a Ray worker")


def test_a_killed_ray_worker_is_a_failed_row_and_resume_completes_the_run(
    cluster: Cluster, s3_server: str, workloads: Path
) -> None:
    store_uri = f"{s3_server}/killed"
    hold = Path(os.environ["BENCHSUITE_TEST_HOLD_DIR"])
    started = hold / "started"
    started.unlink(missing_ok=True)
    runner = subprocess.Popen(  # the run, as a user starts it, joining the test's cluster
        [
            sys.executable,
            "-m",
            "benchsuite",
            "run",
            "--suite",
            str(DATA / "fleet_held.toml"),
            "--workloads",
            str(workloads),
            "--results",
            store_uri,
            "--executor",
            "ray",
            "--ray-address",
            cluster.address,
            "--no-report",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + HANG_GUARD_S
    while not started.exists():
        assert runner.poll() is None, runner.communicate()[0]
        assert time.monotonic() < deadline, "the held case never started"
        time.sleep(0.1)
    _ray_worker_of(int(started.read_text())).send_signal(signal.SIGKILL)
    output, _ = runner.communicate(timeout=HANG_GUARD_S)
    assert runner.returncode == 1, output  # a failed case: exit 1, after every other case
    store = ResultStore(store_uri)
    (run_id,) = store.run_ids()
    rows = store.read_cases([run_id]).set_index("case_id")
    assert len(rows) == 3
    held = rows.loc["held-mlp/fp32/cpu/single-stream/b1/t1"]
    assert held["status"] == "failed"
    assert "Ray worker measuring this case" in held["error"]
    assert "was lost" in held["error"]
    assert (rows.drop(index=held.name)["status"] == "ok").all()

    # a run cut short (its driver stopped) goes on across the fleet with --resume
    fs, base = pafs.FileSystem.from_uri(f"{store_uri}/{run_id}/cases")
    offline = next(
        info.path
        for info in fs.get_file_info(pafs.FileSelector(base))
        if "offline" in pd.read_parquet(info.path, filesystem=fs)["case_id"].iloc[0]
    )
    fs.delete_file(offline)
    fs.delete_file(f"{base.rsplit('/', 1)[0]}/run-cases.parquet")
    (hold / "started").unlink()
    assert _run(store_uri, "fleet_held.toml", workloads, "--resume", run_id) == 0
    after = ResultStore(store_uri).read_cases([run_id])
    assert sorted(after["case_id"]) == sorted(rows.index)
    assert not (hold / "started").exists()  # the held case was not measured again


def test_shards_split_a_suite_deterministically() -> None:
    from benchsuite.suites.load import load_suite

    cases = load_suite("standard").cases()
    shards = [Shard.parse(f"{i}/3").select(cases) for i in (1, 2, 3)]
    assert sorted(c.id for shard in shards for c in shard) == sorted(c.id for c in cases)
    assert max(map(len, shards)) - min(map(len, shards)) <= 1
    assert Shard.parse("2/3").select(cases) == shards[1]  # the same split every time
    for bad in ("0/3", "4/3", "x/3", "2"):
        with pytest.raises(Exception, match="expected I/N"):
            Shard.parse(bad)


def test_placement_rules() -> None:
    cpu_only = Node("a", 16, 0, {"CPU": 16})
    h100 = Node("b", 16, 8, {"CPU": 16, "GPU": 8, "accelerator_type:H100": 1})
    assert cpu_only.can_run("cpu", "H100") and h100.can_run("cpu", None)
    assert not cpu_only.can_run("cuda", None)
    assert h100.can_run("cuda:1", "H100") and h100.can_run("cuda", None)
    assert not h100.can_run("cuda", "A100")
