"""Keep ``benchsuite.__all__`` honest: pinned exactly, every name exists, nothing public missing."""

import benchsuite

PUBLIC_API = {
    "Case",
    "CaseResult",
    "EnergyConfig",
    "EnergyReading",
    "EstimatorWorkload",
    "EvalData",
    "PreparedModel",
    "SamplingConfig",
    "Scenario",
    "TrainingSpec",
    "Workload",
    "__version__",
    "energy_window",
    "measure",
    "register_scenario",
    "register_variant",
}


def test_all_is_pinned_exactly() -> None:
    assert set(benchsuite.__all__) == PUBLIC_API
    assert len(benchsuite.__all__) == len(PUBLIC_API)  # no name twice


def test_all_names_exist() -> None:
    for name in benchsuite.__all__:
        assert hasattr(benchsuite, name), name


def test_public_members_are_in_all() -> None:
    public = {
        name
        for name, value in vars(benchsuite).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("benchsuite")
    }
    assert public <= set(benchsuite.__all__)


def test_the_docs_examples_import_only_the_public_api() -> None:
    """What a user copies from docs/ and examples/ must keep working when internals move."""
    import re
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    code = [
        block
        for doc in [repo / "README.md", *sorted((repo / "docs").glob("*.md"))]
        for block in re.findall(r"```python\n(.*?)```", doc.read_text(), flags=re.DOTALL)
    ]
    code += [path.read_text() for path in sorted((repo / "examples").rglob("*.py"))]
    assert len(code) >= 3
    internal = [
        line.strip()
        for text in code
        for line in text.splitlines()
        if re.match(r"\s*(from benchsuite\.\w|import benchsuite\.\w)", line)
    ]
    assert internal == []
