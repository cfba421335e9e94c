"""``benchsuite run``: resolve what to run from the options, run it, present the result; each
step its own function, so the command reads as the three."""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
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

from benchsuite.case import Case
from benchsuite.cli.options import counts, names, write_output
from benchsuite.errors import UsageError, did_you_mean
from benchsuite.report import render_report
from benchsuite.report.export import write_pytest_benchmark_json
from benchsuite.report.headline import quality_figure
from benchsuite.run.fleet.shard import Shard
from benchsuite.run.runner import Executor, RunResult, run_suite
from benchsuite.scenarios import Role, all_scenarios, get_scenario
from benchsuite.sources import TASKS, ModelSpec, build_workload
from benchsuite.sources.registry import OPENAI
from benchsuite.sources.serve import ServerProcess
from benchsuite.sources.spec import TEXT_GENERATION
from benchsuite.store.runs import ResultStore
from benchsuite.store.schema import Status
from benchsuite.suites.load import Suite, load_suite
from benchsuite.suites.model import MODEL_MEASURE, default_scenarios, model_suite
from benchsuite.variants import all_variants
from benchsuite.workload.base import Workload
from benchsuite.workload.discovery import load_workloads, user_workloads_dir


@dataclass(frozen=True)
class RunRequest:
    """What ``benchsuite run`` was asked for, resolved and checked before anything is measured."""

    suite: Suite
    workloads: Mapping[str, Workload]
    store: ResultStore
    shard: Shard | None
    executor: Executor | None
    options: argparse.Namespace
    """The options, with what a resumed run's manifest filled in."""

    def cases(self) -> list[Case]:
        every = self.suite.cases()
        return self.shard.select(every) if self.shard else every


def command_run(args: argparse.Namespace, console: Console) -> int:
    with ExitStack() as servers:  # servers started by --serve stop here, Ctrl-C included
        servers.enter_context(_terminate_as_interrupt())
        request = resolve_run(args, console, servers)
        result = execute_run(request, console)
    return present_run(request, result, console)


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a cancelled CI job, ``kill``) ends the run as Ctrl-C does: the run is marked
    interrupted and resumable, and a server the run started is stopped, not orphaned."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (a library caller's worker thread): leave it
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def resolve_run(
    args: argparse.Namespace, console: Console, servers: ExitStack | None = None
) -> RunRequest:
    """The suite, workloads, store, shard and executor the options name; bad input is refused
    here, before any case runs. An endpoint's server that the run starts itself (``serve``) is
    started here and entered into ``servers``, which stops it."""
    args = _filled(args)
    if getattr(args, "retry_failed", False) and args.resume is None:
        raise UsageError("--retry-failed: only with --resume RUN_ID (the run to complete)")
    suite = _with_case_timeout(_chosen_suite(args), args.case_timeout)
    workloads = load_workloads(args.workloads)
    for spec in suite.models:  # load each named model now: a bad name fails before measuring
        if spec.serve is not None:
            if servers is None:
                raise UsageError(f"{spec.source}: serve is only run by benchsuite run")
            _start_server(spec, servers, console)
        console.print(f"loading {spec.source} ({spec.task})")
        named = build_workload(spec)
        named.check()
        workloads[spec.name] = named
    suite.check_workloads(workloads)
    if not args.no_report:
        _check_writable_folder(args.reports, "--reports")
    return RunRequest(
        suite,
        workloads,
        ResultStore(args.results),
        Shard.parse(args.shard) if args.shard else None,
        _executor(args, suite),
        args,
    )


def execute_run(request: RunRequest, console: Console) -> RunResult:
    """Measure the request's cases, drawing progress with the time left."""
    args, shard = request.options, request.shard
    total = len(request.cases())
    where = f"shard {shard.label} of " if shard else ""
    console.print(f"{where}suite {request.suite.name}: {total} cases, results to {request.store}")
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        return run_suite(
            request.suite,
            request.workloads,
            request.store,
            ProgressObserver(progress, total),
            meter=args.meter,
            isolate=not args.in_process,
            resume=args.resume,
            retry_failed=getattr(args, "retry_failed", False),
            shard=shard,
            executor=request.executor,
            suite_spec=args.suite,
            workloads_dir=_folder_for_manifest(args.workloads),
            **({"branch": args.branch} if args.branch else {}),
        )


