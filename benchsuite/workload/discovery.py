"""Find workloads by path, the way pytest finds tests.

The standard workloads ship inside the package (``benchsuite/standard_workloads`` in the wheel;
the repository's ``workloads/`` folder in a source checkout), so they are found from any folder.
A user's folder (``--workloads DIR``, else ``./workloads`` when it exists) adds to them; a user's
workload with the name of a standard one replaces it (:func:`load_workloads`).

Every ``*.py`` file in the folder whose name does not start with ``_`` (and is not one of
pytest's ``test_*.py`` files) is imported; each
concrete :class:`~benchsuite.workload.base.Workload` subclass defined in it, whose class name does
not start with ``_`` (shared bases), is instantiated and registered under its ``name``. The folder
is put on ``sys.path`` while importing, so workload files can share helpers kept in
``_helpers.py`` modules beside them.

Plug-ins that other packages declare (variants, model sources) are found by entry-point group
(:func:`entry_point_objects`).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import inspect
import sys
import traceback
from importlib import resources
from pathlib import Path
from types import ModuleType

from benchsuite.errors import UsageError, WorkloadError
from benchsuite.workload.base import Workload

DEFAULT_WORKLOADS_DIR = Path("workloads")
_STANDARD_IN_WHEEL = "standard_workloads"


def import_workload_file(path: Path) -> ModuleType:
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]
    module_name = f"benchsuite_workloads_{digest}.{path.stem}"
    if module_name in sys.modules:  # imported before in this process: one class, one cache
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise WorkloadError(f"{path}: cannot be imported as a Python module; rename it to *.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    folder = str(path.parent.resolve())
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[module_name]
        frame = traceback.extract_tb(error.__traceback__)[-1]
        raise WorkloadError(
            f"{path}: importing it failed at line {frame.lineno}: "
            f"{type(error).__name__}: {error}; fix the workload file or move it out of the folder"
        ) from error
    finally:
        if added:
            sys.path.remove(folder)
    return module


def _is_pytest_file(path: Path) -> bool:
    """pytest's own files (``test_*.py``, ``*_test.py``, ``conftest.py``) hold benchmarks of
    workloads, not workloads."""
    return (
        path.name.startswith("test_") or path.stem.endswith("_test") or path.name == "conftest.py"
    )


def _workloads_in(module: ModuleType) -> list[Workload]:
    found: list[Workload] = []
    for _, obj in inspect.getmembers(module, inspect.isclass):
        if (
            issubclass(obj, Workload)
            and obj.__module__ == module.__name__
            and not inspect.isabstract(obj)
            and not obj.__name__.startswith("_")
        ):
            found.append(obj())
    return found


def discover_workloads(folder: Path | str = DEFAULT_WORKLOADS_DIR) -> dict[str, Workload]:
    """Import the workload files in ``folder`` and return the workloads by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise WorkloadError(
            f"workloads folder {folder} does not exist; pass --workloads DIR with a folder of "
            "workload files (the standard workloads need none)"
        )
    registry: dict[str, Workload] = {}
    origin: dict[str, Path] = {}
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_") or _is_pytest_file(path):
            continue
        for workload in _workloads_in(import_workload_file(path)):
            if not workload.name or "/" in workload.name:
                raise WorkloadError(
                    f"{path}: {type(workload).__name__}.name must be a non-empty name without '/'"
                    f", got {workload.name!r}"
                )
            if workload.name in registry:
                raise WorkloadError(
                    f"{path}: workload name {workload.name!r} is already defined in "
                    f"{origin[workload.name]}; give one of them another name"
                )
            registry[workload.name] = workload
            origin[workload.name] = path
    return registry


def workload_source(workload: Workload) -> Path | None:
    """The file a workload's class was defined in (resolved), when it has one."""
    source = inspect.getsourcefile(type(workload))
    return Path(source).resolve() if source is not None else None


def standard_workloads_dir() -> Path:
    """Where the standard workloads are: inside the installed package, or in the source
    checkout's ``workloads/`` folder beside the package."""
    installed = resources.files("benchsuite") / _STANDARD_IN_WHEEL
    if installed.is_dir():
        return Path(str(installed))
    return Path(__file__).resolve().parents[2] / "workloads"


def user_workloads_dir(given: Path | str | None) -> Path | None:
    """The user's workloads folder: ``given``, else ``./workloads`` when it exists and is not
    the standard folder itself (running from the repository root)."""
    if given is not None:
        return Path(given)
    default = DEFAULT_WORKLOADS_DIR
    if default.is_dir() and default.resolve() != standard_workloads_dir().resolve():
        return default
    return None


def load_workloads(user_folder: Path | str | None = None) -> dict[str, Workload]:
    """The standard workloads, plus those in :func:`user_workloads_dir`; on a name clash the
    user's workload wins (so a team can replace a standard workload by its own version)."""
    workloads = discover_workloads(standard_workloads_dir())
    folder = user_workloads_dir(user_folder)
    if folder is not None:
        workloads.update(discover_workloads(folder))
    return workloads


def entry_point_objects(group: str) -> list[object]:
    """What each entry point of ``group`` names, imported; one clear message when an installed
    package's entry point cannot be imported."""
    loaded = []
    for entry_point in importlib.metadata.entry_points(group=group):
        try:
            loaded.append(entry_point.load())
        except Exception as error:
            raise UsageError(
                f"entry point {entry_point.name} = {entry_point.value} in group {group}: "
                f"importing it failed ({type(error).__name__}: {error}); fix or uninstall the "
                "package that declares it"
            ) from error
    return loaded
