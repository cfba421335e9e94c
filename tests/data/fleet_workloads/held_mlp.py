"""A workload that stops in the middle of its case until it is killed: for the fleet test that
kills a Ray worker mid-case. It writes its process id to ``$BENCHSUITE_TEST_HOLD_DIR/started`` and
waits there (at most a minute, so that nothing outlives a failed test for long)."""

import os
import time
from pathlib import Path

from tiny_mlp import TinyMLP  # the test copies tests/data/tiny_workloads/tiny_mlp.py beside it
from torch import nn


class HeldMLP(TinyMLP):
    name = "held-mlp"
    description = "tiny-mlp that waits mid-case to be killed"

    def reference_model(self) -> nn.Module:
        hold = Path(os.environ["BENCHSUITE_TEST_HOLD_DIR"])
        (hold / "started").write_text(str(os.getpid()))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.1)
        raise RuntimeError("held-mlp was not killed within a minute")
