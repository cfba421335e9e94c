"""``benchsuite compare``: two versions of the user's code measured side by side in one job (a
pull request's base and head), into an A/B run that ``benchsuite gate`` decides without a
history (docs/gate.md, "A/B: a pull request in one job")."""

from __future__ import annotations

import argparse
import tempfile
from contextlib import ExitStack
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from benchsuite.cli.run_command import ProgressObserver, _check_writable_folder
from benchsuite.errors import UsageError
from benchsuite.gate.rules import load_rules
from benchsuite.report import render_report
from benchsuite.run.ab import AbSettings, run_ab
from benchsuite.run.code_arms import BASELINE, CANDIDATE, CodeArm, export_ref, load_arm
from benchsuite.run.runner import RunResult
from benchsuite.store.runs import ResultStore
from benchsuite.store.schema import Status


def command_compare(args: argparse.Namespace, console: Console) -> int:
    if args.whole_run_pairs < 1:
        raise UsageError(f"--whole-run-pairs {args.whole_run_pairs}: at least 1")
    rules = load_rules(args.rules)
    settings = AbSettings(
        latency_allowance_rel=rules.metrics["latency_p50_ms"].relative or 0.0,
        energy_allowance_rel=rules.metrics["energy_per_sample_j"].relative or 0.0,
        adaptive=not args.no_adaptive,
        whole_run_pairs=args.whole_run_pairs,
        case_budget_s=args.case_budget,
    )
    if not args.no_report:
        _check_writable_folder(args.reports, "--reports")
    with ExitStack() as stack:
        baseline, candidate = _arms(args, stack, console)
        store = ResultStore(args.results)
        total = len(candidate.suite.cases())
        console.print(
            f"A/B: baseline {baseline.describe()} against candidate {candidate.describe()}, "
            f"suite {candidate.suite.name} ({total} cases), results to {store}",
            markup=False,
        )
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            result = run_ab(
                baseline,
                candidate,
                store,
                settings,
                ProgressObserver(progress, total),
                meter=args.meter,
                **({"branch": args.branch} if args.branch else {}),
            )
    console.print(ab_table(result))
    console.print(
        f"A/B run {result.run_id}: {result.count(Status.OK)} compared, "
        f"{result.count(Status.SKIPPED)} skipped, {result.count(Status.FAILED)} failed; "
        f"the verdict: benchsuite gate --results {args.results} --candidate {result.run_id}",
        markup=False,
    )
    if not args.no_report:
        console.print(f"report: {render_report(store, result.run_id, args.reports)}")
    return 1 if result.count(Status.FAILED) else 0


def _arms(args: argparse.Namespace, stack: ExitStack, console: Console) -> tuple[CodeArm, CodeArm]:
    candidate_root = args.candidate
    if args.baseline_ref is not None:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="benchsuite-base-")))
        commit = export_ref(candidate_root, args.baseline_ref, folder)
        console.print(f"baseline: {args.baseline_ref} ({commit[:10]}) exported to {folder}")
        baseline = load_arm(BASELINE, folder, args.suite, args.workloads, args.baseline_ref, commit)
    else:
        baseline = load_arm(BASELINE, args.baseline, args.suite, args.workloads)
    if baseline.root.resolve() == candidate_root.resolve():
        raise UsageError(
            f"--baseline {baseline.root}: the same folder as the candidate; pass two checkouts, "
            "or --baseline-ref REF"
        )
    return baseline, load_arm(CANDIDATE, candidate_root, args.suite, args.workloads)


def _ratio(row: dict, name: str) -> str:
    value = row.get(f"ab_{name}_ratio")
    if value is None:
        return "–"
    low, high = row.get(f"ab_{name}_ratio_low"), row.get(f"ab_{name}_ratio_high")
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def ab_table(result: RunResult) -> Table:
    """Each case's candidate/baseline ratios with their intervals (the gate decides on them)."""
    table = Table(title="A/B: candidate / baseline", title_justify="left")
    table.add_column("case", overflow="fold", ratio=1, min_width=16)
    table.add_column("status", no_wrap=True)
    table.add_column("latency", justify="right", no_wrap=True)
    table.add_column("energy", justify="right", no_wrap=True)
    table.add_column("pairs", justify="right", no_wrap=True)
    for row in result.rows:
        if row["status"] != Status.OK:
            table.add_row(str(row["case_id"]), f"{row['status']}: {row['error']}", "", "", "")
            continue
        table.add_row(
            str(row["case_id"]),
            "ok" + (" (energy estimated)" if row.get("energy_kind") != "measured" else ""),
            _ratio(dict(row), "latency"),
            _ratio(dict(row), "energy"),
            str(row.get("ab_pairs")),
        )
    return table
