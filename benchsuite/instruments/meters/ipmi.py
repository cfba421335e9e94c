"""The whole machine at its power supply, by IPMI DCMI: ``ipmitool dcmi power reading``.

In band (the local BMC through ``/dev/ipmi0``, as root) when no host is configured; else over
the LAN (``-I lanplus -H HOST -U USER -E``: the password goes to ipmitool in its ``IPMI_PASSWORD``
environment variable, never on a command line). Settings:
:mod:`benchsuite.instruments.meters.bmc_config`. The "Instantaneous power reading" (whole watts)
is polled every ``period_s`` (1 s unless configured: BMCs update it about once a second) and
integrated; it is part ``platform``, as Redfish's is
(:mod:`benchsuite.instruments.meters.platform`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from benchsuite.instruments.meters.base import MeterInfo
from benchsuite.instruments.meters.platform import PlatformMeter

_READING = re.compile(r"Instantaneous power reading:\s*(\d+(?:\.\d+)?)\s*Watts")
_STATE = re.compile(r"Power reading state is:\s*(\S+)")


def parse_dcmi(text: str) -> float:
    """The instantaneous power in W from ``ipmitool dcmi power reading``'s output; raises
    ``ValueError`` when the reading is missing or power measurement is deactivated."""
    state = _STATE.search(text)
    if state is not None and state.group(1) != "activated":
        raise ValueError(f"DCMI power reading state is {state.group(1)}")
    found = _READING.search(text)
    if found is None:
        raise ValueError(f"no instantaneous power reading in: {text.strip()[:200]!r}")
    return float(found.group(1))


class IpmiMeter(PlatformMeter):
    """The power a BMC reports over IPMI DCMI (see the module's doc)."""

    source = "ipmi"
    table = "ipmi"

    def _command(self) -> tuple[list[str], dict[str, str]]:
        command = ["ipmitool"]
        env = dict(os.environ)
        host = self.settings.get("host")
        if host:
            command += ["-I", str(self.settings.get("interface", "lanplus")), "-H", str(host)]
            if self.settings.get("username"):
                command += ["-U", str(self.settings["username"])]
            if self.settings.get("password"):
                command.append("-E")
                env["IPMI_PASSWORD"] = str(self.settings["password"])
        return [*command, "dcmi", "power", "reading"], env

    def read_w(self) -> float:
        command, env = self._command()
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=10)
        if done.returncode != 0:
            raise RuntimeError(done.stderr.strip() or f"ipmitool exited {done.returncode}")
        return parse_dcmi(done.stdout)

    def info(self) -> MeterInfo:
        if shutil.which("ipmitool") is None:
            return MeterInfo(self.source, self.kind, False, "ipmitool is not on PATH")
        where = (
            f"the BMC at {self.settings['host']}" if self.settings.get("host") else "the local BMC"
        )
        try:
            watts = self.read_w()
        except Exception as error:  # no BMC, no permission, DCMI unsupported
            return MeterInfo(
                self.source,
                self.kind,
                False,
                f"ipmitool dcmi power reading failed for {where}: {error}",
            )
        return MeterInfo(
            self.source,
            self.kind,
            True,
            f"IPMI DCMI power reading of {where} ({watts:g} W now), polled every "
            f"{self.period_s:g} s, integrated: the whole machine",
            ("platform",),
            self.period_s,
        )

    def describe(self) -> str:
        return "IPMI DCMI power reading"
