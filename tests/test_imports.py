"""The package's own imports form no cycle, its folders import one way only (the folder tree is
the pipeline: docs/architecture.md), and only scenario modules name a scenario."""

from __future__ import annotations

import ast
from pathlib import Path

import benchsuite
from benchsuite.scenarios import all_scenarios

PACKAGE = Path(benchsuite.__file__).parent


def _package_files() -> list[Path]:
    """The package's own modules (not the standard workloads an installed wheel carries)."""
    return [p for p in PACKAGE.rglob("*.py") if "standard_workloads" not in p.parts]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """benchsuite modules ``path`` imports, at any depth of the file (a function's import
    counts: it runs too), except under ``if TYPE_CHECKING``."""
    found: set[str] = set()
    tree = ast.parse(path.read_text())
    skip = {
        id(node)
        for branch in ast.walk(tree)
        if isinstance(branch, ast.If) and "TYPE_CHECKING" in ast.unparse(branch.test)
        for node in ast.walk(branch)
    }
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path.parent)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from package import submodule` depends on the submodule; any other name imported
            # from a package comes from its __init__
            submodules = [f"{base}.{alias.name}" for alias in node.names]
            names = submodules if all(name in modules for name in submodules) else [base]
        else:
            continue
        found |= {name for name in names if name in modules}
    return found


def _graph() -> dict[str, set[str]]:
    paths = {_module_name(path): path for path in _package_files()}
    modules = set(paths)
    return {name: _imports(path, modules) - {name} for name, path in paths.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_package_imports_form_no_cycle() -> None:
    graph = _graph()
    assert len(graph) > 40 and "benchsuite.run.runner" in graph["benchsuite.cli.run_command"]
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


FRONT_ENDS_AND_SHARED_VALUES = {
    "__init__",
    "__main__",
    "_version",
    "api",
    "pytest_plugin",
    "case",
    "results",
    "errors",
    "units",
    "library_noise",
}


def _folder(path: Path) -> str | None:
    """The folder of the package a module is in (``run`` for ``run/fleet/job.py``); ``None``
    for a module at the top."""
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else None


def _folder_graph() -> dict[str, dict[str, list[str]]]:
    """Folder -> the folders it imports, each with the module imports that make the arrow."""
    paths = {_module_name(path): path for path in _package_files()}
    folders: dict[str, dict[str, list[str]]] = {}
    for name, targets in _graph().items():
        source = _folder(paths[name])
        if source is None:
            continue
        folders.setdefault(source, {})
        for target in targets:
            folder = _folder(paths[target])
            if folder is not None and folder != source:
                folders[source].setdefault(folder, []).append(f"{name} -> {target}")
    return folders


def _mutual(folders: dict[str, dict[str, list[str]]]) -> list[str]:
    return [
        f"{a} <-> {b}: {folders[a][b][0]}; {folders[b][a][0]}"
        for a in sorted(folders)
        for b in sorted(folders[a])
        if a < b and a in folders.get(b, {})
    ]


def test_no_two_folders_import_each_other() -> None:
    folders = _folder_graph()
    assert {"suites", "workload", "scenarios", "instruments", "run", "store"} <= set(folders)
    assert _mutual(folders) == []
    assert _cycle({a: set(targets) for a, targets in folders.items()}) is None


def test_the_folder_rule_finds_two_folders_that_import_each_other() -> None:
    folders = {"run": {"store": ["run.x -> store.y"]}, "store": {"run": ["store.y -> run.z"]}}
    assert _mutual(folders) == ["run <-> store: run.x -> store.y; store.y -> run.z"]


def test_only_front_ends_and_shared_values_sit_at_the_top() -> None:
    top = {path.stem for path in _package_files() if _folder(path) is None}
    assert top == FRONT_ENDS_AND_SHARED_VALUES


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_module_outside_the_scenarios_names_a_scenario() -> None:
    names = set(all_scenarios())
    offenders = []
    for path in _package_files():
        if path.parent.name == "scenarios":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in names:
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.value!r}")
    assert offenders == []


STATUS_WORDS = {"ok", "failed", "skipped"}


def test_status_words_are_compared_as_status_not_string_literals() -> None:
    """The gate, the report and the CLI compare a row's status with ``Status``; a template
    with ``Status.OK`` (a ``StrEnum``, equal to the stored string)."""
    offenders = []
    for path in _package_files():
        if path.parts[len(PACKAGE.parts)] not in {"gate", "report", "cli"}:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare) and any(
                isinstance(side, ast.Constant) and side.value in STATUS_WORDS
                for side in [node.left, *node.comparators]
            ):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    for template in (PACKAGE / "report" / "templates").glob("*.j2"):
        for number, line in enumerate(template.read_text().splitlines(), start=1):
            if any(f'"{word}"' in line and "status" in line for word in STATUS_WORDS):
                offenders.append(f"{template.relative_to(PACKAGE)}:{number}")
    assert offenders == []
