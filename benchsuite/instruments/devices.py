"""Devices a case can run on, whether each is usable here, and how to synchronise it."""

from __future__ import annotations

from collections.abc import Callable

import torch

KNOWN_DEVICES = ("cpu", "cuda")


def device_unavailable_reason(device: str) -> str | None:
    """``None`` when ``device`` can run here, else why not (for a ``skipped`` row)."""
    if device == "cpu":
        return None
    if device == "cuda" or device.startswith("cuda:"):
        if not torch.cuda.is_available():
            return "CUDA is not available here (torch.cuda.is_available() is False)"
        index = int(device.split(":", 1)[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            return f"{device} does not exist: {torch.cuda.device_count()} CUDA device(s) visible"
        return None
    return f"unknown device {device!r}; known: {', '.join(KNOWN_DEVICES)}"


def synchronizer(device: str) -> Callable[[], None] | None:
    """The function that waits for ``device`` to finish queued work, or ``None`` if it never
    runs ahead of the host (the CPU)."""
    if device.startswith("cuda"):
        torch_device = torch.device(device)
        return lambda: torch.cuda.synchronize(torch_device)
    return None


def reset_device_peak_memory(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(torch.device(device))


def device_peak_memory_bytes(device: str) -> int | None:
    """The CUDA caching allocator's peak since the last reset; ``None`` on the CPU."""
    if device.startswith("cuda"):
        return int(torch.cuda.max_memory_allocated(torch.device(device)))
    return None
