"""Labelled eval data: a local JSONL, CSV or Parquet file (read with pandas), or a Hugging Face
``datasets`` dataset available offline: a folder ``Dataset.save_to_disk`` wrote, or
``hf-dataset:<name>[:<split>]`` from the local datasets cache."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchsuite.errors import ModelSourceError

READERS = {".jsonl": "json lines", ".csv": "CSV", ".parquet": "Parquet"}


DATASET_PREFIX = "hf-dataset:"


def _read_dataset(path: str) -> pd.DataFrame:
    """A ``datasets`` dataset as a table: a saved folder, or a cached hub dataset's split."""
    try:
        import datasets
    except ImportError:
        raise ModelSourceError(
            f"--eval-data {path}: reading a datasets dataset needs the datasets package: "
            "pip install datasets"
        ) from None
    try:
        if path.startswith(DATASET_PREFIX):
            name, _, split = path.removeprefix(DATASET_PREFIX).partition(":")
            loaded = datasets.load_dataset(name, split=split or "test")
        else:
            loaded = datasets.load_from_disk(str(Path(path).expanduser()))
    except Exception as error:  # datasets raises many kinds: each is the same bad input here
        raise ModelSourceError(
            f"--eval-data {path}: cannot load it offline ({type(error).__name__}: {error}); "
            "pass a folder Dataset.save_to_disk wrote, a cached hf-dataset:<name>:<split>, or "
            "a JSONL, CSV or Parquet file"
        ) from None
    if isinstance(loaded, datasets.DatasetDict):
        raise ModelSourceError(
            f"--eval-data {path}: holds splits {', '.join(loaded)}; pass the folder of one split"
        )
    return loaded.to_pandas()


def read_eval_table(path: str, columns: list[str], limit: int) -> pd.DataFrame:
    """The first ``limit`` rows of ``columns``; every problem names the file and the fix."""
    file = Path(path).expanduser()
    if path.startswith(DATASET_PREFIX) or (file / "dataset_info.json").is_file():
        return _checked(path, _read_dataset(path), columns, limit)
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
    return _checked(path, table, columns, limit)


def _checked(path: str, table: pd.DataFrame, columns: list[str], limit: int) -> pd.DataFrame:
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
