"""Selectors: which runs a side of the gate is made of.

``RUN_ID``, ``latest``, ``previous``, ``latest~N`` (the Nth run before the latest: ``previous`` is
``latest~1``), ``rolling:N`` (the last N runs before the candidate), or the path of a pinned
baseline: a run folder (``results/<run_id>``, with its raw samples) or a Parquet file of case rows
(medians only) that a team commits.

The relative selectors count only runs like the candidate (:mod:`benchsuite.store.history`): of its
suite, on its hardware, and of its branch or tag and shard when it recorded one. In a store that
several machines share, "the previous run" is this hardware's previous run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from benchsuite.errors import UsageError
from benchsuite.store.history import RunScope, partial_runs_in_scope, runs_in_scope
from benchsuite.store.runs import CASES_DIR, ResultStore

RunSamples = dict[str, np.ndarray]
"""One case's raw values on one side, per run id (oldest first)."""


@dataclass
class Side:
    """One side of a comparison: its case rows and, per case id and run, raw latency samples
    (ns) and per-window energy per sample (J)."""

    label: str
    rows: pd.DataFrame
    latency_ns: dict[str, RunSamples] = field(default_factory=dict)
    energy_per_sample_j: dict[str, RunSamples] = field(default_factory=dict)
    run_ids: tuple[str, ...] = ()
    left_out: tuple[str, ...] = ()
    """Partial runs the selector passed over (killed, interrupted, or still measuring), each
    with why: the gate lists them as not compared."""


def _per_run(frame: pd.DataFrame, value: str) -> dict[str, RunSamples]:
    found: dict[str, RunSamples] = {}
    for (case, run), group in frame.groupby(["case_id", "run_id"], sort=True):
        found.setdefault(str(case), {})[str(run)] = group[value].to_numpy(dtype=float)
    return found


def _side_from_store(store: ResultStore, run_ids: list[str], label: str) -> Side:
    rows = store.read_cases(run_ids)
    samples = store.read_samples(run_ids)
    samples = samples[samples["phase"] == "sample"].sort_values(["run_id", "case_id", "index"])
    energy = store.read_energy(run_ids)
    energy = energy[(energy["window"] >= 0) & (energy["samples"] > 0)].copy()
    energy["per_sample"] = energy["energy_j"] / energy["samples"]
    energy = energy.sort_values(["run_id", "case_id", "window"])
    return Side(
        label,
        rows,
        _per_run(samples, "latency_ns"),
        _per_run(energy, "per_sample"),
        tuple(run_ids),
    )


def _pinned(path: Path) -> Side:
    if path.is_dir() and (path / CASES_DIR).is_dir():
        store = ResultStore(path.parent)
        return _side_from_store(store, [path.name], f"pinned {path}")
    if path.is_file():
        try:
            rows = pd.read_parquet(path)
        except Exception as error:  # pyarrow raises several types for a bad file
            raise UsageError(
                f"pinned baseline {path} is not a readable Parquet file ({error}); "
                "pass a results/<run_id> folder or a cases Parquet file"
            ) from None
        return Side(f"pinned {path}", rows)
    raise UsageError(
        f"pinned baseline {path}: no such run folder or Parquet file; pass a "
        "results/<run_id> folder or a cases Parquet file"
    )


class NoBaseline(UsageError):
    """A relative selector found no earlier run like the candidate: its first run (or the first
    after the history was lost). The gate turns this into a passing notice, not an error."""


def _runs_before_latest(selector: str) -> int | None:
    """How many runs before the latest ``latest``, ``previous`` or ``latest~N`` names; ``None``
    for any other selector."""
    if selector in ("latest", "previous"):
        return 0 if selector == "latest" else 1
    if not selector.startswith("latest~"):
        return None
    back = selector.split("~", 1)[1]
    if not back.isdigit():
        raise UsageError(
            f"{selector}: expected latest~N with N a whole number, e.g. latest~2 "
            "(the run two before the latest)"
        )
    return int(back)


def is_relative(selector: str) -> bool:
    """Whether ``selector`` counts runs (latest, previous, latest~N, rolling:N)."""
    return _runs_before_latest(selector) is not None or selector.startswith("rolling:")


def _with_left_out(
    side: Side, store: ResultStore, scope: RunScope, oldest: str, before: str | None = None
) -> Side:
    """``side`` with the partial runs that its selector would have counted had they finished:
    those in its scope from its oldest run on (before the candidate, for a baseline)."""
    passed = [
        f"run {run} is {state} (a partial run): latest, previous and rolling skip it; "
        "name it by its id to gate it"
        for run, state in partial_runs_in_scope(store, scope).items()
        if run > oldest and (before is None or run < before)
    ]
    side.left_out = tuple(passed)
    return side


def resolve(
    selector: str,
    store: ResultStore,
    scope: RunScope | None = None,
    before: str | None = None,
) -> Side:
    """The side ``selector`` names, from ``store``. Relative selectors count only the runs in
    ``scope``; ``rolling:N`` also only those before ``before`` (the candidate's first run id)."""
    scope = scope or RunScope()
    back = _runs_before_latest(selector)
    if back is not None:
        runs = runs_in_scope(store, scope)
        if len(runs) <= back:
            raise NoBaseline(
                f"{selector}: the results store {store} has {len(runs)} run(s) "
                f"{scope.describe()}; '{selector}' needs at least {back + 1}"
            )
        run = runs[-1 - back]
        return _with_left_out(_side_from_store(store, [run], selector), store, scope, run)
    if selector.startswith("rolling:"):
        count = selector.split(":", 1)[1]
        if not count.isdigit() or int(count) < 1:
            raise UsageError(
                f"{selector}: expected rolling:N with N a positive integer, e.g. rolling:7"
            )
        runs = [r for r in runs_in_scope(store, scope) if before is None or r < before]
        chosen = runs[-int(count) :]
        if not chosen:
            raise NoBaseline(
                f"{selector}: no run {scope.describe()} before the candidate in {store}"
            )
        side = _side_from_store(store, chosen, f"{selector} ({len(chosen)} runs)")
        return _with_left_out(side, store, scope, chosen[0], before)
    runs = store.run_ids()
    if selector in runs:
        return _side_from_store(store, [selector], selector)
    path = Path(selector)
    if path.exists() or "/" in selector or selector.endswith(".parquet"):
        return _pinned(path)
    recent = ", ".join(runs[-3:]) or "none"
    raise UsageError(
        f"{selector}: not a run id in {store} (latest: {recent}), nor latest, "
        "previous, latest~N, rolling:N or the path of a pinned baseline"
    )
