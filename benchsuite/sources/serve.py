"""A server that benchsuite starts itself (``--serve "vllm serve ..."``), and stops again.

The command runs in its own process group with its output in a log file, and is ready when
``GET <base_url>/models`` answers 200. It is stopped (SIGTERM to the group, then SIGKILL after
``STOP_GRACE_S``) when the run ends, whether it ended well, a case failed or the user pressed
Ctrl-C. A server that exits or is still not ready after ``ready_timeout_s`` is one clear error,
with the last lines of its log.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

from benchsuite.errors import UsageError
from benchsuite.instruments.endpoint_client import Endpoint, get_json

STOP_GRACE_S = 15.0
READY_POLL_S = 0.5
LOG_TAIL_LINES = 12


def models_listed(endpoint: Endpoint, timeout_s: float = 5.0) -> list[str]:
    """The model ids ``GET /models`` lists; raises ``OSError``/``TimeoutError`` when nothing
    answers, ``ValueError`` on an answer that is not an OpenAI model list."""
    listing, _ = asyncio.run(get_json(endpoint, "/models", timeout_s))
    return [str(entry["id"]) for entry in listing.get("data", [])]


def unreachable(base_url: str, error: BaseException, option: str = "--model") -> UsageError:
    return UsageError(
        f"{option} openai:{base_url}: no OpenAI-compatible server answers at {base_url}/models "
        f"({type(error).__name__}: {error}); start the server first, or let benchsuite start it "
        "with --serve COMMAND"
    )


class ServerProcess:
    """``with ServerProcess(command, base_url, log): ...``: started, ready, then stopped."""

    def __init__(
        self, command: str, base_url: str, log_path: Path, ready_timeout_s: float = 300.0
    ) -> None:
        self.command = command
        self.argv = shlex.split(command)
        if not self.argv:
            raise UsageError("--serve: an empty command; give the server's command line")
        self.endpoint = Endpoint(base_url, "")
        self.log_path = log_path
        self.ready_timeout_s = ready_timeout_s
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            try:
                self.process = subprocess.Popen(
                    self.argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            except OSError as error:
                raise UsageError(
                    f"--serve {self.command!r}: cannot start it ({error.strerror}); check the "
                    "command and that it is installed"
                ) from None
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise UsageError(
                    f"--serve {self.command!r}: the server exited with code {code} before it "
                    f"was ready; its log ({self.log_path}) ends:\n{self.log_tail()}"
                )
            try:
                models_listed(self.endpoint, timeout_s=2.0)
                return
            except (OSError, TimeoutError, ValueError):
                time.sleep(READY_POLL_S)
        raise UsageError(
            f"--serve {self.command!r}: not ready after {self.ready_timeout_s:g} s (no answer at "
            f"{self.endpoint.base_url}/models); raise ready_timeout_s or check the log "
            f"({self.log_path}):\n{self.log_tail()}"
        )

    def log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-LOG_TAIL_LINES:])

    def stop(self) -> None:
        """SIGTERM to the server's process group, SIGKILL after the grace period."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        for sent, wait_s in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(process.pid, sent)
            except ProcessLookupError:
                return
            try:
                process.wait(wait_s)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):  # what the leader left (a model runner)
            os.killpg(process.pid, signal.SIGKILL)
