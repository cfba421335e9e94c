"""docs/measurement.md's column list is the store's: generated from the schema, and checked here."""

from __future__ import annotations

import re
from pathlib import Path

from benchsuite.store.schema import (
    CASE_COLUMNS,
    COLUMNS_DOC_END,
    COLUMNS_DOC_START,
    SCHEMA_VERSION,
    columns_markdown,
)

DOC = Path(__file__).resolve().parent.parent / "docs" / "measurement.md"
MEND = (
    "regenerate it: python -c 'from benchsuite.store.schema import columns_markdown; "
    "print(columns_markdown())' and paste it between the markers"
)


def test_the_docs_column_list_is_the_schema() -> None:
    text = DOC.read_text()
    start, end = text.index(COLUMNS_DOC_START), text.index(COLUMNS_DOC_END)
    assert text[start : end + len(COLUMNS_DOC_END)] == columns_markdown(), MEND


def test_the_docs_name_the_schema_version_and_every_column_once_in_the_list() -> None:
    text = DOC.read_text()
    assert f"## Columns (schema version {SCHEMA_VERSION})" in text
    listed = re.findall(r"`([a-z0-9_]+)`", columns_markdown())
    assert sorted(listed) == sorted(CASE_COLUMNS)


def test_a_column_added_to_the_schema_changes_the_list(monkeypatch) -> None:
    from benchsuite.store import schema

    before = columns_markdown()
    monkeypatch.setitem(schema.CASE_COLUMNS, "new_figure_j", schema._float)
    assert "`new_figure_j`" in columns_markdown() and columns_markdown() != before
