from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pyarrow as pa
import pytest

from video_assets.index.errors import InvalidRowsError
from video_assets.index.schema import clip_schema, rows_to_table, table_name, validate_clip_table


def test_rows_to_table_fills_derived_columns(clips):
    rows = [
        clips.row("v1", 0, text_match="a dog", text_match_prob=0.75, text_scores={"a dog": 0.75, "a cat": 0.25}),
        clips.row("v1", 1),
    ]
    table = rows_to_table(rows, clips.dim)
    assert table.schema.equals(clip_schema(clips.dim))
    assert table.column("duration_s").to_pylist() == [8.0, 8.0]
    assert json.loads(table.column("text_scores")[0].as_py()) == {"a dog": 0.75, "a cat": 0.25}
    assert table.column("text_scores")[1].as_py() is None
    assert table.column("created_at")[0].as_py() == clips.created


def test_rows_to_table_defaults_created_at_to_one_utc_now(clips):
    rows = [clips.row("v1", i) for i in range(3)]
    for row in rows:
        del row["created_at"]
    stamps = set(rows_to_table(rows, clips.dim).column("created_at").to_pylist())
    assert len(stamps) == 1
    assert next(iter(stamps)).utcoffset().total_seconds() == 0


def _nan_vector(row, dim):
    row["vector"] = np.full(dim, np.nan, np.float32)


BAD_ROWS = {
    "wrong dim": lambda row, dim: row.update(vector=np.ones(dim + 1, np.float32) / np.sqrt(dim + 1)),
    "nan vector": _nan_vector,
    "not unit norm": lambda row, dim: row.update(vector=2 * row["vector"]),
    "span ends before start": lambda row, dim: row.update(span_start_s=5.0, span_end_s=4.0),
    "negative start": lambda row, dim: row.update(span_start_s=-1.0),
    "inconsistent duration": lambda row, dim: row.update(duration_s=3.0),
    "unknown column": lambda row, dim: row.update(durration_s=8.0),
    "missing video id": lambda row, dim: row.pop("video_id"),
    "naive created_at": lambda row, dim: row.update(created_at=datetime(2024, 1, 1)),
    "text without prob": lambda row, dim: row.update(text_match="a dog"),
    "text scores not a mapping": lambda row, dim: row.update(text_scores="[0.5]"),
    "text scores not json": lambda row, dim: row.update(text_scores="{oops"),
    "empty clip id": lambda row, dim: row.update(clip_id=""),
    "number as video id": lambda row, dim: row.update(video_id=7),
}


@pytest.mark.parametrize("mutation", BAD_ROWS.values(), ids=BAD_ROWS.keys())
def test_rows_to_table_rejects_bad_rows(clips, mutation):
    good = clips.row("v1", 1)
    bad = clips.row("v1", 0)
    mutation(bad, clips.dim)
    with pytest.raises(InvalidRowsError):
        rows_to_table([good, bad], clips.dim)


def test_duplicate_clip_ids_are_rejected(clips):
    row = clips.row("v1", 0)
    with pytest.raises(InvalidRowsError, match="duplicate clip_id"):
        rows_to_table([row, dict(row)], clips.dim)


def test_validate_clip_table_casts_compatible_types(clips):
    table = clips.video("v1", range(3))
    loose = table.set_column(
        table.schema.get_field_index("span_start_s"),
        "span_start_s",
        table.column("span_start_s").cast(pa.float32()),
    )
    assert validate_clip_table(loose).schema.equals(clip_schema(clips.dim))


def test_validate_clip_table_checks_duration_against_span(clips):
    table = clips.video("v1", range(2))
    wrong = table.set_column(
        table.schema.get_field_index("duration_s"), "duration_s", pa.array([8.0, 9.0], pa.float64())
    )
    with pytest.raises(InvalidRowsError, match="duration_s"):
        validate_clip_table(wrong)


def test_table_name_rejects_unsafe_model_names():
    assert table_name("cosmos_embed1_336p") == "clips_cosmos_embed1_336p"
    for bad in ("", "Cosmos", "a/b", "x; drop", "../up"):
        with pytest.raises(ValueError):
            table_name(bad)
