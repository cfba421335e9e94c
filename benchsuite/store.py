"""The append-only Parquet store.

Layout under the results folder, one folder per run that no other run ever writes into::

    results/<run_id>/run.json             the run's manifest (suite, state, times)
    results/<run_id>/cases/0001.parquet   one row per case (schema: benchsuite.schema.CASE_COLUMNS)
    results/<run_id>/samples/0001.parquet raw per-call latencies of that case, warm-up included
    results/<run_id>/energy/0001.parquet  each energy window of that case, idle window included

Each file is written to a hidden temporary name in the same folder, flushed to disk, then renamed
into place, so a crash leaves either the whole file or none (Parquet readers skip names starting
with ``.``). A case is on disk, readable, as soon as it finishes. Plain pandas reads it:
``pandas.read_parquet("results/<run_id>/cases")``.
"""

from __future__ import annotations

import json
import os
import secrets
import warnings
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from benchsuite.errors import StoreError
from benchsuite.schema import (
    CASE_COLUMNS,
    CASE_SCHEMA,
    ENERGY_WINDOW_COLUMNS,
    ENERGY_WINDOW_SCHEMA,
    SAMPLE_COLUMNS,
    SAMPLE_SCHEMA,
    SCHEMA_VERSION,
)

MANIFEST = "run.json"
CASES_DIR, SAMPLES_DIR, ENERGY_DIR = "cases", "samples", "energy"
RUN_CASES = "run-cases.parquet"  # all of a finished run's rows in one file, for fast history reads


