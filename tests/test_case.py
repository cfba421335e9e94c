from __future__ import annotations

import pytest

from benchsuite import Case


def test_id_is_readable_and_stable() -> None:
    case = Case("digits-cnn", "fp32", "cpu", "single-stream", 1)
    assert case.id == "digits-cnn/fp32/cpu/single-stream/b1"
    assert str(case) == case.id


def test_threads_are_part_of_the_id_when_set() -> None:
    assert Case("w", "int8", "cpu", "offline", 64, threads=2).id == "w/int8/cpu/offline/b64/t2"


def test_cases_are_hashable_values() -> None:
    a = Case("w", "fp32", "cpu", "offline", 8)
    b = Case("w", "fp32", "cpu", "offline", 8)
    assert a == b
    assert len({a, b}) == 1
    with pytest.raises(AttributeError):
        a.batch_size = 16  # type: ignore[misc]


@pytest.mark.parametrize(
    "case",
    [
        Case("w", "fp32", "cuda:1", "offline", 256, threads=4),
        Case("x-y", "bf16", "cpu", "single-stream", 1),
    ],
)
def test_id_round_trips(case: Case) -> None:
    assert Case.from_id(case.id) == case


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (("a/b", "fp32", "cpu", "offline", 1), "workload"),
        (("w", "", "cpu", "offline", 1), "variant"),
        (("w", "fp32", "cpu", "offline", 0), "batch_size"),
    ],
)
def test_invalid_cases_are_refused(fields: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Case(*fields)


def test_from_id_refuses_garbage() -> None:
    with pytest.raises(ValueError, match="not a case id"):
        Case.from_id("digits-cnn/fp32")
