"""Figures in the units people use, never in scientific notation, with as many digits as they
deserve.

- Energy per inference is shown per 1,000 inferences in watt-hours (AI Energy Score's unit),
  scaled to Wh, mWh or µWh so that the number reads between 1 and 1,000.
- Times in s, ms or µs; sizes in kB, MB or GB (decimal, as disks and model hubs count); carbon in
  mg, g or kg CO2e; large counts with k, M, G (FLOPs, parameters).
- Significant digits follow the interval: a figure whose 95 % interval is ±0.4 % gets three or
  four digits, one whose interval is ±30 % gets two. Without an interval, three.
"""

from __future__ import annotations

import math
from typing import Any

J_PER_WH = 3600.0
NBSP = "\u00a0"  # a figure and its unit never part at a line break
DEFAULT_DIGITS = 3


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def digits_for(value: float, low: Any = None, high: Any = None) -> int:
    """Significant digits for ``value`` given its interval ``[low, high]``: enough to show the
    first digit the interval leaves uncertain, at least 2 and at most 4."""
    if _missing(low) or _missing(high) or value == 0:
        return DEFAULT_DIGITS
    half_width = (float(high) - float(low)) / 2
    if half_width <= 0:
        return DEFAULT_DIGITS
    digits = math.floor(math.log10(abs(value))) - math.floor(math.log10(half_width)) + 1
    return max(2, min(4, digits))


def plain(value: Any, digits: int = DEFAULT_DIGITS) -> str:
    """``value`` rounded to ``digits`` significant digits, written out (``15,700``, ``0.0452``):
    never ``1.57e+04``."""
    if _missing(value):
        return "–"
    number = float(value)
    if number == 0:
        return "0"
    if math.isinf(number):  # an interval with no end (one process: no spread to estimate)
        return "∞" if number > 0 else "-∞"
    magnitude = math.floor(math.log10(abs(number)))
    rounded = round(number, digits - 1 - magnitude)
    decimals = max(0, digits - 1 - magnitude)
    return f"{rounded:,.{decimals}f}"


def _scaled(value: float, units: list[tuple[float, str]], digits: int) -> str:
    """``value`` in the largest unit of ``units`` (factor, name; largest first) it reaches."""
    for factor, name in units:
        if abs(value) >= factor:
            return f"{plain(value / factor, digits)}{NBSP}{name}"
    factor, name = units[-1]
    return f"{plain(value / factor, digits)}{NBSP}{name}"


def energy_per_1000(j_per_sample: Any, low: Any = None, high: Any = None) -> str:
    """Energy per inference as watt-hours per 1,000 inferences: ``"45 µWh"``."""
    if _missing(j_per_sample):
        return "–"
    wh = float(j_per_sample) * 1000 / J_PER_WH
    digits = digits_for(float(j_per_sample), low, high)
    return _scaled(wh, [(1.0, "Wh"), (1e-3, "mWh"), (1e-6, "µWh"), (1e-9, "nWh")], digits)


def energy(joules: Any) -> str:
    """A total energy (a training run, a request) in Wh, mWh or µWh."""
    if _missing(joules):
        return "–"
    wh = float(joules) / J_PER_WH
    return _scaled(wh, [(1e3, "kWh"), (1.0, "Wh"), (1e-3, "mWh"), (1e-6, "µWh"), (1e-9, "nWh")], 3)


def duration_ms(ms: Any, low: Any = None, high: Any = None) -> str:
    """A time given in milliseconds, in s, ms or µs: ``"61.2 µs"``."""
    if _missing(ms):
        return "–"
    digits = digits_for(float(ms), low, high)
    return _scaled(float(ms), [(1000.0, "s"), (1.0, "ms"), (1e-3, "µs"), (1e-6, "ns")], digits)


def duration_s(seconds: Any) -> str:
    return "–" if _missing(seconds) else duration_ms(float(seconds) * 1000)


def data_size(size_bytes: Any) -> str:
    """Bytes in kB, MB or GB (decimal)."""
    if _missing(size_bytes):
        return "–"
    return _scaled(float(size_bytes), [(1e9, "GB"), (1e6, "MB"), (1e3, "kB"), (1.0, "B")], 3)


def co2(grams: Any) -> str:
    """Grams of CO2-equivalent in mg, g or kg (``"CO2e"`` is left to the label)."""
    if _missing(grams):
        return "–"
    return _scaled(float(grams), [(1e3, "kg"), (1.0, "g"), (1e-3, "mg"), (1e-6, "µg")], 3)


def count(value: Any) -> str:
    """A large count with k, M, G, T: ``"1.2 M"``; small ones as they are."""
    if _missing(value):
        return "–"
    number = float(value)
    if abs(number) < 1000:
        return plain(number, DEFAULT_DIGITS) if number != int(number) else f"{int(number)}"
    return _scaled(number, [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")], 3)


def rate(per_s: Any) -> str:
    """A rate per second: ``"15,700/s"``."""
    return "–" if _missing(per_s) else f"{plain(per_s)}/s"


def percent(fraction: Any, digits: int = 3) -> str:
    """A fraction as a percentage: ``0.9876`` → ``"98.8 %"``."""
    return "–" if _missing(fraction) else f"{plain(float(fraction) * 100, digits)}{NBSP}%"


def change(ratio_minus_one: Any) -> str:
    """A relative change: ``-0.38`` → ``"−38 %"``, ``0.052`` → ``"+5.2 %"``."""
    if _missing(ratio_minus_one):
        return ""
    value = float(ratio_minus_one) * 100
    text = plain(abs(value), 2)
    return f"{'+' if value >= 0 else '−'}{text}{NBSP}%"
