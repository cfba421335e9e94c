"""The ``benchsuite`` command: a thin layer over the library.

Library errors that the user can fix (:class:`~benchsuite.errors.UsageError`) are caught here
once and printed as one line, with exit code 2 and no traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from benchsuite._version import __version__
from benchsuite.case import Case
from benchsuite.errors import RunInterrupted, UsageError, did_you_mean
from benchsuite.gate import INCONCLUSIVE, REGRESSION, run_gate
from benchsuite.gate.outputs import to_json, to_junit, to_markdown
from benchsuite.instruments.meters import METER_CHOICES, all_meters
from benchsuite.report import render_report
from benchsuite.report.export import FORMATS, export_cases, write_pytest_benchmark_json
from benchsuite.report.headline import quality_figure
from benchsuite.run.fingerprint import capture_fingerprint
from benchsuite.run.fleet.shard import Shard
from benchsuite.run.runner import Executor, run_suite
from benchsuite.scenarios import Role, all_scenarios, get_scenario
from benchsuite.scenarios.single_stream import SingleStream
from benchsuite.sources import TASKS, ModelSpec, build_workload
from benchsuite.store.history import RunScope, runs_in_scope
from benchsuite.store.location import is_uri
from benchsuite.store.runs import ResultStore, StoreWarning
from benchsuite.store.schema import Status
from benchsuite.suites.load import Suite, bundled_suites, load_suite
from benchsuite.suites.model import model_suite
from benchsuite.variants import all_variants
from benchsuite.workload.discovery import (
    load_workloads,
    standard_workloads_dir,
    user_workloads_dir,
    workload_source,
)

DEFAULT_RESULTS_DIR = Path("results")
DEFAULT_REPORTS_DIR = Path("reports")


class _ProgressObserver:
    """Draws a progress bar with the current case and the time left (from cases done so far).
    Where the output is not a terminal (CI logs), it prints a line per finished case instead."""

    def __init__(self, progress: Progress, total: int) -> None:
        self.progress = progress
        self.task = progress.add_task("starting", total=total)

    def case_started(self, index: int, total: int, case: Case) -> None:
        self.progress.update(self.task, description=case.id)

    def case_finished(self, index: int, total: int, case: Case, row: Mapping[str, Any]) -> None:
        self.progress.advance(self.task)
        console = self.progress.console
        if row["status"] != "ok":
            console.print(f"  {row['status']}: {case.id}: {row['error']}", markup=False)
        elif not console.is_terminal:
            console.print(
                f"  [{index + 1}/{total}] ok: {case.id} ({row['case_wall_s']:.1f} s)",
                markup=False,
                highlight=False,
            )


def _summary_table(rows: Sequence[Mapping[str, Any]]) -> Table:
    """The end-of-run summary: readable at 80 columns. Case ids wrap onto more lines; figures
    never wrap nor are cut, in human units. Throughput and the sampling notes
    are in the report and the store."""
    table = Table(title="benchsuite run summary", title_justify="left", expand=False)
    table.add_column("case", overflow="fold", ratio=1, min_width=16)
    table.add_column("status", no_wrap=True)
    table.add_column("quality", justify="right", no_wrap=True)
    table.add_column("median", justify="right", no_wrap=True)
    table.add_column("energy / 1k", justify="right", no_wrap=True)
    for row in rows:
        case_id = str(row["case_id"])
        if row["status"] != "ok":
            table.add_row(case_id, str(row["status"]), "", "", "")
            continue
        cells = get_scenario(row["scenario"]).summary(row)
        table.add_row(case_id, "ok", quality_figure(dict(row)), cells.latency or "–", cells.energy)
    return table


def _check_writable_folder(folder: Path, option: str) -> None:
    """Refuse an unwritable output folder before measuring, not after."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".benchsuite-write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise UsageError(
            f"reports folder {folder} is not writable ({error.strerror}); pass "
            f"{option} DIR with a folder you can write, or --no-report"
        ) from None


