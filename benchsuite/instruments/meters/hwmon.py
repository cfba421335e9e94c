"""Reading Linux hwmon devices (``/sys/class/hwmon/hwmon*``): find a device by its driver's
name, read its integer attributes. The Intel GPU, Jetson rail and module-power meters read their
sources here; a test points ``root`` at a tree of files it writes."""

from __future__ import annotations

from pathlib import Path

HWMON_ROOT = Path("/sys/class/hwmon")


def devices_named(names: tuple[str, ...], root: Path = HWMON_ROOT) -> list[Path]:
    """The hwmon devices whose ``name`` file is one of ``names``, in hwmon order."""
    if not root.is_dir():
        return []
    found = []
    for device in sorted(root.iterdir(), key=lambda p: (len(p.name), p.name)):
        try:
            if (device / "name").read_text().strip() in names:
                found.append(device)
        except OSError:
            continue
    return found


def read_int(path: Path) -> int:
    """An integer attribute (hwmon's units: µJ, µW, mV, mA)."""
    return int(path.read_text().strip())


def label_of(device: Path, attribute: str) -> str:
    """The ``<attribute>_label`` of ``device`` (``in1`` -> ``in1_label``), else the attribute."""
    label = device / f"{attribute}_label"
    try:
        return label.read_text().strip()
    except OSError:
        return attribute


def unreadable(path: Path) -> str:
    """Why ``path`` cannot be read by this user, or an empty string."""
    try:
        path.read_text()
    except PermissionError:
        return f"{path} is not readable by this user (run as root, or grant read access)"
    except OSError as error:
        return f"{path}: {error.strerror}"
    return ""
