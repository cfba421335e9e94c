"""Two versions of a user's code as the arms of one comparison: where each arm's files are, and
how a process imports one arm's code and not the other's.

An arm is a folder: a checkout of the user's repository at some commit, holding its workloads
folder, its suite file and whatever its workloads import (the user's own package, beside them or
under ``src/``) and load (weights). Both arms run in the **same Python environment**: the same
torch, benchsuite and third-party packages; what differs is the arm's own source tree, which
goes first on ``sys.path`` in every worker of that arm (:class:`ArmOrigin`). A change to the
dependencies themselves (a new torch) is not what an A/B run measures: install the union, or
compare two nightly runs made in two environments (docs/gate.md).

The coordinator imports both arms' workload files to learn their names (:func:`load_arm`); it
does so one arm at a time, and forgets each arm's own modules after (:func:`arm_imports`), so a
module of the same name in the other arm is imported afresh from that arm.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from benchsuite.errors import UsageError
from benchsuite.run.worker import WorkloadOrigin, workload_origin
from benchsuite.suites.load import Suite, load_suite
from benchsuite.workload.base import Workload
from benchsuite.workload.discovery import DEFAULT_WORKLOADS_DIR, load_workloads

BASELINE, CANDIDATE = "baseline", "candidate"


def import_roots(root: Path) -> list[str]:
    """The folders of an arm that go first on ``sys.path``: its root, and ``src/`` where the
    package lives there (the src layout)."""
    roots = [str(root.resolve())]
    if (root / "src").is_dir():
        roots.insert(0, str((root / "src").resolve()))
    return roots


@contextlib.contextmanager
def arm_imports(root: Path) -> Iterator[None]:
    """Import with ``root``'s code first on ``sys.path``; afterwards, forget the modules that
    came from ``root`` (and the paths), so that the other arm's modules of the same names are
    imported from that arm."""
    roots = import_roots(root)
    resolved = root.resolve()
    before = set(sys.modules)
    sys.path[:0] = roots
    try:
        yield
    finally:
        for path in roots:
            with contextlib.suppress(ValueError):
                sys.path.remove(path)
        for name in set(sys.modules) - before:
            where = getattr(sys.modules[name], "__file__", None)
            if where is not None and Path(where).resolve().is_relative_to(resolved):
                del sys.modules[name]


@dataclass(frozen=True)
class ArmOrigin:
    """What a worker of one arm rebuilds its workload from: the arm's folders first on
    ``sys.path`` for the whole life of the process (a model may import lazily), then the
    workload's own origin (a file in the arm, or a model spec)."""

    roots: tuple[str, ...]
    origin: WorkloadOrigin

    def build(self) -> Workload:
        sys.path[:0] = list(self.roots)
        return self.origin.build()


@dataclass(frozen=True)
class CodeArm:
    """One version of the user's code, loaded: its folder, what it is (a git ref and commit
    when known), its suite and its workloads by name."""

    label: str
    root: Path
    suite: Suite
    workloads: Mapping[str, Workload]
    ref: str | None = None
    commit: str | None = None
    origins: Mapping[str, WorkloadOrigin] = field(default_factory=dict)

    def describe(self) -> str:
        """``baseline origin/main (3f2a1c9) at /tmp/x``: what the row and the summary say."""
        what = self.ref or str(self.root)
        if self.commit:
            what += f" ({self.commit[:10]})"
        return what

    def origin_of(self, workload: str) -> ArmOrigin:
        origin = self.origins[workload]
        return ArmOrigin(tuple(import_roots(self.root)), origin)

    def as_manifest(self) -> dict[str, str | None]:
        return {
            "root": str(self.root.resolve()),
            "ref": self.ref,
            "commit": self.commit,
            "suite": self.suite.source,
        }


def load_arm(
    label: str,
    root: Path,
    suite: str,
    workloads: Path | None,
    ref: str | None = None,
    commit: str | None = None,
) -> CodeArm:
    """The arm in ``root``: its suite (a path inside the arm, or a bundled suite's name) and its
    workloads folder (``workloads`` inside the arm by default, when it has one), imported with
    the arm's code first (:func:`arm_imports`)."""
    if not root.is_dir():
        raise UsageError(f"--{label} {root}: no such folder; pass a checkout of your repository")
    inside = root / suite
    suite_spec = str(inside) if inside.is_file() or suite.endswith(".toml") else suite
    folder = root / (workloads or DEFAULT_WORKLOADS_DIR)
    if workloads is not None and not folder.is_dir():
        raise UsageError(
            f"--workloads {workloads}: no such folder in the {label} ({root}); the path is "
            "taken inside each arm"
        )
    with arm_imports(root):  # the origins too: they look the classes' modules up
        loaded = load_suite(suite_spec)
        found = load_workloads(folder if folder.is_dir() else None)
        origins = {name: origin for name, w in found.items() if (origin := workload_origin(w))}
    return CodeArm(label, root, loaded, found, ref, commit or _commit_of(root), origins)


def _commit_of(root: Path) -> str | None:
    """The commit checked out in ``root``, when it is a git checkout."""
    done = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else None


def export_ref(repository: Path, ref: str, into: Path) -> str:
    """Write the tree of ``ref`` in ``repository`` into the empty folder ``into`` (``git
    archive``: no worktree is registered, nothing is left behind in the repository); its commit.
    Only committed files are in it: weights kept out of git must be fetched by the arm's own
    workloads, as a fresh clone would."""
    resolved = subprocess.run(
        ["git", "-C", str(repository), "rev-parse", "--verify", f"{ref}^{{commit}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if resolved.returncode != 0:
        raise UsageError(
            f"--baseline-ref {ref}: not a commit in {repository} ({resolved.stderr.strip()}); "
            "fetch it first (git fetch origin main) or name another ref"
        )
    commit = resolved.stdout.strip()
    archive = subprocess.run(
        ["git", "-C", str(repository), "archive", "--format=tar", commit],
        capture_output=True,
        check=True,
    )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return commit
