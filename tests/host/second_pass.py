"""The test suite's second pass: the tests the first pass saw asking the host, run again on a
host with counters (:mod:`tests.host.counters`). ``tox -e tests`` runs it after the first pass.

Usage: python -m tests.host.second_pass LOG [pytest options]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.host.counters import HOST_ENV
from tests.host.probes import LOG_ENV


def main() -> int:
    log, options = Path(sys.argv[1]), sys.argv[2:]
    if not log.is_file():
        print(f"second pass: {log} does not exist: the first pass recorded no test", flush=True)
        return 1
    node_ids = sorted(set(filter(None, log.read_text(encoding="utf-8").splitlines())))
    print(
        f"second pass: {len(node_ids)} tests asked the host about its meters or devices; "
        "rerunning them on a host with a RAPL powercap tree and an NVML GPU (both fakes)",
        flush=True,
    )
    env = {key: value for key, value in os.environ.items() if key != LOG_ENV}
    env[HOST_ENV] = "counters"
    env.pop("BENCHSUITE_POWERCAP_ROOT", None)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as arguments:
        arguments.write("\n".join(node_ids) + "\n")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *options, f"@{arguments.name}"],
        env=env,
    )
    print(f"second pass: {time.monotonic() - started:.0f} s, exit {done.returncode}", flush=True)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
