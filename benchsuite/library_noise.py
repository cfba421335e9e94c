"""Log lines from libraries that say nothing about a measurement, kept off the terminal.

Where torchao is installed, transformers imports it on every model load, and it logs a WARNING
for each GPU kernel library it cannot load (on a CPU-only machine, all of them), and torch logs
that torchao registers its enums in a deprecated way. Those lines would land in every run's
output and between a command's own error lines. Their loggers are raised to ERROR, so a real
error from them still shows.
"""

from __future__ import annotations

import logging

QUIET_LOGGERS = ("torchao", "torch.utils._pytree")


def quiet_library_loggers() -> None:
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
