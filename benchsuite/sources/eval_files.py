"""Labelled eval data from a local file: JSONL, CSV or Parquet, read with pandas."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchsuite.errors import ModelSourceError

READERS = {".jsonl": "json lines", ".csv": "CSV", ".parquet": "Parquet"}


def read_eval_table(path: str, columns: list[str], limit: int) -> pd.DataFrame:
    """The first ``limit`` rows of ``columns``; every problem names the file and the fix."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ModelSourceError(f"--eval-data {path}: no such file; check the path")
    suffix = file.suffix.lower()
    try:
        if suffix == ".jsonl":
            table = pd.read_json(file, lines=True)
        elif suffix == ".csv":
            table = pd.read_csv(file)
        elif suffix == ".parquet":
            table = pd.read_parquet(file)
        else:
            raise ModelSourceError(
                f"--eval-data {path}: unknown format {suffix or '(no suffix)'}; use "
                f"{', '.join(READERS)}"
            )
    except (ValueError, OSError) as error:
        raise ModelSourceError(
            f"--eval-data {path}: cannot be read ({error}); fix the file"
        ) from None
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise ModelSourceError(
            f"--eval-data {path}: no column {', '.join(missing)} (columns: "
            f"{', '.join(map(str, table.columns))}); rename them or pass --text-column, "
            "--image-column or --label-column"
        )
    if table.empty:
        raise ModelSourceError(f"--eval-data {path}: the file has no rows")
    return table[columns].head(limit).reset_index(drop=True)