def _command_run(args: argparse.Namespace, console: Console) -> int:
    if args.resume is not None:
        previous = ResultStore(args.results)
        manifest = previous.manifest(args.resume) if previous.has_run(args.resume) else {}
        if not manifest:
            raise UsageError(
                f"--resume {args.resume}: no such run in {args.results}; check "
                "--results and the run id"
            )
        args.suite = args.suite or manifest.get("suite_spec") or manifest.get("suite")
        if args.workloads is None and manifest.get("workloads_dir"):
            args.workloads = Path(manifest["workloads_dir"])
        args.shard = args.shard or manifest.get("shard")
        args.branch = args.branch or manifest.get("branch")
    if args.model is not None:
        suite = _suite_of_model(args)
    else:
        args.suite = args.suite or "standard"
        suite = load_suite(args.suite)
    if args.case_timeout is not None:
        if args.case_timeout <= 0:
            raise UsageError(
                f"--case-timeout {args.case_timeout}: must be a positive number of seconds"
            )
        suite = dataclasses.replace(
            suite, measure=dataclasses.replace(suite.measure, case_timeout_s=args.case_timeout)
        )
    workloads = load_workloads(args.workloads)
    for spec in suite.models:  # load each named model now: a bad name fails before measuring
        console.print(f"loading {spec.source} ({spec.task})")
        named = build_workload(spec)
        named.check()
        workloads[spec.name] = named
    suite.check_workloads(workloads)
    if not args.no_report:
        _check_writable_folder(args.reports, "--reports")
    store = ResultStore(args.results)
    shard = Shard.parse(args.shard) if args.shard else None
    executor = _executor(args, suite)
    cases = shard.select(suite.cases()) if shard else suite.cases()
    where = f"shard {shard.label} of " if shard else ""
    console.print(f"{where}suite {suite.name}: {len(cases)} cases, results to {store}")
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        result = run_suite(
            suite,
            workloads,
            store,
            _ProgressObserver(progress, len(cases)),
            meter=args.meter,
            isolate=not args.in_process,
            resume=args.resume,
            shard=shard,
            executor=executor,
            suite_spec=args.suite,
            workloads_dir=_folder_for_manifest(args.workloads),
            **({"branch": args.branch} if args.branch else {}),
        )
    if args.in_process:  # debugging: show where each failed case raised
        errors = Console(stderr=True, highlight=False, soft_wrap=True)
        for row in result.rows:
            if row["status"] == Status.FAILED and row.get("error_traceback"):
                errors.print(f"{row['case_id']} failed:\n{row['error_traceback']}", markup=False)
    for warning in result.warnings():
        console.print(warning, markup=False)
    notes = {row["energy_meter_note"] for row in result.rows if row.get("energy_meter_note")}
    for note in sorted(notes):
        console.print(f"energy: {note}")
    console.print(_summary_table(result.rows))
    console.print(
        f"run {result.run_id}: {result.count('ok')} ok, {result.count('skipped')} skipped, "
        f"{result.count('failed')} failed; rows in {result.folder}/cases"
    )
    if args.benchmark_json is not None:
        _write_output(
            args.benchmark_json,
            write_pytest_benchmark_json(store, result.run_id),
            "--benchmark-json",
        )
        console.print(f"pytest-benchmark JSON: {args.benchmark_json}")
    if not args.no_report:
        page = render_report(store, result.run_id, args.reports)
        console.print(f"report: {page}")
    return 1 if result.count("failed") else 0


def _executor(args: argparse.Namespace, suite: Suite) -> Executor | None:
    if args.executor == "local":
        if args.ray_address:
            raise UsageError("--ray-address: only with --executor ray")
        return None
    if args.in_process:
        raise UsageError("--in-process: not with --executor ray (each case runs on a node)")
    from benchsuite.run.fleet.ray_executor import RayExecutor

    return RayExecutor(args.ray_address, suite.accelerator_type)


def _store_place(text: str) -> Path | str:
    """``--results``: a local folder, or an object-store URI such as ``s3://bucket/prefix``."""
    return text if is_uri(text) else Path(text)


def _names(value: str | None, option: str) -> tuple[str, ...]:
    if value is None:
        return ()
    names = tuple(part.strip() for part in value.split(",") if part.strip())
    if not names:
        raise UsageError(f"{option} {value!r}: give a comma-separated list")
    return names


def _counts(value: str | None, option: str) -> tuple[int, ...]:
    counts = []
    for part in _names(value, option):
        if not part.isdigit() or int(part) < 1:
            raise UsageError(f"{option} {value}: positive integers, e.g. 1,8,32")
        counts.append(int(part))
    return tuple(counts)


