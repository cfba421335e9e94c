"""The commands that read what is stored or installed: ``list``, ``meters``, ``report``,
``export`` and ``gate``. Each resolves its options, calls the library, and presents the result."""

from __future__ import annotations

import argparse
import os
import sys

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from benchsuite.cli.options import write_output
from benchsuite.errors import UsageError
from benchsuite.gate import INCONCLUSIVE, REGRESSION, run_gate
from benchsuite.gate.outputs import to_json, to_junit, to_markdown
from benchsuite.instruments.meters import all_meters
from benchsuite.report import render_report
from benchsuite.report.export import export_cases
from benchsuite.run.fingerprint import capture_fingerprint
from benchsuite.store.history import RunScope, partial_runs_in_scope, runs_in_scope
from benchsuite.store.runs import ResultStore
from benchsuite.suites.load import bundled_suites, load_suite
from benchsuite.variants import all_variants
from benchsuite.workload.discovery import (
    load_workloads,
    standard_workloads_dir,
    user_workloads_dir,
    workload_source,
)


def command_list(args: argparse.Namespace, console: Console) -> int:
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


def command_meters(args: argparse.Namespace, console: Console) -> int:
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
            escape(info.detail),  # "pip install 'benchsuite[amd]'" is not markup
        )
    console.print(table)
    return 0


def _chosen_run(args: argparse.Namespace, store: ResultStore, run: str | None) -> str:
    """The run ``run`` names (``None`` or ``latest``: the latest complete run in the scope that
    ``--suite``, ``--branch``, ``--shard`` and ``--hardware-id`` give; a partial run only by id)."""
    runs = store.run_ids()
    if not runs:
        raise UsageError(f"--results {args.results}: no runs found; run `benchsuite run` first")
    if run is None or run == "latest":
        scope = _scope(args)
        scoped = runs_in_scope(store, scope)
        if not scoped:
            partial = partial_runs_in_scope(store, scope)
            named = ", ".join(f"{run_id} ({state})" for run_id, state in partial.items())
            raise UsageError(
                f"--results {args.results}: no complete run {scope.describe()}; "
                + (f"partial runs: {named}; name one by its id, or " if partial else "")
                + "check --suite, --branch, --shard and --hardware-id"
            )
        return scoped[-1]
    if run not in runs:
        raise UsageError(
            f"{run}: no such run in {args.results}; runs: {', '.join(runs[-5:])}, or latest"
        )
    return run


def command_report(args: argparse.Namespace, console: Console) -> int:
    store = ResultStore(args.results, strict=args.strict)
    run_id = _chosen_run(args, store, args.run)
    page = render_report(store, run_id, args.reports, args.label_reference)
    console.print(f"report: {page}")
    return 0


def command_export(args: argparse.Namespace, console: Console) -> int:
    store = ResultStore(args.results, strict=args.strict)
    run_id = _chosen_run(args, store, args.run)
    text = export_cases(store, run_id, args.format)
    if args.out is None:
        sys.stdout.write(text)
    else:
        write_output(args.out, text, "--out")
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


def command_gate(args: argparse.Namespace, console: Console) -> int:
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
    write_output(args.markdown, markdown, "--markdown")
    write_output(args.junit, to_junit(result), "--junit")
    write_output(args.json, to_json(result), "--json")
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