def present_run(request: RunRequest, result: RunResult, console: Console) -> int:
    """What a person reads after the run, the files it asked for, and the exit code."""
    args = request.options
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
    console.print(summary_table(result.rows))
    console.print(
        f"run {result.run_id}: {result.count(Status.OK)} ok, {result.count(Status.SKIPPED)} "
        f"skipped, {result.count(Status.FAILED)} failed; rows in {result.folder}/cases"
    )
    if args.benchmark_json is not None:
        text = write_pytest_benchmark_json(request.store, result.run_id)
        write_output(args.benchmark_json, text, "--benchmark-json")
        console.print(f"pytest-benchmark JSON: {args.benchmark_json}")
    if not args.no_report:
        page = render_report(request.store, result.run_id, args.reports)
        console.print(f"report: {page}")
    if result.count(Status.FAILED):
        return 1
    if getattr(args, "require_measured", False):
        return _require_measured(result.rows, console)
    return 0


def _require_measured(rows: Sequence[Mapping[str, Any]], console: Console) -> int:
    """``--require-measured``: exit 3 when a measured case's energy is an estimate or invalid,
    naming each such case and why (the rows are written either way)."""
    short = [
        f"{row['case_id']}: "
        + (
            f"energy {row.get('energy_kind')} ({row.get('energy_source')})"
            if row.get("energy_kind") != "measured"
            else f"energy invalid: {row.get('energy_invalid_reason')}"
        )
        for row in rows
        if row["status"] == Status.OK
        and (row.get("energy_kind") != "measured" or row.get("energy_valid") is False)
    ]
    if not short:
        return 0
    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    errors.print(
        f"benchsuite: --require-measured: {len(short)} case(s) without measured, valid energy "
        "(`benchsuite meters` says which meters work here):",
        markup=False,
    )
    for line in short:
        errors.print(f"  {line}", markup=False)
    return 3


def _filled(args: argparse.Namespace) -> argparse.Namespace:
    """The options with the gaps filled: a resumed run's suite, workloads, shard and branch
    from its manifest, and the standard suite when neither a suite nor a model is named."""
    filled = dict(vars(args))
    if args.resume is not None:
        previous = ResultStore(args.results)
        manifest = previous.manifest(args.resume) if previous.has_run(args.resume) else {}
        if not manifest:
            raise UsageError(
                f"--resume {args.resume}: no such run in {args.results}; check --results and "
                "the run id"
            )
        if args.workloads is None and manifest.get("workloads_dir"):
            filled["workloads"] = Path(manifest["workloads_dir"])
        filled.update(
            suite=args.suite or manifest.get("suite_spec") or manifest.get("suite"),
            shard=args.shard or manifest.get("shard"),
            branch=args.branch or manifest.get("branch"),
        )
    if args.model is None:
        filled["suite"] = filled["suite"] or "standard"
    return argparse.Namespace(**filled)


def _chosen_suite(args: argparse.Namespace) -> Suite:
    return _suite_of_model(args) if args.model is not None else load_suite(args.suite)


def _with_case_timeout(suite: Suite, timeout_s: float | None) -> Suite:
    if timeout_s is None:
        return suite
    if timeout_s <= 0:
        raise UsageError(f"--case-timeout {timeout_s}: must be a positive number of seconds")
    measure = dataclasses.replace(suite.measure, case_timeout_s=timeout_s)
    return dataclasses.replace(suite, measure=measure)


