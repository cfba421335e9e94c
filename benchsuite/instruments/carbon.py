"""Grid carbon intensity, and grams of CO2-equivalent per 1,000 inferences.

The intensity comes, in this order, from:

1. ``BENCHSUITE_GRID_G_CO2E_PER_KWH`` or the suite's ``[carbon] g_co2e_per_kwh``: a number you give;
2. ``BENCHSUITE_GRID_COUNTRY`` or the suite's ``[carbon] country`` (ISO 3166 alpha-3, e.g. "FRA"):
   CodeCarbon's offline per-country data (its ``global_energy_mix.json``; needs the
   ``codecarbon`` extra);
3. the default, **475 gCO2e/kWh**: the world average from the IEA's Global Energy & CO2 Status
   Report 2019, the figure CodeCarbon itself falls back to.

The source and the region are stored on every row beside the figure.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from typing import Any

from benchsuite.errors import UsageError, did_you_mean

WORLD_AVERAGE_G_PER_KWH = 475.0
WORLD_AVERAGE_SOURCE = "default: world average, IEA Global Energy & CO2 Status Report 2019"
INTENSITY_ENV = "BENCHSUITE_GRID_G_CO2E_PER_KWH"
COUNTRY_ENV = "BENCHSUITE_GRID_COUNTRY"
_J_PER_KWH = 3.6e6


@dataclass(frozen=True)
class GridIntensity:
    g_co2e_per_kwh: float
    source: str
    region: str

    def grams_per_1000_samples(self, energy_per_sample_j: float) -> float:
        return energy_per_sample_j * 1000 / _J_PER_KWH * self.g_co2e_per_kwh


def _country_intensity(country: str) -> GridIntensity:
    try:
        data_file = resources.files("codecarbon") / "data/private_infra/global_energy_mix.json"
        mix = json.loads(data_file.read_text())
    except ModuleNotFoundError:
        raise UsageError(
            f"grid country {country!r} needs CodeCarbon's offline data: pip install "
            f"'benchsuite[codecarbon]', or give {INTENSITY_ENV} / [carbon] g_co2e_per_kwh"
        ) from None
    code = country.upper()
    if code not in mix or mix[code].get("carbon_intensity") is None:
        raise UsageError(
            f"grid country {country!r} is not in CodeCarbon's data{did_you_mean(code, mix)}; "
            "use an ISO 3166 alpha-3 code such as 'FRA' or 'USA'"
        )
    entry = mix[code]
    return GridIntensity(
        float(entry["carbon_intensity"]),
        f"CodeCarbon offline energy mix ({entry.get('year', 'year unknown')})",
        str(entry.get("country_name", code)),
    )


def grid_intensity(
    country: str | None = None, g_co2e_per_kwh: float | None = None
) -> GridIntensity:
    """The intensity to use, environment variables first, then the suite's values, then 475."""
    raw = os.environ.get(INTENSITY_ENV)
    if raw:
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if value < 0:
            raise UsageError(
                f"{INTENSITY_ENV}={raw!r} is not a number of gCO2e/kWh; fix or unset it"
            )
        return GridIntensity(value, f"given: {INTENSITY_ENV}", "as given")
    country = os.environ.get(COUNTRY_ENV) or country
    if g_co2e_per_kwh is not None and not os.environ.get(COUNTRY_ENV):
        return GridIntensity(
            float(g_co2e_per_kwh), "given: suite [carbon] g_co2e_per_kwh", "as given"
        )
    if country:
        return _country_intensity(country)
    return GridIntensity(WORLD_AVERAGE_G_PER_KWH, WORLD_AVERAGE_SOURCE, "world")


def carbon_columns(
    energy_per_sample_j: float | None, train_energy_j: float | None, grid: GridIntensity
) -> dict[str, Any]:
    """A row's carbon columns: per 1,000 inference samples and, for training rows, per run."""
    return {
        "co2e_g_per_1000_samples": grid.grams_per_1000_samples(energy_per_sample_j)
        if energy_per_sample_j is not None
        else None,
        "train_co2e_g": grid.grams_per_1000_samples(train_energy_j) / 1000
        if train_energy_j is not None
        else None,
        "grid_g_co2e_per_kwh": grid.g_co2e_per_kwh,
        "grid_intensity_source": grid.source,
        "grid_region": grid.region,
    }
