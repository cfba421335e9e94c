"""The append-only Parquet store, in a local folder or an object store (``s3://...``).

Layout under the store's root, one folder per run that no other run ever writes into::

    <root>/<run_id>/run.json             the run's manifest (suite, hardware, state, times)
    <root>/<run_id>/cases/0001.parquet   one row per case (schema:
    benchsuite.store.schema.CASE_COLUMNS) <root>/<run_id>/samples/0001.parquet raw per-call
    latencies of that case, warm-up included <root>/<run_id>/energy/0001.parquet  each energy
    window of that case, idle window included <root>/<run_id>/run-cases.parquet    every row of the
    run in one file, written when it ends

Every data file is written once, whole (:mod:`benchsuite.store.location`: a rename into place on a
local disk, one upload on an object store), and never changed. A case's row is written after its
samples and energy windows, so a reader that sees a row sees the whole case. Writers never collide:
one process (the run's driver) writes the manifest; a case's files are named by its writer, and a
fleet node's names carry the node's own token. The manifest is written at the start and, last,
at the end, when it says the run is ``complete`` and how many cases it holds. A case is readable
as soon as it finishes: ``pandas.read_parquet("results/<run_id>/cases")``.
"""

from __future__ import annotations

import json
import secrets
import warnings
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from benchsuite.errors import StoreError
from benchsuite.store.location import StoreLocation
from benchsuite.store.schema import (
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


def _json_bytes(document: Mapping[str, Any]) -> bytes:
    return (json.dumps(document, indent=2) + "\n").encode()


def _table(rows: Iterable[Mapping[str, Any]], schema: pa.Schema) -> pa.Table:
    rows = list(rows)
    unknown = {key for row in rows for key in row} - set(schema.names)
    if unknown:
        raise ValueError(f"columns not in the schema: {sorted(unknown)}")
    return pa.Table.from_pylist(rows, schema=schema)


class StoreWarning(UserWarning):
    """A file in the results store that could not be read and was skipped."""


def write_case(
    location: StoreLocation,
    run_id: str,
    name: str,
    row: Mapping[str, Any],
    samples: pa.Table | None = None,
    energy_windows: Iterable[Mapping[str, Any]] = (),
) -> str:
    """Write one case's samples, energy windows and, last, its row, as ``<name>.parquet`` in the
    run's folders; returns the row's key. Any process may call it (a fleet node does): ``name``
    must be its own."""
    full_row = {"schema_version": SCHEMA_VERSION, "run_id": run_id, **row}
    if samples is not None and samples.num_rows:
        run_ids = pa.array([run_id] * samples.num_rows, pa.string())
        samples = samples.set_column(samples.schema.get_field_index("run_id"), "run_id", run_ids)
        location.write_table(f"{run_id}/{SAMPLES_DIR}/{name}.parquet", samples.cast(SAMPLE_SCHEMA))
    windows = [{"run_id": run_id, **window} for window in energy_windows]
    if windows:
        location.write_table(
            f"{run_id}/{ENERGY_DIR}/{name}.parquet", _table(windows, ENERGY_WINDOW_SCHEMA)
        )
    # the row goes last: a row in the store means its samples are there too
    row_key = f"{run_id}/{CASES_DIR}/{name}.parquet"
    location.write_table(row_key, _table([full_row], CASE_SCHEMA))
    return row_key


class RunWriter:
    """Writes one run's cases as they finish. Obtain it from :meth:`ResultStore.start_run`."""

    def __init__(
        self, location: StoreLocation, manifest: dict[str, Any], cases_written: int = 0
    ) -> None:
        self.location = location
        self.manifest = manifest
        self.cases_written = cases_written

    @property
    def run_id(self) -> str:
        return str(self.manifest["run_id"])

    @property
    def folder(self) -> Path:
        """The run's local folder (on an object store, its key prefix as a path)."""
        return self.location.folder / self.run_id

    @property
    def where(self) -> str:
        """The run's folder or URI, for messages."""
        return self.location.display(self.run_id)

    def add_case(
        self,
        row: Mapping[str, Any],
        samples: pa.Table | None = None,
        energy_windows: Iterable[Mapping[str, Any]] = (),
    ) -> str:
        """Write one case's row, raw samples and energy windows; returns the row's key."""
        taken = set(self.location.files(f"{self.run_id}/{CASES_DIR}"))
        sequence = f"{self.cases_written + 1:04d}"
        while f"{sequence}.parquet" in taken:  # after a resume, or rows a fleet node wrote
            self.cases_written += 1
            sequence = f"{self.cases_written + 1:04d}"
        key = write_case(self.location, self.run_id, sequence, row, samples, energy_windows)
        self.cases_written += 1
        return key

    def finish(self, state: str = "complete", **facts: Any) -> None:
        """Close the run: its rows are also written together to one file (``run-cases.parquet``),
        so that reading a long history opens one file per run, not one per case; then the
        manifest, last, says the run's state and how many cases it holds (``facts`` join it)."""
        tables = []
        names = self.location.files(f"{self.run_id}/{CASES_DIR}")
        for name in names:
            try:
                tables.append(self.location.read_table(f"{self.run_id}/{CASES_DIR}/{name}"))
            except (pa.ArrowException, OSError):
                continue  # a damaged row file: readers warn about it; the rest is combined
        if tables:
            self.location.write_table(
                f"{self.run_id}/{RUN_CASES}", pa.concat_tables(tables, promote_options="default")
            )
        self.manifest.update(facts)
        self.manifest["state"] = state
        self.manifest["finished_at_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
        self.manifest["cases_written"] = len(names)
        self.location.write_whole(f"{self.run_id}/{MANIFEST}", _json_bytes(self.manifest))


class ResultStore:
    """A results store holding any number of runs: a local folder or an object-store URI.

    A file that cannot be read (truncated by a crash, corrupted) is skipped with a
    :class:`StoreWarning` naming it, so the rest stays usable; with ``strict`` it is refused with a
    :class:`StoreError` instead.
    """

    def __init__(self, root: Path | str, strict: bool = False) -> None:
        self.location = StoreLocation(root)
        self.root: Path | str = self.location.folder if self.location.is_local else root
        self.strict = strict
        self._manifests: dict[str, dict[str, Any]] = {}

    def __str__(self) -> str:
        return self.location.display()

    def _unreadable(self, key: str, error: Exception) -> None:
        where = self.location.display(key)
        message = (
            f"{where} is not a readable Parquet file ({type(error).__name__}: {error}); "
            "it was skipped"
        )
        if self.strict:
            raise StoreError(
                f"{where} is not a readable Parquet file ({error}); restore or remove "
                "it, or run without --strict to skip it"
            )
        warnings.warn(message, StoreWarning, stacklevel=3)

    def _read_table(self, key: str) -> pa.Table | None:
        try:
            return self.location.read_table(key)
        except (pa.ArrowException, OSError) as error:
            self._unreadable(key, error)
            return None

    def has_run(self, run_id: str) -> bool:
        return self.location.exists(f"{run_id}/{MANIFEST}") or bool(
            self.location.files(f"{run_id}/{CASES_DIR}")
        )

    def resume_run(self, run_id: str, suite: str) -> RunWriter:
        """Reopen ``run_id`` to add the cases it is missing (after a crash or Ctrl-C)."""
        try:
            manifest = json.loads(self.location.read_bytes(f"{run_id}/{MANIFEST}"))
        except (OSError, ValueError):
            raise StoreError(
                f"--resume {run_id}: no readable run {self.location.display(run_id)} (its "
                "run.json is missing or damaged); check --results and the run id"
            ) from None
        if manifest.get("suite") != suite:
            raise StoreError(
                f"--resume {run_id}: that run is of suite {manifest.get('suite')!r}, "
                f"not {suite!r}; pass the same --suite"
            )
        written = len(self.location.files(f"{run_id}/{CASES_DIR}"))
        manifest["state"] = "running"
        manifest["resumed_at_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
        self.location.write_whole(f"{run_id}/{MANIFEST}", _json_bytes(manifest))
        self._manifests.pop(run_id, None)
        return RunWriter(self.location, manifest, cases_written=written)

    def start_run(self, suite: str, run_id: str | None = None, **meta: Any) -> RunWriter:
        """Create the run's folder and manifest; fails with a :class:`StoreError` if unwritable."""
        run_id = run_id or new_run_id()
        if self.has_run(run_id):
            raise StoreError(
                f"results folder {self}: run {run_id} already exists; runs never overwrite "
                "each other, so choose another run id"
            )
        manifest = {
            "run_id": run_id,
            "suite": suite,
            "schema_version": SCHEMA_VERSION,
            "state": "running",
            "started_at_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            **meta,
        }
        try:
            for sub in (CASES_DIR, SAMPLES_DIR, ENERGY_DIR):
                self.location.make_folder(f"{run_id}/{sub}")
            self.location.write_whole(f"{run_id}/{MANIFEST}", _json_bytes(manifest))
        except OSError as error:
            if self.location.is_local:
                raise StoreError(
                    f"results folder {self} is not writable ({error.strerror}: "
                    f"{error.filename}); pass --results DIR with a folder you can write"
                ) from None
            raise StoreError(
                f"results store {self} is not writable ({error}); check the bucket, its "
                "credentials (AWS_*) and AWS_ENDPOINT_URL"
            ) from None
        return RunWriter(self.location, manifest)

    def run_ids(self) -> list[str]:
        """Every run in the store, oldest first (run ids sort by their UTC start time)."""
        names = self.location.folders()
        if self.location.is_local:
            return [n for n in names if Path(self.location.path(f"{n}/{CASES_DIR}")).is_dir()]
        found = self.location.existing([f"{name}/{MANIFEST}" for name in names])
        return [name for name, there in zip(names, found, strict=True) if there]

    def manifest(self, run_id: str) -> dict[str, Any]:
        """The run's manifest (read once per store object: a command sees one state of it)."""
        if run_id in self._manifests:
            return dict(self._manifests[run_id])
        key = f"{run_id}/{MANIFEST}"
        try:
            manifest = dict(json.loads(self.location.read_bytes(key)))
        except (OSError, ValueError, pa.ArrowException) as error:
            where = self.location.display(key)
            if self.strict:
                raise StoreError(
                    f"{where} is missing or damaged ({error}); restore it, or run without --strict"
                ) from None
            warnings.warn(
                f"{where} is missing or damaged ({error}); the run's rows are still read",
                StoreWarning,
                stacklevel=2,
            )
            manifest = {
                "run_id": run_id,
                "suite": "unknown",
                "state": "unknown",
                "started_at_utc": "unknown",
            }
        self._manifests[run_id] = manifest
        return dict(manifest)

    def _keys(self, run_ids: Iterable[str] | None, sub: str) -> list[str]:
        run_ids = self.run_ids() if run_ids is None else list(run_ids)
        combined = [f"{run_id}/{RUN_CASES}" for run_id in run_ids]
        has_combined = (
            self.location.existing(combined) if sub == CASES_DIR else [False] * len(run_ids)
        )
        keys: list[str] = []
        for run_id, key, there in zip(run_ids, combined, has_combined, strict=True):
            if there:
                keys.append(key)
            else:
                folder = f"{run_id}/{sub}"
                keys.extend(f"{folder}/{name}" for name in self.location.files(folder))
        return keys

    def _read(
        self,
        run_ids: Iterable[str] | None,
        sub: str,
        columns: Mapping[str, pa.DataType],
        only: list[str] | None = None,
    ) -> pd.DataFrame:
        keys = self._keys(run_ids, sub)
        if only is not None:
            # a few columns of many files: one multi-threaded scan that reads just those columns
            # and fills the ones an older file lacks with nulls
            schema = pa.schema([(name, columns[name]) for name in only])
            if not keys:
                return _to_pandas(schema.empty_table())
            try:
                paths = [self.location.path(key) for key in keys]
                scan = ds.dataset(
                    paths, schema=schema, format="parquet", filesystem=self.location.fs
                )
                return _to_pandas(scan.to_table())
            except (pa.ArrowException, OSError):
                pass  # a damaged file among them: read one by one below, naming it
        tables = []
        for key in keys:
            table = self._read_table(key)
            if table is None and key.endswith(f"/{RUN_CASES}"):  # fall back to per-case files
                folder = f"{key.rsplit('/', 1)[0]}/{CASES_DIR}"
                keys.extend(f"{folder}/{name}" for name in self.location.files(folder))
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
        (or just ``columns``): columns that an older file lacks are filled with nulls. A case
        measured again in its run (``--resume --retry-failed``) is its last row: the failed one
        it replaces stays in the store, unread."""
        rows = self._read(run_ids, CASES_DIR, CASE_COLUMNS, columns)
        if {"run_id", "case_id"} <= set(rows.columns) and rows.duplicated(
            ["run_id", "case_id"]
        ).any():
            rows = rows.drop_duplicates(["run_id", "case_id"], keep="last").reset_index(drop=True)
        return rows

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
