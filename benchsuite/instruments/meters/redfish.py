"""The whole machine at its power supply, from the BMC's Redfish service, read through DMTF's
``redfish`` client (``pip install 'benchsuite[redfish]'``).

The chassis power is read from ``EnvironmentMetrics`` (``PowerWatts.Reading``, Redfish 2021 and
later) where the chassis links it, else from the older ``Power`` resource
(``PowerControl[0].PowerConsumedWatts``), polled at the BMC's own rate and integrated, as part
``platform`` (:mod:`benchsuite.instruments.meters.platform`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from benchsuite.instruments.meters.base import MeterInfo
from benchsuite.instruments.meters.platform import PlatformMeter


class RedfishMeter(PlatformMeter):
    """The chassis power a Redfish BMC reports (see the module's doc)."""

    source = "redfish"
    table = "redfish"

    def __init__(
        self,
        settings: dict[str, Any] | None = None,
        clock: Callable[[], int] = time.perf_counter_ns,
    ) -> None:
        super().__init__(settings, clock)
        self._client: Any = None
        self._power_path = ""
        self._field = ""
        self._unavailable = ""

    def _open(self) -> Any:
        if self._client is not None or self._unavailable:
            return self._client
        url = self.settings.get("url")
        if not url:
            self._unavailable = (
                "no BMC configured (BENCHSUITE_REDFISH_URL, or [redfish] in "
                "~/.config/benchsuite/bmc.toml)"
            )
            return None
        try:
            import redfish
        except ImportError:
            self._unavailable = (
                "the redfish client is not installed (pip install 'benchsuite[redfish]')"
            )
            return None
        try:
            client = redfish.redfish_client(
                base_url=url,
                username=self.settings.get("username"),
                password=self.settings.get("password"),
                timeout=5,
                max_retry=1,
            )
            client.login(auth="basic")
            self._power_path, self._field = self._locate(client)
        except Exception as error:  # the client raises many types for a BMC it cannot use
            self._unavailable = (
                f"the BMC at {url} could not be read ({type(error).__name__}: {error})"
            )
            return None
        self._client = client
        return client

    def _locate(self, client: Any) -> tuple[str, str]:
        """The resource and field that hold the chassis power."""
        chassis = self.settings.get("chassis")
        if chassis:
            path = f"/redfish/v1/Chassis/{chassis}"
        else:
            members = client.get("/redfish/v1/Chassis").dict.get("Members", [])
            if not members:
                raise LookupError("the BMC lists no chassis")
            path = members[0]["@odata.id"]
        resource = client.get(path).dict
        if "EnvironmentMetrics" in resource:
            return resource["EnvironmentMetrics"]["@odata.id"], "PowerWatts"
        if "Power" in resource:
            return resource["Power"]["@odata.id"], "PowerControl"
        raise LookupError(f"{path} links neither EnvironmentMetrics nor Power")

    def read_w(self) -> float:
        body = self._client.get(self._power_path).dict
        if self._field == "PowerWatts":
            return float(body["PowerWatts"]["Reading"])
        return float(body["PowerControl"][0]["PowerConsumedWatts"])

    def info(self) -> MeterInfo:
        if self._open() is None:
            return MeterInfo(self.source, self.kind, False, self._unavailable)
        field = "PowerWatts.Reading" if self._field == "PowerWatts" else "PowerConsumedWatts"
        return MeterInfo(
            self.source,
            self.kind,
            True,
            f"Redfish {self._power_path} {field} at {self.settings['url']}, polled every "
            f"{self.period_s:g} s (the BMC's rate), integrated: the whole machine",
            ("platform",),
            self.period_s,
        )

    def prepare(self) -> None:
        if self._open() is None:
            raise RuntimeError(f"Redfish meter is unavailable: {self._unavailable}")

    def describe(self) -> str:
        return f"Redfish {self._power_path}"
