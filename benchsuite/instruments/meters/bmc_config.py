"""Where a machine's BMC is and how to log in: from the environment or a config file, never the
command line (a password there is in every process listing and shell history).

Environment (wins): ``BENCHSUITE_REDFISH_URL``, ``BENCHSUITE_REDFISH_USERNAME``,
``BENCHSUITE_REDFISH_PASSWORD``, ``BENCHSUITE_REDFISH_PERIOD_S``; ``BENCHSUITE_IPMI_HOST``,
``BENCHSUITE_IPMI_USERNAME``, ``BENCHSUITE_IPMI_PASSWORD``, ``BENCHSUITE_IPMI_PERIOD_S``. A file
(``BENCHSUITE_BMC_CONFIG``, default ``~/.config/benchsuite/bmc.toml``), readable by its owner
only, with ``[redfish]`` (``url``, ``username``, ``password``, ``chassis``, ``period_s``,
``max_power_w``, ``verify_tls``) and ``[ipmi]`` (``host``, ``username``, ``password``,
``interface``, ``period_s``, ``max_power_w``) tables.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from benchsuite.errors import UsageError

DEFAULT_FILE = Path("~/.config/benchsuite/bmc.toml")
KEYS = {
    "redfish": ("url", "username", "password", "chassis", "period_s", "max_power_w", "verify_tls"),
    "ipmi": ("host", "username", "password", "interface", "period_s", "max_power_w"),
}


def bmc_settings(table: str, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The ``table`` (``redfish`` or ``ipmi``) settings: the file's, then the environment's."""
    env = environ if environ is not None else dict(os.environ)
    path = Path(env.get("BENCHSUITE_BMC_CONFIG", str(DEFAULT_FILE))).expanduser()
    settings: dict[str, Any] = {}
    if path.is_file():
        try:
            document = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise UsageError(
                f"BMC config {path}: cannot be read ({error}); fix or remove it"
            ) from None
        given = document.get(table, {})
        unknown = sorted(set(given) - set(KEYS[table]))
        if unknown:
            raise UsageError(
                f"BMC config {path}: unknown key(s) {', '.join(unknown)} in [{table}]; allowed: "
                f"{', '.join(KEYS[table])}"
            )
        if "password" in given and path.stat().st_mode & 0o077:
            raise UsageError(
                f"BMC config {path}: holds a password but others can read it; chmod 600 {path}"
            )
        settings.update(given)
    for key in KEYS[table]:
        value = env.get(f"BENCHSUITE_{table.upper()}_{key.upper()}")
        if value is not None:
            settings[key] = value
    for key in ("period_s", "max_power_w"):
        if key in settings:
            settings[key] = float(settings[key])
    return settings
