"""Options several commands share, and turning option text into values (one message per bad
value, naming the option)."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchsuite.errors import UsageError
from benchsuite.store.location import is_uri

DEFAULT_RESULTS_DIR = Path("results")
DEFAULT_REPORTS_DIR = Path("reports")


def store_place(text: str) -> Path | str:
    """``--results``: a local folder, or an object-store URI such as ``s3://bucket/prefix``."""
    return text if is_uri(text) else Path(text)


def results_option(command: argparse.ArgumentParser, help_text: str | None = None) -> None:
    command.add_argument(
        "--results",
        type=store_place,
        default=DEFAULT_RESULTS_DIR,
        metavar="DIR|URI",
        help=help_text,
    )


def workloads_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--workloads",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder of your workload files, added to the standard ones; yours win on a "
        "name clash (default ./workloads when it exists)",
    )


def scope_options(command: argparse.ArgumentParser, latest: str) -> None:
    """``--suite``, ``--branch``, ``--shard``, ``--hardware-id``: in a store that several
    machines, suites or branches share, which runs ``latest`` means."""
    group = command.add_argument_group(
        f"which run {latest} means in a shared store (default: the latest of all)"
    )
    for flag, metavar, help_text in (
        ("--suite", "NAME", "the latest run of this suite"),
        ("--branch", "NAME", "the latest run of this branch or tag"),
        ("--shard", "I/N", "the latest run of this shard"),
        ("--hardware-id", "ID|this", "the latest run on this hardware id (this: this machine's)"),
    ):
        group.add_argument(flag, metavar=metavar, help=help_text)


def names(value: str | None, option: str) -> tuple[str, ...]:
    if value is None:
        return ()
    parts = tuple(part.strip() for part in value.split(",") if part.strip())
    if not parts:
        raise UsageError(f"{option} {value!r}: give a comma-separated list")
    return parts


def counts(value: str | None, option: str, minimum: int = 1) -> tuple[int, ...]:
    """Comma-separated whole numbers of at least ``minimum`` (GPU indices start at 0)."""
    found = []
    for part in names(value, option):
        if not part.isdigit() or int(part) < minimum:
            what = "positive integers, e.g. 1,8,32" if minimum else "indices, e.g. 0,1"
            raise UsageError(f"{option} {value}: {what}")
        found.append(int(part))
    return tuple(found)


def write_output(path: Path | None, text: str, option: str) -> None:
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise UsageError(
            f"{option} {path}: cannot write it ({error.strerror}); choose a writable path"
        ) from None
