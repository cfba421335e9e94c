"""Where a results store lives: a local folder or an object-store prefix (``s3://bucket/prefix``).

The store needs few operations: write a whole file, read one, list a folder, ask whether a file
is there. Both kinds of place get them through pyarrow's filesystems, so the Parquet readers
take the same paths on both. What differs is how a file appears whole:

- in a local folder a file is written to a hidden temporary name, flushed, then renamed into place;
- an object store has no rename, so a file is built complete in memory and sent in one upload;
  the object becomes visible only when the upload completes, so a reader sees all of it or
  nothing, and a process killed mid-upload leaves nothing behind.

Credentials and the endpoint of an object store come from the standard environment
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``, ``AWS_ENDPOINT_URL`` for a
server other than AWS, e.g. MinIO or moto), as for every AWS tool.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from benchsuite.errors import StoreError

OBJECT_STORE_SCHEMES = ("s3://", "gs://", "gcs://", "abfs://", "hdfs://")


def is_uri(where: str | Path) -> bool:
    """Whether ``where`` names an object store (``s3://...``) rather than a local folder."""
    return isinstance(where, str) and "://" in where and not where.startswith("file://")


class StoreLocation:
    """A local folder or an object-store prefix, addressed by slash-separated relative keys
    (``"<run_id>/cases/0001.parquet"``)."""

    def __init__(self, where: str | Path) -> None:
        self.is_local = not is_uri(where)
        if self.is_local:
            text = str(where)
            self.folder = Path(text.removeprefix("file://"))
            self.fs: pafs.FileSystem = pafs.LocalFileSystem()
            self.base = str(self.folder.absolute())
            self.uri = str(self.folder)
            return
        self.uri = str(where).rstrip("/")
        if not self.uri.startswith(OBJECT_STORE_SCHEMES):
            raise StoreError(
                f"--results {where}: unknown scheme; give a local folder or an object-store "
                f"URI ({', '.join(s + '...' for s in OBJECT_STORE_SCHEMES)})"
            )
        try:
            self.fs, self.base = pafs.FileSystem.from_uri(self.uri)
        except (pa.ArrowException, OSError, ValueError) as error:
            raise StoreError(
                f"--results {where}: cannot open the object store ({error}); check the URI "
                "and the AWS_* environment (AWS_ENDPOINT_URL for a server other than AWS)"
            ) from None
        self.base = self.base.rstrip("/")
        self.folder = Path(self.base)  # never opened: only for display helpers

    def path(self, key: str) -> str:
        """The filesystem path of ``key`` (what pyarrow's readers take with ``self.fs``)."""
        return f"{self.base}/{key}" if key else self.base

    def display(self, key: str = "") -> str:
        """``key`` as a person would type it: a local path, or the object's URI."""
        if self.is_local:
            return str(self.folder / key) if key else str(self.folder)
        return f"{self.uri}/{key}" if key else self.uri

    def write_whole(self, key: str, payload: bytes) -> None:
        """Write ``payload`` as ``key``; a reader never sees part of it."""
        target = self.path(key)
        if self.is_local:
            _write_local_atomically(Path(target), payload)
            return
        with self.fs.open_output_stream(target) as stream:  # one upload, visible when complete
            stream.write(payload)

    def write_table(self, key: str, table: pa.Table) -> None:
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        self.write_whole(key, sink.getvalue().to_pybytes())

    def read_bytes(self, key: str) -> bytes:
        with self.fs.open_input_stream(self.path(key)) as stream:
            return bytes(stream.read())

    def read_table(self, key: str) -> pa.Table:
        return pq.read_table(self.path(key), filesystem=self.fs)

    def exists(self, key: str) -> bool:
        return self.fs.get_file_info(self.path(key)).type == pafs.FileType.File

    def existing(self, keys: list[str]) -> list[bool]:
        """Which of ``keys`` are files, asked in one call (one request each on an object store,
        made by pyarrow in parallel)."""
        if not keys:
            return []
        infos = self.fs.get_file_info([self.path(key) for key in keys])
        return [info.type == pafs.FileType.File for info in infos]

    def files(self, folder: str, suffix: str = ".parquet") -> list[str]:
        """Names of the files directly in ``folder`` ending in ``suffix``, sorted; hidden names
        (a local write in progress) are left out."""
        infos = self._list(folder)
        return sorted(
            info.base_name
            for info in infos
            if info.type == pafs.FileType.File
            and info.base_name.endswith(suffix)
            and not info.base_name.startswith(".")
        )

    def folders(self, folder: str = "") -> list[str]:
        """Names of the sub-folders directly in ``folder``, sorted."""
        return sorted(
            info.base_name
            for info in self._list(folder)
            if info.type == pafs.FileType.Directory and not info.base_name.startswith(".")
        )

    def make_folder(self, key: str) -> None:
        """Create a local folder; an object store has no folders (a key's prefix is enough)."""
        if self.is_local:
            Path(self.path(key)).mkdir(parents=True, exist_ok=True)

    def _list(self, folder: str) -> list[pafs.FileInfo]:
        selector = pafs.FileSelector(self.path(folder), allow_not_found=True, recursive=False)
        try:
            return list(self.fs.get_file_info(selector))
        except (pa.ArrowException, OSError) as error:
            raise StoreError(
                f"results store {self.display(folder)}: cannot list it ({error}); check the "
                "path, the bucket and its credentials"
            ) from None


def _write_local_atomically(path: Path, payload: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