def _suite_of_model(args: argparse.Namespace) -> Suite:
    if args.task is None:
        raise UsageError(f"--model {args.model}: needs --task ({', '.join(TASKS)})")
    spec = ModelSpec(
        args.model,
        args.task,
        name=args.name or "",
        sequence_length=args.sequence_length,
        image_size=args.image_size,
        eval_data=args.eval_data,
        text_column=args.text_column,
        image_column=args.image_column,
        label_column=args.label_column,
        student=args.student,
    )
    sizes = _counts(args.batch_sizes, "--batch-sizes")
    scenarios = _names(args.scenarios, "--scenarios") or (SingleStream.name,)
    known = all_scenarios()
    for name in scenarios:
        if name not in known or known[name].role is not Role.INFERENCE:
            inference = [n for n, s in known.items() if s.role is Role.INFERENCE]
            raise UsageError(
                f"--scenarios {name}: a named model runs {', '.join(inference)}"
                f"{did_you_mean(name, inference)}"
            )
    variants = _names(args.variants, "--variants")
    known_variants = all_variants()
    for variant in variants:
        if variant not in known_variants:
            raise UsageError(
                f"--variants {variant}: unknown variant{did_you_mean(variant, known_variants)}; "
                f"known: {', '.join(known_variants)}"
            )
    measure = load_suite(args.suite).measure if args.suite else None
    prompts = _counts(args.prompt_tokens, "--prompt-tokens") or (32,)
    outputs = _counts(args.output_tokens, "--output-tokens") or (32,)
    loads = _counts(args.load_pct, "--load-pct") or (10, 50, 90)
    return model_suite(
        spec,
        variants,
        _names(args.devices, "--devices") or ("cpu",),
        scenarios,
        sizes,
        measure,
        [(p, o) for p in prompts for o in outputs],
        loads,
    )


def _folder_for_manifest(given: Path | None) -> str | None:
    folder = user_workloads_dir(given)
    return str(folder.resolve()) if folder is not None else None


def _command_list(args: argparse.Namespace, console: Console) -> int:
    workloads = load_workloads(args.workloads)
    folder = user_workloads_dir(args.workloads)
    standard = standard_workloads_dir().resolve()
    title = "workloads (standard" + (f", and from {folder}" if folder else "") + ")"
    table = Table(title=title, title_justify="left")
    table.add_column("name")
    table.add_column("from")
    table.add_column("quality")
    table.add_column("description")
    for name, workload in sorted(workloads.items()):
        source = workload_source(workload)
        origin = "standard" if source is not None and source.parent == standard else str(folder)
        table.add_row(name, origin, workload.quality_metric or "n/a", workload.description)
    console.print(table)
    table = Table(title="variants", title_justify="left")
    table.add_column("name")
    table.add_column("devices")
    table.add_column("recipe")
    for variant in all_variants().values():
        table.add_row(variant.name, ", ".join(variant.devices), variant.recipe)
    console.print(table)
    table = Table(title="bundled suites (--suite NAME)", title_justify="left")
    table.add_column("name")
    table.add_column("cases")
    table.add_column("description")
    for name in sorted(bundled_suites()):
        suite = load_suite(name)
        table.add_row(name, str(len(suite.cases())), suite.description)
    console.print(table)
    return 0


def _command_meters(args: argparse.Namespace, console: Console) -> int:
    table = Table(title="energy meters", title_justify="left")
    for header in ("source", "available", "kind", "domains", "resolution", "detail"):
        table.add_column(header)
    for meter in all_meters():
        info = meter.info()
        table.add_row(
            info.source,
            "yes" if info.available else "no",
            info.kind,
            ", ".join(info.domains),
            f"{info.resolution_s:g} s" if info.resolution_s else "",
            info.detail,
        )
    console.print(table)
    return 0


def _chosen_run(args: argparse.Namespace, store: ResultStore, run: str | None) -> str:
    """The run ``run`` names (``None`` or ``latest``: the latest run in the scope that
    ``--suite``, ``--branch``, ``--shard`` and ``--hardware-id`` give)."""
    runs = store.run_ids()
    if not runs:
        raise UsageError(f"--results {args.results}: no runs found; run `benchsuite run` first")
    if run is None or run == "latest":
        scope = _scope(args)
        scoped = runs_in_scope(store, scope) if scope != RunScope() else runs
        if not scoped:
            raise UsageError(
                f"--results {args.results}: no run {scope.describe()}; check --suite, --branch, "
                "--shard and --hardware-id"
            )
        return scoped[-1]
    if run not in runs:
        raise UsageError(
            f"{run}: no such run in {args.results}; runs: {', '.join(runs[-5:])}, or latest"
        )
    return run


