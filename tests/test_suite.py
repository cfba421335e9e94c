from __future__ import annotations

from pathlib import Path

import pytest

from benchsuite import Case
from benchsuite.errors import SuiteError
from benchsuite.suites.load import bundled_suites, load_suite, parse_suite

MATRIX = '[[matrix]]\nworkloads = ["w"]\n'


def test_bundled_suites_load() -> None:
    assert {"smoke", "standard", "nightly"} <= set(bundled_suites())
    smoke = load_suite("smoke")
    assert smoke.name == "smoke"
    assert Case("digits-cnn", "fp32", "cpu", "single-stream", 1, threads=1) in smoke.cases()


def test_matrix_expands_in_order_without_duplicates() -> None:
    suite = parse_suite(
        MATRIX + 'variants = ["fp32", "bf16"]\nthreads = [1, 2]\n'
        '[[matrix]]\nworkloads = ["w"]\nthreads = [1]\n'
        '[[matrix]]\nworkloads = ["w"]\nscenario = "offline"\nbatch_sizes = [8, 64]\n',
        source="s.toml",
    )
    assert [c.id for c in suite.cases()] == [
        "w/fp32/cpu/single-stream/b1/t1",
        "w/fp32/cpu/single-stream/b1/t2",
        "w/bf16/cpu/single-stream/b1/t1",
        "w/bf16/cpu/single-stream/b1/t2",
        "w/fp32/cpu/offline/b8",
        "w/fp32/cpu/offline/b64",
    ]


def test_measure_settings_reach_the_config() -> None:
    suite = parse_suite("[measure]\nbudget_s = 2.5\nenergy_windows = 7\n" + MATRIX, source="s")
    assert suite.measure.sampling.budget_s == 2.5
    assert suite.measure.energy.windows == 7


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[matrix]\nworkloads=1", r"s.toml: not valid TOML \(.*\); fix the file"),
        ('name = "x"\n', r"s.toml: needs at least one \[\[matrix\]\]"),
        ('nmae = "x"\n' + MATRIX, r"unknown key 'nmae' in the top level; did you mean 'name'\?"),
        (
            "[measure]\nbudget_ss = 1\n" + MATRIX,
            r"unknown key 'budget_ss' in \[measure\]; did you mean 'budget_s'\?",
        ),
        (
            "[measure]\nbudget_s = -1\n" + MATRIX,
            r"\[measure\] budget_s must be a positive number, got -1",
        ),
        (
            MATRIX + 'variant = ["fp32"]\n',
            r"unknown key 'variant' in \[\[matrix\]\] #1; did you mean 'variants'\?",
        ),
        (MATRIX + 'variants = ["fp23"]\n', r"unknown variant 'fp23'; did you mean 'fp32'\?"),
        (MATRIX + 'devices = ["gpu"]\n', r"unknown device 'gpu'"),
        (MATRIX + 'scenario = "serverless"\n', r"unknown scenario 'serverless'"),
        (
            MATRIX + 'scenario = "offline"\nbatch_sizes = [0]\n',
            r"batch_sizes must be a non-empty list of positive integers, got \[0\]",
        ),
        (MATRIX + 'scenario = "offline"\n', r"offline scenario needs batch_sizes"),
        (MATRIX + "batch_sizes = [4]\n", r"single-stream runs batch 1 only"),
        (MATRIX + "threads = [-2]\n", r"threads must be a non-empty list of positive integers"),
        ('[[matrix]]\nvariants = ["fp32"]\n', r"needs workloads"),
    ],
)
def test_bad_suites_name_the_file_and_the_fix(text: str, message: str) -> None:
    with pytest.raises(SuiteError, match=message):
        parse_suite(text, source="s.toml")


def test_unknown_bundled_suite_suggests_the_closest(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match=r"--suite smok: unknown suite; did you mean 'smoke'\?"):
        load_suite("smok")
    with pytest.raises(SuiteError, match=r"--suite .*nope.toml: no such file"):
        load_suite(str(tmp_path / "nope.toml"))


def test_unknown_workload_names_the_suite_file() -> None:
    suite = parse_suite('[[matrix]]\nworkloads = ["digits-cnm"]\n', source="my.toml")
    with pytest.raises(
        SuiteError, match=r"my.toml: unknown workload 'digits-cnm'; did you mean 'digits-cnn'\?"
    ):
        suite.check_workloads(["digits-cnn"])


def test_carbon_table() -> None:
    suite = parse_suite('[carbon]\ncountry = "FRA"\n' + MATRIX, source="s")
    assert suite.carbon_country == "FRA"
    with pytest.raises(SuiteError, match=r"\[carbon\] country must be an ISO 3166 alpha-3"):
        parse_suite('[carbon]\ncountry = "France"\n' + MATRIX, source="s")
    with pytest.raises(
        SuiteError, match=r"unknown key 'contry' in \[carbon\]; did you mean 'country'"
    ):
        parse_suite('[carbon]\ncontry = "FRA"\n' + MATRIX, source="s")
