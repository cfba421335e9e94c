"""Which tests ask the host about its meters or devices: recorded, not declared.

The test suite runs twice in CI: as this plain VM, then as a host with counters (a fake powercap
tree and a fake NVML device, :mod:`tests.host.counters`). The second pass reruns only the tests
that could see a difference, and so that no new test can slip past the rule, the first pass
records them from what they do rather than from a marker. A Python audit hook
(:func:`sys.addaudithook`) sees every file opened, folder listed, shared library loaded and
child process started; a test (or a fixture it uses) is *host-sensitive* when it

- opened or listed anything under the powercap root (what the RAPL meter reads),
- loaded NVIDIA's management library (what the NVML meter and the fingerprint load), or
- started a child process (a CLI run, a worker, a Ray node: each may do either of the above).

On a machine with no powercap folder at all, listing it raises no event (nothing is opened), so
the recording pass points ``BENCHSUITE_POWERCAP_ROOT`` at an empty folder: the same "no zones"
to the meter, and an event the hook can see.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

LOG_ENV = "BENCHSUITE_HOST_PROBES_LOG"
"""Where the first pass appends the node ids of host-sensitive tests, one per line."""

_WATCHED_EVENTS = ("open", "os.listdir", "os.scandir", "ctypes.dlopen", "subprocess.Popen")


class ProbeRecorder:
    """Collects whether the host was asked since the last :meth:`take`."""

    def __init__(self, powercap_root: str) -> None:
        self.powercap_root = powercap_root
        self.asked = False
        self.why = ""

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        if self.asked or event not in _WATCHED_EVENTS:
            return
        if event == "subprocess.Popen":
            self.note("a child process")
        elif event == "ctypes.dlopen":
            if "nvidia-ml" in str(args[0] if args else ""):
                self.note("NVIDIA's management library")
        elif args and isinstance(args[0], str | bytes | os.PathLike):
            try:
                path = os.fsdecode(os.fspath(args[0]))
            except TypeError:
                return
            if path.startswith(self.powercap_root):
                self.note("the powercap folder")

    def note(self, why: str) -> None:
        self.asked, self.why = True, why

    def take(self) -> bool:
        asked, self.asked = self.asked, False
        return asked


RECORDER: ProbeRecorder | None = None


def start_recording(scratch: Path) -> ProbeRecorder | None:
    """Install the audit hook when the first pass asked for a log; otherwise do nothing."""
    global RECORDER
    if not os.environ.get(LOG_ENV) or RECORDER is not None:
        return RECORDER
    root = os.environ.get("BENCHSUITE_POWERCAP_ROOT")
    if not root:
        root = "/sys/class/powercap"
        if not os.path.isdir(root):  # no folder: listing it would raise no event
            root = str(scratch / "powercap-none")
            os.makedirs(root, exist_ok=True)
            os.environ["BENCHSUITE_POWERCAP_ROOT"] = root
    RECORDER = ProbeRecorder(root)
    sys.addaudithook(RECORDER)
    return RECORDER


def note_shared(why: str) -> None:
    """A test consumed what another process made while asking the host (a session fixture that
    one xdist worker made for all): it counts as asking too."""
    if RECORDER is not None:
        RECORDER.note(why)


def record(node_id: str) -> None:
    with open(os.environ[LOG_ENV], "a", encoding="utf-8") as log:
        log.write(node_id + "\n")
