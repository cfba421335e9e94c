"""Which stored runs are like one another: the history a selector counts in.

A store that several machines share (an object store behind a fleet, or CI runners of several
hardware kinds) holds runs that must not be compared: another suite, other hardware, another
branch's experiments, another shard of a split suite. A run's scope is

- its **suite** (the manifest's ``suite``),
- its **hardware**: the hardware ids of its rows (``env_hardware_id``; a fleet run may hold
  several, and two runs are alike when they share one: the gate then compares case by case on the
  same hardware id),
- its **branch** or tag (``benchsuite run --branch``), or none,
- its **shard** (``benchsuite run --shard I/N``), or none.

A partial run (killed, interrupted, or still measuring: its manifest's ``state`` is ``running`` or
``interrupted``) is in no history: ``latest``, ``previous``, ``rolling:N`` and trends count
complete runs only, and a partial run is compared or reported only when named by its id.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from benchsuite.store.runs import ResultStore

PARTIAL_STATES = frozenset({"running", "interrupted"})
"""Manifest states of a run that did not finish (a run from before states, or whose manifest is
damaged, is taken as it is: its rows are all there is)."""
MANIFEST_READERS = 16
"""Manifests read at once: on an object store each is one request, so they go in parallel."""


@dataclass(frozen=True)
class RunScope:
    """What a run must share to be compared; ``None`` in a field means any value."""

    suite: str | None = None
    hardware_ids: frozenset[str] | None = None
    branch: str | None = None
    """``""`` means runs that recorded no branch."""
    shard: str | None = None
    """``""`` means runs of a whole suite."""
    ab: bool = False
    """A/B runs only (``benchsuite compare``: two versions of the code side by side); else
    plain runs only. A history never mixes the two: an A/B run measured a pull request's
    code, not the branch's."""

    def describe(self) -> str:
        """The scope in words, for messages: ``of suite nightly on hardware 3f2a...``."""
        parts = []
        if self.suite is not None:
            parts.append(f"of suite {self.suite}")
        if self.hardware_ids is not None:
            parts.append(f"on hardware {', '.join(sorted(self.hardware_ids)) or 'unknown'}")
        if self.branch:
            parts.append(f"on branch {self.branch}")
        if self.shard:
            parts.append(f"of shard {self.shard}")
        if self.ab:
            parts.append("among A/B runs (benchsuite compare)")
        return " ".join(parts) or "in the store"


def manifests(store: ResultStore, run_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Each run's manifest, read in parallel."""
    run_ids = list(run_ids)
    with ThreadPoolExecutor(MANIFEST_READERS) as pool:
        return dict(zip(run_ids, pool.map(store.manifest, run_ids), strict=True))


def hardware_of_runs(store: ResultStore, run_ids: list[str]) -> dict[str, frozenset[str]]:
    """The hardware ids each run's rows were measured on (one column scan of all of them)."""
    rows = store.read_cases(run_ids, columns=["run_id", "env_hardware_id"]).dropna()
    found: dict[str, set[str]] = {run_id: set() for run_id in run_ids}
    for run_id, hardware_id in zip(rows["run_id"], rows["env_hardware_id"], strict=True):
        found.setdefault(str(run_id), set()).add(str(hardware_id))
    return {run_id: frozenset(ids) for run_id, ids in found.items()}


def scope_of_run(store: ResultStore, run_id: str) -> RunScope:
    """The scope ``run_id`` belongs to: what its comparisons must share."""
    manifest = store.manifest(run_id)
    return RunScope(
        suite=manifest.get("suite"),
        hardware_ids=hardware_of_runs(store, [run_id])[run_id],
        branch=manifest.get("branch") or "",
        shard=manifest.get("shard") or "",
        ab=bool(manifest.get("ab")),
    )


def is_partial(manifest: dict[str, Any]) -> bool:
    return manifest.get("state") in PARTIAL_STATES


def runs_in_scope(store: ResultStore, scope: RunScope) -> list[str]:
    """The store's complete runs in ``scope``, oldest first."""
    runs, found = _scoped(store, scope)
    return [run for run in runs if not is_partial(found[run])]


def partial_runs_in_scope(store: ResultStore, scope: RunScope) -> dict[str, str]:
    """The store's partial runs in ``scope``, oldest first, with their state."""
    runs, found = _scoped(store, scope)
    return {run: str(found[run]["state"]) for run in runs if is_partial(found[run])}


def _scoped(store: ResultStore, scope: RunScope) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """The runs in ``scope`` whatever their state, with every run's manifest."""
    runs = store.run_ids()
    found = manifests(store, runs)
    runs = [
        run
        for run in runs
        if (scope.suite is None or found[run].get("suite") == scope.suite)
        and (scope.branch is None or (found[run].get("branch") or "") == scope.branch)
        and (scope.shard is None or (found[run].get("shard") or "") == scope.shard)
        and bool(found[run].get("ab")) == scope.ab
    ]
    if scope.hardware_ids is not None:
        hardware = hardware_of_runs(store, runs)
        runs = [run for run in runs if hardware[run] & scope.hardware_ids]
    return runs, found