def new_run_id() -> str:
    """A sortable, unique run id: UTC time to the second plus 6 random hex digits."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


def _write_atomically(path: Path, write: Any) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(temporary)
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_table_atomically(table: pa.Table, path: Path) -> None:
    """Write ``table`` to ``path`` as Parquet; readers see the whole file or nothing."""
    _write_atomically(path, lambda target: pq.write_table(table, target))


def write_json_atomically(document: Mapping[str, Any], path: Path) -> None:
    _write_atomically(path, lambda target: target.write_text(json.dumps(document, indent=2) + "\n"))


def _table(rows: Iterable[Mapping[str, Any]], schema: pa.Schema) -> pa.Table:
    rows = list(rows)
    unknown = {key for row in rows for key in row} - set(schema.names)
    if unknown:
        raise ValueError(f"columns not in the schema: {sorted(unknown)}")
    return pa.Table.from_pylist(rows, schema=schema)


class StoreWarning(UserWarning):
    """A file in the results folder that could not be read and was skipped."""


class RunWriter:
    """Writes one run's cases as they finish. Obtain it from :meth:`ResultStore.start_run`."""

    def __init__(self, folder: Path, manifest: dict[str, Any], cases_written: int = 0) -> None:
        self.folder = folder
        self.manifest = manifest
        self.cases_written = cases_written

    @property
    def run_id(self) -> str:
        return str(self.manifest["run_id"])

    def add_case(
        self,
        row: Mapping[str, Any],
        samples: pa.Table | None = None,
        energy_windows: Iterable[Mapping[str, Any]] = (),
    ) -> Path:
        """Write one case's row, raw samples and energy windows; returns the row's file."""
        sequence = f"{self.cases_written + 1:04d}"
        while (self.folder / CASES_DIR / f"{sequence}.parquet").exists():  # after a resume
            self.cases_written += 1
            sequence = f"{self.cases_written + 1:04d}"
        full_row = {"schema_version": SCHEMA_VERSION, "run_id": self.run_id, **row}
        if samples is not None and samples.num_rows:
            run_ids = pa.array([self.run_id] * samples.num_rows, pa.string())
            samples = samples.set_column(
                samples.schema.get_field_index("run_id"), "run_id", run_ids
            )
            write_table_atomically(
                samples.cast(SAMPLE_SCHEMA), self.folder / SAMPLES_DIR / f"{sequence}.parquet"
            )
        windows = [{"run_id": self.run_id, **window} for window in energy_windows]
        if windows:
            write_table_atomically(
                _table(windows, ENERGY_WINDOW_SCHEMA),
                self.folder / ENERGY_DIR / f"{sequence}.parquet",
            )
        # the row goes last: a row on disk means its samples are on disk too
        row_path = self.folder / CASES_DIR / f"{sequence}.parquet"
        write_table_atomically(_table([full_row], CASE_SCHEMA), row_path)
        self.cases_written += 1
        return row_path

    def finish(self, state: str = "complete") -> None:
        """Close the run: its rows are also written together to one file (``run-cases.parquet``),
        so that reading a long history opens one file per run, not one per case."""
        tables = []
        for path in sorted((self.folder / CASES_DIR).glob("*.parquet")):
            try:
                tables.append(pq.read_table(path))
            except (pa.ArrowException, OSError):
                continue  # a damaged row file: readers warn about it; the rest is combined
        if tables:
            write_table_atomically(
                pa.concat_tables(tables, promote_options="default"), self.folder / RUN_CASES
            )
        self.manifest["state"] = state
        self.manifest["finished_at_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
        self.manifest["cases_written"] = self.cases_written
        write_json_atomically(self.manifest, self.folder / MANIFEST)


class ResultStore:
    """A results folder holding any number of runs.

    A file that cannot be read (truncated by a crash, corrupted) is skipped with a
    :class:`StoreWarning` naming it, so the rest stays usable; with ``strict`` it is refused with a
    :class:`StoreError` instead.
    """

    def __init__(self, root: Path | str, strict: bool = False) -> None:
        self.root = Path(root)
        self.strict = strict

    def _unreadable(self, path: Path, error: Exception) -> None:
        message = (
            f"{path} is not a readable Parquet file ({type(error).__name__}: {error}); "
            "it was skipped"
        )
        if self.strict:
            raise StoreError(
                f"{path} is not a readable Parquet file ({error}); restore or remove "
                "it, or run without --strict to skip it"
            )
        warnings.warn(message, StoreWarning, stacklevel=3)

    def _read_table(self, path: Path) -> pa.Table | None:
        try:
            return pq.read_table(path)
        except (pa.ArrowException, OSError) as error:
            self._unreadable(path, error)
            return None

    def resume_run(self, run_id: str, suite: str) -> RunWriter:
        """Reopen ``run_id`` to add the cases it is missing (after a crash or Ctrl-C)."""
        folder = self.root / run_id
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
        except (OSError, ValueError):
            raise StoreError(
                f"--resume {run_id}: no readable run {folder} (its run.json is "
                "missing or damaged); check --results and the run id"
            ) from None
        if manifest.get("suite") != suite:
            raise StoreError(
                f"--resume {run_id}: that run is of suite {manifest.get('suite')!r}, "
                f"not {suite!r}; pass the same --suite"
            )
        written = len(list((folder / CASES_DIR).glob("*.parquet")))
        manifest["state"] = "running"
        manifest["resumed_at_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
        write_json_atomically(manifest, folder / MANIFEST)
        return RunWriter(folder, manifest, cases_written=written)

    def start_run(self, suite: str, run_id: str | None = None, **meta: Any) -> RunWriter:
        """Create the run's folder and manifest; fails with a :class:`StoreError` if unwritable."""
        run_id = run_id or new_run_id()
        folder = self.root / run_id
        try:
            for sub in (CASES_DIR, SAMPLES_DIR, ENERGY_DIR):
                (folder / sub).mkdir(parents=True, exist_ok=False)
            manifest = {
                "run_id": run_id,
                "suite": suite,
                "schema_version": SCHEMA_VERSION,
                "state": "running",
                "started_at_utc": datetime.now(UTC).isoformat(timespec="seconds"),
                **meta,
            }
            write_json_atomically(manifest, folder / MANIFEST)
        except FileExistsError as error:
            raise StoreError(
                f"results folder {self.root}: run {run_id} already exists ({error.filename}); "
                "runs never overwrite each other, so choose another run id"
            ) from None
        except OSError as error:
            raise StoreError(
                f"results folder {self.root} is not writable ({error.strerror}: {error.filename}); "
                "pass --results DIR with a folder you can write"
            ) from None
        return RunWriter(folder, manifest)

    def run_ids(self) -> list[str]:
        """Every run in the store, oldest first (run ids sort by their UTC start time)."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / CASES_DIR).is_dir())

    def manifest(self, run_id: str) -> dict[str, Any]:
        path = self.root / run_id / MANIFEST
        try:
            return dict(json.loads(path.read_text()))
        except (OSError, ValueError) as error:
            if self.strict:
                raise StoreError(
                    f"{path} is missing or damaged ({error}); restore it, or run without --strict"
                ) from None
            warnings.warn(
                f"{path} is missing or damaged ({error}); the run's rows are still read",
                StoreWarning,
                stacklevel=2,
            )
            return {
                "run_id": run_id,
                "suite": "unknown",
                "state": "unknown",
                "started_at_utc": "unknown",
            }

    def _paths(self, run_ids: Iterable[str] | None, sub: str) -> list[Path]:
        paths: list[Path] = []
        for run_id in self.run_ids() if run_ids is None else run_ids:
            combined = self.root / run_id / RUN_CASES
            if sub == CASES_DIR and combined.is_file():
                paths.append(combined)
            else:
                paths.extend(sorted((self.root / run_id / sub).glob("*.parquet")))
        return paths

    def _read(
        self,
        run_ids: Iterable[str] | None,
        sub: str,
        columns: Mapping[str, pa.DataType],
        only: list[str] | None = None,
    ) -> pd.DataFrame:
        paths = self._paths(run_ids, sub)
        if only is not None:
            # a few columns of many files: one multi-threaded scan that reads just those columns
            # and fills the ones an older file lacks with nulls
            schema = pa.schema([(name, columns[name]) for name in only])
            if not paths:
                return _to_pandas(schema.empty_table())
            try:
                scan = ds.dataset([str(p) for p in paths], schema=schema, format="parquet")
                return _to_pandas(scan.to_table())
            except (pa.ArrowException, OSError):
                pass  # a damaged file among them: read one by one below, naming it
        tables = []
        for path in paths:
            table = self._read_table(path)
            if table is None and path.name == RUN_CASES:  # fall back to the per-case files
                paths.extend(sorted((path.parent / CASES_DIR).glob("*.parquet")))
                continue
            if table is not None:
                if only is not None:
                    table = table.select([c for c in only if c in table.column_names])
                tables.append(table)
        if only is not None:
            columns = {name: columns[name] for name in only}
        if not tables:
            return _to_pandas(pa.schema(list(columns.items())).empty_table())
        conformed = [_conform(table, columns) for table in tables]
        return _to_pandas(pa.concat_tables(conformed, promote_options="default"))

    def read_cases(
        self, run_ids: Iterable[str] | None = None, columns: list[str] | None = None
    ) -> pd.DataFrame:
        """Case rows of the given runs (all by default), with every column of the current schema
        (or just ``columns``): columns that an older file lacks are filled with nulls."""
        return self._read(run_ids, CASES_DIR, CASE_COLUMNS, columns)

    def read_samples(self, run_ids: Iterable[str] | None = None) -> pd.DataFrame:
        return self._read(run_ids, SAMPLES_DIR, SAMPLE_COLUMNS)

    def read_energy(self, run_ids: Iterable[str] | None = None) -> pd.DataFrame:
        """Every energy window of the given runs (window -1 is each case's idle window)."""
        return self._read(run_ids, ENERGY_DIR, ENERGY_WINDOW_COLUMNS)


_NULLABLE_PANDAS_TYPES = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    """Integers and booleans keep their type when a column has nulls (a skipped row's latency)."""
    return table.to_pandas(types_mapper=_NULLABLE_PANDAS_TYPES.get)


def _conform(table: pa.Table, columns: Mapping[str, pa.DataType]) -> pa.Table:
    """Add the schema's columns that ``table`` lacks (as nulls) and order them as the schema.
    Columns the table has beyond the schema (from a newer benchsuite) are kept at the end."""
    arrays, names = [], []
    for name, data_type in columns.items():
        if name in table.column_names:
            arrays.append(table.column(name).cast(data_type))
        else:
            arrays.append(pa.nulls(table.num_rows, type=data_type))
        names.append(name)
    for name in table.column_names:
        if name not in columns:
            arrays.append(table.column(name))
            names.append(name)
    return pa.table(arrays, names=names)