def _command_report(args: argparse.Namespace, console: Console) -> int:
    store = ResultStore(args.results, strict=args.strict)
    run_id = _chosen_run(args, store, args.run)
    page = render_report(store, run_id, args.reports, args.label_reference)
    console.print(f"report: {page}")
    return 0


def _command_export(args: argparse.Namespace, console: Console) -> int:
    store = ResultStore(args.results, strict=args.strict)
    run_id = _chosen_run(args, store, args.run)
    text = export_cases(store, run_id, args.format)
    if args.out is None:
        sys.stdout.write(text)
    else:
        _write_output(args.out, text, "--out")
        console.print(f"{args.format}: {args.out} ({run_id})")
    return 0


def _scope(args: argparse.Namespace) -> RunScope:
    """Which runs ``latest`` counts in, from ``--suite``, ``--branch``, ``--shard`` and
    ``--hardware-id`` (``this``: this machine's)."""
    hardware = args.hardware_id
    if hardware == "this":
        hardware = capture_fingerprint().hardware_id
    return RunScope(
        suite=args.suite,
        hardware_ids=frozenset({hardware}) if hardware else None,
        branch=args.branch,
        shard=args.shard,
    )


def _scope_options(command: argparse.ArgumentParser, latest: str) -> None:
    """``--suite``, ``--branch``, ``--shard``, ``--hardware-id``: in a store that several
    machines, suites or branches share, which runs ``latest`` means."""
    group = command.add_argument_group(
        f"which run {latest} means in a shared store (default: the latest of all)"
    )
    group.add_argument("--suite", metavar="NAME", help="the latest run of this suite")
    group.add_argument("--branch", metavar="NAME", help="the latest run of this branch or tag")
    group.add_argument("--shard", metavar="I/N", help="the latest run of this shard")
    group.add_argument(
        "--hardware-id",
        metavar="ID|this",
        help="the latest run on this hardware id (this: this machine's)",
    )


def _write_output(path: Path | None, text: str, option: str) -> None:
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise UsageError(
            f"{option} {path}: cannot write it ({error.strerror}); choose a writable path"
        ) from None


