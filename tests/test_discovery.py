from __future__ import annotations

from pathlib import Path

import pytest

from benchsuite import Workload
from benchsuite.errors import WorkloadError
from benchsuite.workload.discovery import discover_workloads

REPO = Path(__file__).resolve().parent.parent


def test_finds_workloads_by_path(tiny_workloads: Path) -> None:
    found = discover_workloads(tiny_workloads)
    assert list(found) == ["tiny-mlp"]
    assert isinstance(found["tiny-mlp"], Workload)


def test_the_standard_folder_holds_digits() -> None:
    assert "digits-cnn" in discover_workloads(REPO / "workloads")


def test_private_files_and_imported_classes_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "_helpers.py").write_text("raise RuntimeError('never imported')\n")
    (tmp_path / "reuse.py").write_text("from benchsuite import Workload\nimport _helpers_ok\n")
    (tmp_path / "_helpers_ok.py").write_text("X = 1\n")
    assert discover_workloads(tmp_path) == {}


def test_missing_folder_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(WorkloadError, match=r"does not exist; .*--workloads DIR"):
        discover_workloads(tmp_path / "nope")


def test_a_broken_workload_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("x = 1\nimport not_a_module_anywhere\n")
    with pytest.raises(
        WorkloadError, match=r"broken.py: importing it failed at line 2: ModuleNotFoundError"
    ):
        discover_workloads(tmp_path)


def test_duplicate_names_name_both_files(tmp_path: Path, tiny_workloads: Path) -> None:
    source = (tiny_workloads / "tiny_mlp.py").read_text()
    (tmp_path / "a.py").write_text(source)
    (tmp_path / "b.py").write_text(source)
    with pytest.raises(
        WorkloadError, match=r"b.py: workload name 'tiny-mlp' is already defined in .*a.py"
    ):
        discover_workloads(tmp_path)


def test_the_custom_workload_example_is_found() -> None:
    found = discover_workloads(REPO / "examples" / "custom_workload")
    assert list(found) == ["iris-mlp"]
    assert found["iris-mlp"].build_student() is not None


def test_shared_base_classes_are_not_registered() -> None:
    found = discover_workloads(REPO / "workloads")
    assert set(found) == {
        "digits-cnn",
        "digits-forest",
        "digits-logistic",
        "llama-1b",
        "text-transformer",
        "tiny-llama",
        "resnet18-224",
        "mobilenetv2-224",
    }
