"""The same call for pytest-benchmark's own compare: ``benchmark(model, x)`` with its defaults."""

import torch
from slowable_digits import SlowableDigits


def test_digits_slowable(benchmark):
    torch.set_num_threads(1)
    workload = SlowableDigits()
    model = workload.reference_model()
    x = workload.example_batch(1)
    with torch.inference_mode():
        benchmark(model, x)