def _command_gate(args: argparse.Namespace, console: Console) -> int:
    scope = _scope(args)
    result = run_gate(
        args.results,
        args.baseline,
        args.candidate,
        args.rules,
        args.trend_runs,
        strict=args.strict,
        confirm=args.confirm,
        scope=scope,
    )
    markdown = to_markdown(result)
    console.print(markdown, markup=False, highlight=False)
    _write_output(args.markdown, markdown, "--markdown")
    _write_output(args.junit, to_junit(result), "--junit")
    _write_output(args.json, to_json(result), "--json")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(markdown)
    if result.notice is not None:
        console.print(f"notice: {result.notice}", markup=False, highlight=False)
    if result.verdict == REGRESSION:
        return 1
    if result.verdict == INCONCLUSIVE and args.strict:
        return 3
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchsuite",
        description="Energy benchmarking and reporting for ML model variants.",
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"benchsuite {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def workloads_option(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--workloads",
            type=Path,
            default=None,
            metavar="DIR",
            help="folder of your workload files, added to the standard ones; yours win on a "
            "name clash (default ./workloads when it exists)",
        )

    run = commands.add_parser(
        "run", help="measure a suite into the results store", allow_abbrev=False
    )
    run.add_argument(
        "--suite",
        default=None,
        help="bundled suite name or path of a .toml file (default: standard); with --model, "
        "only its [measure] settings are used",
    )
    named = run.add_argument_group(
        "a model by name (instead of a suite): benchsuite run --model hf:./my-bert "
        "--task text-classification"
    )
    named.add_argument("--model", metavar="hf:ID|hf:DIR", help="hub id (local cache) or folder")
    named.add_argument("--task", choices=TASKS, help="what the model does")
    named.add_argument("--name", help="workload name in case ids (default: from the source)")
    named.add_argument("--variants", metavar="A,B", help="default: fp32,bf16,int8 (+distilled)")
    named.add_argument("--devices", metavar="A,B", help="default: cpu")
    named.add_argument(
        "--scenarios",
        metavar="A,B",
        help="single-stream (default), offline, generation, server, server-capacity",
    )
    named.add_argument(
        "--batch-sizes", metavar="N,M", help="offline and generation batch sizes (default 8)"
    )
    named.add_argument("--prompt-tokens", metavar="N,M", help="generation prompts (default 32)")
    named.add_argument("--output-tokens", metavar="N,M", help="generated tokens (default 32)")
    named.add_argument(
        "--load-pct",
        metavar="N,M",
        help="server loads, percent of the measured maximum throughput (default 10,50,90)",
    )
    named.add_argument("--sequence-length", type=int, default=128, metavar="TOKENS")
    named.add_argument("--image-size", type=int, metavar="PIXELS")
    named.add_argument(
        "--eval-data", metavar="FILE", help="JSONL, CSV or Parquet with text/image and label"
    )
    named.add_argument("--text-column", default="text")
    named.add_argument("--image-column", default="image")
    named.add_argument("--label-column", default="label")
    named.add_argument("--student", metavar="hf:ID|hf:DIR", help="its distilled variant")
    run.add_argument(
        "--workloads",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder of your workload files, added to the standard ones; yours win on a "
        "name clash (default ./workloads when it exists)",
    )
    run.add_argument(
        "--results",
        type=_store_place,
        default=DEFAULT_RESULTS_DIR,
        metavar="DIR|URI",
        help="results store: a folder, or an object store such as s3://bucket/prefix "
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
        "--resume",
        metavar="RUN_ID",
        help="continue an interrupted run: measure only its missing cases",
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
    run.set_defaults(handler=_command_run)

    listing = commands.add_parser("list", help="show workloads, variants and bundled suites")
    workloads_option(listing)
    listing.set_defaults(handler=_command_list)

    meters = commands.add_parser("meters", help="show every energy meter and whether it works here")
    meters.set_defaults(handler=_command_meters)

    report = commands.add_parser(
        "report", help="render the HTML report of a run", allow_abbrev=False
    )
    report.add_argument(
        "--results", type=_store_place, default=DEFAULT_RESULTS_DIR, metavar="DIR|URI"
    )
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
    _scope_options(report, "the latest")
    report.add_argument(
        "--strict",
        action="store_true",
        help="refuse unreadable result files instead of skipping them",
    )
    report.set_defaults(handler=_command_report)

    export = commands.add_parser(
        "export",
        allow_abbrev=False,
        help="write a run's rows as CSV, JSON or Markdown (one row per case, the store's columns)",
    )
    export.add_argument("run", nargs="?", default="latest", metavar="RUN", help="default: latest")
    export.add_argument("--format", required=True, choices=FORMATS)
    export.add_argument("--out", type=Path, metavar="FILE", help="default: standard output")
    export.add_argument(
        "--results", type=_store_place, default=DEFAULT_RESULTS_DIR, metavar="DIR|URI"
    )
    export.add_argument(
        "--strict", action="store_true", help="refuse unreadable result files instead"
    )
    _scope_options(export, "latest")
    export.set_defaults(handler=_command_export)

    gate = commands.add_parser(
        "gate",
        allow_abbrev=False,
        help="compare a candidate run with a baseline; exit 0 pass, 1 regression, 2 bad input, "
        "3 inconclusive under --strict",
    )
    gate.add_argument(
        "--baseline",
        required=True,
        metavar="SEL",
        help="run id, latest, previous, latest~N, rolling:N, or a pinned run folder / Parquet file",
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
    gate.add_argument(
        "--results", type=_store_place, default=DEFAULT_RESULTS_DIR, metavar="DIR|URI"
    )
    _scope_options(gate, "the candidate's latest")
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
    gate.set_defaults(handler=_command_gate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    if not console.is_terminal:  # logs and CI: wide enough that case ids are not cut
        console = Console(width=160)
    errors = Console(stderr=True, highlight=False, soft_wrap=True)

    def show_warning(message: Warning | str, category: type[Warning], *_: object) -> None:
        if issubclass(category, StoreWarning):
            errors.print(f"benchsuite: warning: {message}", markup=False)
        else:
            errors.print(f"{category.__name__}: {message}", markup=False)

    with warnings.catch_warnings():
        warnings.simplefilter("always", StoreWarning)
        warnings.showwarning = show_warning  # type: ignore[assignment]
        try:
            return int(args.handler(args, console))
        except UsageError as error:
            errors.print(f"benchsuite: error: {error}", markup=False)
            return error.exit_code
        except RunInterrupted as error:
            errors.print(f"benchsuite: {error}", markup=False)
            return 130
        except KeyboardInterrupt:
            errors.print("benchsuite: interrupted", markup=False)
            return 130


if __name__ == "__main__":
    sys.exit(main())
