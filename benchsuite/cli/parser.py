"""The ``benchsuite`` command line: one function per command adds its options."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchsuite._version import __version__
from benchsuite.cli.commands import (
    command_export,
    command_gate,
    command_list,
    command_meters,
    command_report,
)
from benchsuite.cli.compare_command import command_compare
from benchsuite.cli.options import (
    DEFAULT_REPORTS_DIR,
    results_option,
    scope_options,
    workloads_option,
)
from benchsuite.cli.run_command import command_run
from benchsuite.instruments.meters import METER_CHOICES
from benchsuite.report.export import FORMATS
from benchsuite.sources import TASKS

Commands = argparse._SubParsersAction  # what add_subparsers returns


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchsuite",
        description="Energy benchmarking and reporting for ML model variants.",
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"benchsuite {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for add in (
        _add_run,
        _add_compare,
        _add_list,
        _add_meters,
        _add_report,
        _add_export,
        _add_gate,
    ):
        add(commands)
    return parser


def _add_run(commands: Commands) -> None:
    run = commands.add_parser(
        "run", help="measure a suite into the results store", allow_abbrev=False
    )
    run.add_argument(
        "--suite",
        default=None,
        help="bundled suite name or path of a .toml file (default: standard); with --model, "
        "only its [measure] settings are used",
    )
    _add_model_options(run)
    workloads_option(run)
    results_option(
        run,
        "results store: a folder, or an object store such as s3://bucket/prefix "
        "(credentials and endpoint from the AWS_* environment) (default: results)",
    )
    run.add_argument("--reports", type=Path, default=DEFAULT_REPORTS_DIR, metavar="DIR")
    run.add_argument("--no-report", action="store_true", help="do not render the HTML report")
    run.add_argument(
        "--benchmark-json",
        type=Path,
        metavar="FILE",
        help="also write the timed cases as pytest-benchmark's --benchmark-json does",
    )
    run.add_argument(
        "--meter",
        default="auto",
        choices=METER_CHOICES,
        help="energy meter (default auto: RAPL / NVML when readable, else the "
        "labelled estimate); an unavailable choice falls back and says why",
    )
    run.add_argument(
        "--require-measured",
        action="store_true",
        help="exit 3 when any case's energy is not measured and valid (an estimate, or an "
        "invalid figure), for CI jobs that must have measured energy; the rows are kept",
    )
    run.add_argument(
        "--resume",
        metavar="RUN_ID",
        help="continue an interrupted run: measure only its missing cases",
    )
    run.add_argument(
        "--retry-failed",
        action="store_true",
        help="with --resume: measure the run's failed cases again too (after a server came back, "
        "say); the new row replaces the failed one when the run is read",
    )
    run.add_argument(
        "--branch",
        metavar="NAME",
        help="record the branch or tag the run measured: the gate then compares it only with "
        "runs of the same branch",
    )
    run.add_argument(
        "--shard",
        metavar="I/N",
        help="run only the I-th of N equal shares of the suite (for N CI matrix jobs); each "
        "shard is its own run, compared with the same shard",
    )
    run.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="local: one case after another on this machine (default); ray: each case a Ray "
        "task on a node with its device, one case per node at a time (docs/fleet.md)",
    )
    run.add_argument(
        "--ray-address",
        metavar="HOST:PORT",
        help="the Ray cluster to join (default: RAY_ADDRESS, else a cluster on this machine)",
    )
    run.add_argument(
        "--in-process",
        action="store_true",
        help="run cases in this process, not one worker each (for debugging)",
    )
    run.add_argument(
        "--case-timeout",
        type=float,
        metavar="SECONDS",
        help="kill a case's worker after this long (default: the suite's, 900 s)",
    )
    run.set_defaults(handler=command_run)


def _add_compare(commands: Commands) -> None:
    compare = commands.add_parser(
        "compare",
        allow_abbrev=False,
        help="measure two versions of your code side by side (a pull request's base and head) "
        "into an A/B run; then `benchsuite gate` with no --baseline decides on it",
    )
    arms = compare.add_argument_group(
        "the two arms (each a checkout with its own workloads folder, suite file and weights)"
    )
    base = arms.add_mutually_exclusive_group(required=True)
    base.add_argument("--baseline", type=Path, metavar="DIR", help="the baseline's checkout")
    base.add_argument(
        "--baseline-ref",
        metavar="REF",
        help="a git ref of the candidate's repository (origin/main, a commit), exported to a "
        "temporary folder with git archive: only committed files",
    )
    arms.add_argument(
        "--candidate",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="the candidate's checkout (default: this folder)",
    )
    arms.add_argument(
        "--suite",
        default="standard",
        help="a suite file's path inside each arm, or a bundled suite's name (default standard)",
    )
    arms.add_argument(
        "--workloads",
        type=Path,
        metavar="DIR",
        help="the workloads folder inside each arm (default: workloads, when the arm has one)",
    )
    results_option(compare, "results store (default: results)")
    compare.add_argument("--reports", type=Path, default=DEFAULT_REPORTS_DIR, metavar="DIR")
    compare.add_argument("--no-report", action="store_true", help="do not render the HTML report")
    compare.add_argument(
        "--rules",
        type=Path,
        metavar="FILE",
        help="gate rules (default: bundled): their allowances end a case early once its ratio "
        "is clear of them; pass the same file to benchsuite gate",
    )
    compare.add_argument(
        "--no-adaptive",
        action="store_true",
        help="measure every planned process, even when a case's verdict is already clear",
    )
    compare.add_argument(
        "--whole-run-pairs",
        type=int,
        default=2,
        metavar="N",
        help="pairs of alternating whole runs for generation, server, training and endpoint "
        "cases (default 2: B C C B)",
    )
    compare.add_argument(
        "--case-budget",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="more pairs of whole runs while a case has used less than this and its verdict is "
        "not yet clear (default 0: the pairs alone)",
    )
    compare.add_argument(
        "--meter", default="auto", choices=METER_CHOICES, help="energy meter (default auto)"
    )
    compare.add_argument("--branch", metavar="NAME", help="record the branch the candidate is on")
    compare.set_defaults(handler=command_compare)


_LIST_OPTIONS = (  # comma-separated values of a model's one-model suite, in --help's order
    (
        "--variants",
        "A,B",
        "default: fp32,bf16,int8; a language model: fp32,bf16-weights,int8 (+distilled)",
    ),
    ("--devices", "A,B", "default: cpu"),
    (
        "--scenarios",
        "A,B",
        "single-stream, offline, generation, server, server-capacity; for an endpoint: "
        "endpoint, endpoint-capacity, endpoint-users (default: endpoint for openai:, generation "
        "for --task text-generation, else single-stream)",
    ),
    ("--batch-sizes", "N,M", "offline and generation batch sizes (default 8)"),
    (
        "--threads",
        "N,M",
        "intra-op CPU threads, each its own case (default: torch's own; every row records the "
        "threads it used)",
    ),
    ("--prompt-tokens", "N,M", "generation prompts (default 32)"),
    ("--output-tokens", "N,M", "generated tokens (default 32)"),
    (
        "--load-pct",
        "N,M",
        "server and endpoint loads, percent of the measured maximum throughput (default 10,50,90)",
    ),
)


def _add_model_options(command: argparse.ArgumentParser) -> None:
    """``--model`` and what describes the model: a one-model suite instead of a suite file."""
    named = command.add_argument_group(
        "a model by name (instead of a suite): benchsuite run --model hf:./my-bert "
        "--task text-classification"
    )
    named.add_argument(
        "--model",
        metavar="hf:ID|hf:DIR|openai:URL",
        help="hub id (local cache) or folder; or an OpenAI-compatible endpoint's base URL, "
        "e.g. openai:http://127.0.0.1:8000/v1",
    )
    named.add_argument(
        "--task", choices=TASKS, help="what the model does (an endpoint: text-generation)"
    )
    named.add_argument("--name", help="workload name in case ids (default: from the source)")
    for flag, metavar, help_text in _LIST_OPTIONS:
        named.add_argument(flag, metavar=metavar, help=help_text)
    named.add_argument("--sequence-length", type=int, default=128, metavar="TOKENS")
    named.add_argument("--image-size", type=int, metavar="PIXELS")
    named.add_argument(
        "--eval-data", metavar="FILE", help="JSONL, CSV or Parquet with text/image and label"
    )
    named.add_argument("--text-column", default="text")
    named.add_argument("--image-column", default="image")
    named.add_argument("--label-column", default="label")
    named.add_argument("--student", metavar="hf:ID|hf:DIR", help="its distilled variant")
    endpoint = command.add_argument_group(
        "an endpoint (--model openai:URL); its load, SLO and timeouts: the suite's [endpoints]"
    )
    endpoint.add_argument(
        "--served-model",
        metavar="NAME",
        help="the model its requests name (default: the one its /models lists)",
    )
    endpoint.add_argument("--api", choices=("chat", "completions"), default="chat")
    endpoint.add_argument(
        "--serve",
        metavar="COMMAND",
        help="start the server with this command, wait until it answers, stop it after the run "
        '(e.g. "vllm serve Qwen/Qwen2.5-0.5B --port 8000")',
    )
    endpoint.add_argument(
        "--ready-timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="how long --serve's server may take to answer /models (default 300)",
    )
    endpoint.add_argument(
        "--gpu-ids",
        metavar="N,M",
        help="the CUDA-visible indices of the GPUs the server uses: NVML reads them over each "
        "load window (CUDA_VISIBLE_DEVICES applies)",
    )
    endpoint.add_argument("--slo-ttft-ms", type=float, metavar="MS", help="p99 TTFT bound")
    endpoint.add_argument("--slo-tpot-ms", type=float, metavar="MS", help="p99 TPOT bound")
    endpoint.add_argument("--slo-e2e-ms", type=float, metavar="MS", help="p99 end-to-end bound")


def _add_list(commands: Commands) -> None:
    listing = commands.add_parser("list", help="show workloads, variants and bundled suites")
    workloads_option(listing)
    listing.set_defaults(handler=command_list)


def _add_meters(commands: Commands) -> None:
    meters = commands.add_parser("meters", help="show every energy meter and whether it works here")
    meters.set_defaults(handler=command_meters)


def _add_report(commands: Commands) -> None:
    report = commands.add_parser(
        "report", help="render the HTML report of a run", allow_abbrev=False
    )
    results_option(report)
    report.add_argument(
        "--out",
        "--reports",
        dest="reports",
        type=Path,
        default=DEFAULT_REPORTS_DIR,
        metavar="DIR",
        help="folder of the HTML report (default: reports); --reports as in benchsuite run",
    )
    report.add_argument("--run", metavar="RUN_ID", help="run to render (default: the latest)")
    report.add_argument(
        "--label-reference",
        metavar="HARDWARE_ID",
        help="grade every card against the fp32 cases measured on this hardware id (default: "
        "the suite's [report] label_reference, else the run's own fp32)",
    )
    scope_options(report, "the latest")
    report.add_argument(
        "--strict",
        action="store_true",
        help="refuse unreadable result files instead of skipping them",
    )
    report.set_defaults(handler=command_report)


def _add_export(commands: Commands) -> None:
    export = commands.add_parser(
        "export",
        allow_abbrev=False,
        help="write a run's rows as CSV, JSON or Markdown (one row per case, the store's columns)",
    )
    export.add_argument("run", nargs="?", default="latest", metavar="RUN", help="default: latest")
    export.add_argument("--format", required=True, choices=FORMATS)
    export.add_argument("--out", type=Path, metavar="FILE", help="default: standard output")
    results_option(export)
    export.add_argument(
        "--strict", action="store_true", help="refuse unreadable result files instead"
    )
    scope_options(export, "latest")
    export.set_defaults(handler=command_export)


def _add_gate(commands: Commands) -> None:
    gate = commands.add_parser(
        "gate",
        allow_abbrev=False,
        help="compare a candidate run with a baseline; exit 0 pass, 1 regression, 2 bad input, "
        "3 inconclusive under --strict",
    )
    gate.add_argument(
        "--baseline",
        metavar="SEL",
        help="run id, latest, previous, latest~N, rolling:N, or a pinned run folder / Parquet "
        "file; leave it out to gate an A/B run (benchsuite compare), which carries its own",
    )
    gate.add_argument("--candidate", default="latest", metavar="SEL", help="default: latest")
    gate.add_argument(
        "--confirm",
        metavar="SEL",
        action="append",
        help="a re-run of the candidate's code: a regression must repeat there, else it is "
        "inconclusive (a disturbed run); repeatable (it must repeat in every re-run); e.g. "
        "--candidate latest~2 --confirm latest~1 --confirm latest",
    )
    results_option(gate)
    scope_options(gate, "the candidate's latest")
    gate.add_argument("--rules", type=Path, metavar="FILE", help="rules TOML (default: bundled)")
    gate.add_argument(
        "--strict", action="store_true", help="an inconclusive verdict fails the job (exit 3)"
    )
    gate.add_argument(
        "--trend-runs",
        type=int,
        default=30,
        metavar="N",
        help="look for shifts over the last N runs on this hardware (default 30)",
    )
    gate.add_argument("--markdown", type=Path, metavar="FILE")
    gate.add_argument("--junit", type=Path, metavar="FILE")
    gate.add_argument("--json", type=Path, metavar="FILE")
    gate.set_defaults(handler=command_gate)