def _suite_of_model(args: argparse.Namespace) -> Suite:
    endpoint = args.model.startswith(OPENAI.prefix)
    task = args.task or (TEXT_GENERATION if endpoint else None)
    if task is None:
        raise UsageError(f"--model {args.model}: needs --task ({', '.join(TASKS)})")
    if not endpoint:
        for option in ("served_model", "serve", "gpu_ids"):
            if getattr(args, option, None):
                flag = "--" + option.replace("_", "-")
                raise UsageError(f"{flag}: only with --model openai:<base url> (an endpoint)")
    spec = ModelSpec(
        args.model,
        task,
        name=args.name or "",
        sequence_length=args.sequence_length,
        image_size=args.image_size,
        eval_data=args.eval_data,
        text_column=args.text_column,
        image_column=args.image_column,
        label_column=args.label_column,
        student=args.student,
        served_model=args.served_model,
        api=args.api,
        serve=args.serve,
        ready_timeout_s=args.ready_timeout,
        gpu_ids=counts(args.gpu_ids, "--gpu-ids", minimum=0) if args.gpu_ids else None,
    )
    sizes = counts(args.batch_sizes, "--batch-sizes")
    scenarios = names(args.scenarios, "--scenarios") or default_scenarios(task, args.model)
    known = all_scenarios()
    for name in scenarios:
        if name not in known or known[name].role is not Role.INFERENCE:
            inference = [n for n, s in known.items() if s.role is Role.INFERENCE]
            raise UsageError(
                f"--scenarios {name}: a named model runs {', '.join(inference)}"
                f"{did_you_mean(name, inference)}"
            )
    variants = names(args.variants, "--variants")
    known_variants = all_variants()
    for variant in variants:
        if variant not in known_variants:
            raise UsageError(
                f"--variants {variant}: unknown variant{did_you_mean(variant, known_variants)}; "
                f"known: {', '.join(known_variants)}"
            )
    measure = load_suite(args.suite).measure if args.suite else None
    slo = {
        name: value
        for name in ("slo_ttft_ms", "slo_tpot_ms", "slo_e2e_ms")
        if (value := getattr(args, name, None)) is not None
    }
    if slo:
        base = measure or MODEL_MEASURE
        try:
            measure = dataclasses.replace(base, endpoint=dataclasses.replace(base.endpoint, **slo))
        except ValueError as error:
            raise UsageError(f"--slo-*: {error}") from None
    prompts = counts(args.prompt_tokens, "--prompt-tokens") or (32,)
    outputs = counts(args.output_tokens, "--output-tokens") or (32,)
    loads = counts(args.load_pct, "--load-pct") or (10, 50, 90)
    return model_suite(
        spec,
        variants,
        names(args.devices, "--devices") or ("cpu",),
        scenarios,
        sizes,
        measure,
        [(p, o) for p in prompts for o in outputs],
        loads,
        counts(args.threads, "--threads"),
    )


def _start_server(spec: ModelSpec, servers: ExitStack, console: Console) -> None:
    log = Path(tempfile.gettempdir()) / "benchsuite-serve" / f"{spec.name}-{os.getpid()}.log"
    console.print(f"starting the server of {spec.name}: {spec.serve} (log: {log})", markup=False)
    server = ServerProcess(spec.serve or "", spec.location.rstrip("/"), log, spec.ready_timeout_s)
    servers.enter_context(server)
    console.print(f"server ready (PID {server.pid})")


def _folder_for_manifest(given: Path | None) -> str | None:
    folder = user_workloads_dir(given)
    return str(folder.resolve()) if folder is not None else None


def _executor(args: argparse.Namespace, suite: Suite) -> Executor | None:
    if args.executor == "local":
        if args.ray_address:
            raise UsageError("--ray-address: only with --executor ray")
        return None
    if args.in_process:
        raise UsageError("--in-process: not with --executor ray (each case runs on a node)")
    from benchsuite.run.fleet.ray_executor import RayExecutor

    return RayExecutor(args.ray_address, suite.accelerator_type)


class ProgressObserver:
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
        if row["status"] != Status.OK:
            console.print(f"  {row['status']}: {case.id}: {row['error']}", markup=False)
        elif not console.is_terminal:
            console.print(
                f"  [{index + 1}/{total}] ok: {case.id} ({row['case_wall_s']:.1f} s)",
                markup=False,
                highlight=False,
            )


def summary_table(rows: Sequence[Mapping[str, Any]]) -> Table:
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
        if row["status"] != Status.OK:
            table.add_row(case_id, str(row["status"]), "", "", "")
            continue
        cells = get_scenario(row["scenario"]).summary(row)
        table.add_row(
            case_id, Status.OK.value, quality_figure(dict(row)), cells.latency or "–", cells.energy
        )
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
