"""Typed errors raised by the library; the CLI turns them into one line and an exit code.

Library code never prints or exits. A :class:`UsageError` is something the user can fix (a bad
suite file, an unknown workload, an unwritable folder); its message names the file or option and
the fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class BenchsuiteError(Exception):
    """Base class of every error benchsuite raises on purpose."""


class UsageError(BenchsuiteError):
    """Bad input from the user: the CLI prints the message alone and exits with code 2."""

    exit_code = 2


class SuiteError(UsageError):
    """A suite file that cannot be read or does not validate."""


class WorkloadError(UsageError):
    """A workloads folder or workload module that cannot be loaded."""


class ModelSourceError(UsageError):
    """A model named by the user (``hf:...``) that cannot be found or loaded, or its eval data."""


class StoreError(UsageError):
    """A results folder that cannot be written or read."""


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """A ``"; did you mean 'x'?"`` hint for an unknown name, or ``""`` when nothing is close."""
    matches = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean {matches[0]!r}?" if matches else ""


class RunInterrupted(BenchsuiteError):
    """Ctrl-C during a run: finished cases are on disk; the run can be resumed."""

    def __init__(self, run_id: str) -> None:
        super().__init__(
            f"interrupted; the finished cases of run {run_id} are on disk: "
            f"continue with `benchsuite run --resume {run_id}` (same --suite)"
        )
        self.run_id = run_id


class VariantUnavailable(BenchsuiteError):
    """Raised by a variant's transform when this model cannot take it here (its export fails, a
    runtime lacks what the device needs): the case becomes a ``skipped`` row with the reason, the
    same as a variant that declares a device or workload it cannot run on."""
