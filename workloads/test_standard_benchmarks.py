"""The standard workloads as pytest benchmarks: ``pytest workloads/ --benchmark-only``.

Each test is one case of ``benchsuite run``, with the same id (single-stream, batch 1), timed by
pytest-benchmark with energy, memory and FLOPs from benchsuite's ``energy_benchmark`` fixture.
benchsuite's own workload discovery imports this file too and finds no workload in it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchsuite import Case
from benchsuite.scenarios import skip_reason
from benchsuite.variants import all_variants, get_variant
from benchsuite.workload.batch import batch_to, bound_call
from benchsuite.workload.discovery import discover_workloads

WORKLOADS = discover_workloads(Path(__file__).parent)
CASES = [
    Case(workload, variant, device, "single-stream", 1)
    for workload in WORKLOADS
    for variant in all_variants()
    for device in ("cpu", "cuda")
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_standard_case(energy_benchmark, case: Case) -> None:  # type: ignore[no-untyped-def]
    workload = WORKLOADS[case.workload]
    reason = skip_reason(case, workload)
    if reason is not None:
        pytest.skip(reason)
    variant = get_variant(case.variant)
    prepared = workload.prepare_variant(variant, case.device)
    call = bound_call(
        prepared.module, batch_to(workload.example_batch(case.batch_size), case.device)
    )
    with prepared.context():
        output = energy_benchmark(call, case=case)
    assert workload.read_output(output).shape[0] == case.batch_size
