"""Eval data for models by name: JSONL, CSV, Parquet and a saved datasets dataset read the same,
and each problem is one message naming the file and the fix."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from benchsuite.errors import ModelSourceError
from benchsuite.sources.eval_files import read_eval_table

ROWS = pd.DataFrame({"text": ["good", "bad", "fine"], "label": [1, 0, 1], "extra": [0, 0, 0]})


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet", "dataset"])
def test_every_format_reads_the_same_rows(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"eval{suffix}"
    if suffix == ".jsonl":
        ROWS.to_json(path, orient="records", lines=True)
    elif suffix == ".csv":
        ROWS.to_csv(path, index=False)
    elif suffix == ".parquet":
        ROWS.to_parquet(path)
    else:
        datasets = pytest.importorskip("datasets")
        datasets.Dataset.from_pandas(ROWS).save_to_disk(str(path))
    table = read_eval_table(str(path), ["text", "label"], limit=2)
    assert table.to_dict("list") == {"text": ["good", "bad"], "label": [1, 0]}


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("eval.jsonl", '{"words": "good", "label": 1}\n', "no column text (columns: words, label)"),
        ("eval.txt", "good\n", "unknown format .txt"),
        ("eval.csv", "text,label\n", "has no rows"),
        ("eval.jsonl", "{not json\n", "cannot be read"),
    ],
)
def test_a_bad_file_is_one_message_with_the_fix(
    tmp_path: Path, name: str, content: str, expected: str
) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(ModelSourceError, match="--eval-data") as raised:
        read_eval_table(str(tmp_path / name), ["text", "label"], limit=10)
    assert expected in str(raised.value)
