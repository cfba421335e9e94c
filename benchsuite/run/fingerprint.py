"""The environment fingerprint stored on every row: where and on what a case was measured.

``hardware_id`` hashes only what decides the numbers (CPU model and count, memory, GPUs), so the
gate and the report can compare runs like with like across hosts of the same kind.
"""

from __future__ import annotations

import hashlib
import os
import platform
import socket
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import torch

from benchsuite._version import __version__


@dataclass(frozen=True)
class Fingerprint:
    host: str
    os: str
    cpu_model: str
    cpu_count: int
    memory_bytes: int
    gpu_names: str
    gpu_driver: str
    python_version: str
    torch_version: str
    benchsuite_version: str
    git_commit: str
    git_dirty: bool
    hardware_id: str
    captured_at_utc: str

    def as_columns(self) -> dict[str, object]:
        return {f"env_{key}": value for key, value in asdict(self).items()}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def _gpus() -> tuple[str, str]:
    if not torch.cuda.is_available():
        return "", ""
    names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
    driver = ""
    try:
        import pynvml  # from nvidia-ml-py, optional

        pynvml.nvmlInit()
        raw = pynvml.nvmlSystemGetDriverVersion()
        driver = raw.decode() if isinstance(raw, bytes) else str(raw)
        pynvml.nvmlShutdown()
    except Exception:  # NVML missing or refusing: the driver stays unknown, not invented
        driver = ""
    return names, driver


def _git(tree: Path) -> tuple[str, bool]:
    """Commit and dirtiness of the git work tree that holds ``tree`` ('' when not in git)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=tree,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=tree,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "", False
    return commit, bool(status)


def capture_fingerprint(tree_under_test: Path | None = None) -> Fingerprint:
    """Read the fingerprint of this machine and of the git tree that holds the workloads."""
    cpu_model = _cpu_model()
    cpu_count = os.cpu_count() or 0
    memory = _memory_bytes()
    gpu_names, gpu_driver = _gpus()
    hardware = f"{cpu_model}|{cpu_count}|{memory // 2**30}GiB|{gpu_names}"
    commit, dirty = _git(tree_under_test or Path.cwd())
    return Fingerprint(
        host=socket.gethostname(),
        os=platform.platform(),
        cpu_model=cpu_model,
        cpu_count=cpu_count,
        memory_bytes=memory,
        gpu_names=gpu_names,
        gpu_driver=gpu_driver,
        python_version=platform.python_version(),
        torch_version=torch.__version__,
        benchsuite_version=__version__,
        git_commit=commit,
        git_dirty=dirty,
        hardware_id=hashlib.sha256(hardware.encode()).hexdigest()[:12],
        captured_at_utc=datetime.now(UTC).isoformat(timespec="seconds"),
    )
