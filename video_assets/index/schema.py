"""The clip table: one row per clip per model, keyed by `clip_id`.

Everything that enters the index (rows built in Python, staged Parquet files)
goes through `validate_clip_table`, so a table in LanceDB never holds a
duplicate key, a NaN vector or a span that ends before it starts.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from video_assets.index.errors import InvalidRowsError

# Stored vectors come from L2-normalising models, possibly in fp16; anything
# further from norm 1 than this is a bug upstream, not rounding.
UNIT_NORM_TOLERANCE = 1e-2

_MODEL_NAME = re.compile(r"^[a-z0-9][a-z0-9_]{0,63}$")

# Columns a caller must fill; the rest are nullable.
REQUIRED_COLUMNS = (
    "clip_id",
    "video_id",
    "partition_key",
    "source_path",
    "span_start_s",
    "span_end_s",
    "duration_s",
    "vector",
    "model_id",
    "model_revision",
    "created_at",
)


def clip_schema(dim: int) -> pa.Schema:
    """Arrow schema of a model's clip table with `dim`-dimensional vectors."""
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise InvalidRowsError(f"vector dim must be a positive int, got {dim!r}")
    return pa.schema(
        [
            pa.field("clip_id", pa.string(), nullable=False),
            pa.field("video_id", pa.string(), nullable=False),
            pa.field("partition_key", pa.string(), nullable=False),
            pa.field("source_path", pa.string(), nullable=False),
            pa.field("span_start_s", pa.float64(), nullable=False),
            pa.field("span_end_s", pa.float64(), nullable=False),
            pa.field("duration_s", pa.float64(), nullable=False),
            pa.field("clip_path", pa.string(), nullable=True),
            pa.field("vector", pa.list_(pa.float32(), dim), nullable=False),
            pa.field("model_id", pa.string(), nullable=False),
            pa.field("model_revision", pa.string(), nullable=False),
            # Best of `texts_to_verify` and its softmax probability.
            pa.field("text_match", pa.string(), nullable=True),
            pa.field("text_match_prob", pa.float32(), nullable=True),
            # JSON object {text: probability} over all `texts_to_verify`.
            pa.field("text_scores", pa.string(), nullable=True),
            pa.field("created_at", pa.timestamp("us", tz="UTC"), nullable=False),
        ]
    )


def table_name(model: str) -> str:
    """LanceDB table of one embedder, e.g. `clips_internvideo2`."""
    if not isinstance(model, str) or not _MODEL_NAME.match(model):
        raise ValueError(
            f"model name {model!r} must be lowercase letters, digits and '_' (it becomes part of a table name)"
        )
    return f"clips_{model}"


def vector_dim(schema: pa.Schema) -> int:
    """Dimension of the `vector` column of a clip table schema."""
    if "vector" not in schema.names:
        raise InvalidRowsError("table has no 'vector' column")
    vtype = schema.field("vector").type
    if not pa.types.is_fixed_size_list(vtype):
        raise InvalidRowsError(f"'vector' must be a fixed_size_list of float32, got {vtype}")
    return vtype.list_size


def validate_clip_table(table: pa.Table) -> pa.Table:
    """`table` cast to exactly `clip_schema(dim)` after checking every rule;
    raises `InvalidRowsError` naming the first broken one."""
    dim = vector_dim(table.schema)
    schema = clip_schema(dim)
    missing = [n for n in schema.names if n not in table.column_names]
    extra = [n for n in table.column_names if n not in schema.names]
    if missing or extra:
        raise InvalidRowsError(f"clip table columns differ: missing {missing}, unexpected {extra}")
    for name in REQUIRED_COLUMNS:
        nulls = table.column(name).null_count
        if nulls:
            raise InvalidRowsError(f"column {name!r} has {nulls} null value(s)")
    try:
        table = table.select(schema.names).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as err:
        raise InvalidRowsError(f"clip table does not cast to the clip schema: {err}") from err
    _check_clip_ids(table)
    _check_spans(table)
    _check_vectors(table, dim)
    _check_text_match(table)
    return table


def rows_to_table(rows: Sequence[Mapping[str, Any]], dim: int) -> pa.Table:
    """Clip rows (dicts keyed by column name) to a validated clip table.

    `duration_s` is derived from the span (a given value must agree);
    `text_scores` may be a {text: prob} mapping or its JSON; `created_at`
    (tz-aware) defaults to one "now" for the whole batch.
    """
    schema = clip_schema(dim)
    now = datetime.now(timezone.utc)
    columns: dict[str, list[Any]] = {name: [] for name in schema.names}
    for i, row in enumerate(rows):
        unknown = set(row) - set(schema.names)
        if unknown:
            raise InvalidRowsError(f"row {i}: unknown column(s) {sorted(unknown)}")
        for name in schema.names:
            columns[name].append(_row_value(i, row, name, now))
    vectors = _vector_matrix(columns.pop("vector"), dim)
    arrays = {name: _column_array(name, values, schema.field(name).type) for name, values in columns.items()}
    arrays["vector"] = pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel(), pa.float32()), dim)
    return validate_clip_table(pa.table([arrays[n] for n in schema.names], schema=schema))


def _row_value(i: int, row: Mapping[str, Any], name: str, now: datetime) -> Any:
    if name == "duration_s":
        return _duration(i, row)
    if name == "created_at":
        created = row.get("created_at", now)
        if not isinstance(created, datetime) or created.tzinfo is None:
            raise InvalidRowsError(f"row {i}: created_at must be a tz-aware datetime, got {created!r}")
        return created
    if name == "text_scores":
        return _text_scores_json(i, row.get("text_scores"))
    if name in REQUIRED_COLUMNS and row.get(name) is None:
        raise InvalidRowsError(f"row {i}: missing required column {name!r}")
    return row.get(name)


def _column_array(name: str, values: list[Any], type_: pa.DataType) -> pa.Array:
    try:
        return pa.array(values, type=type_)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
        raise InvalidRowsError(f"column {name!r} does not fit {type_}: {err}") from err


def _duration(i: int, row: Mapping[str, Any]) -> float:
    try:
        duration = float(row["span_end_s"]) - float(row["span_start_s"])
    except KeyError as err:
        raise InvalidRowsError(f"row {i}: missing required column {err.args[0]!r}") from err
    given = row.get("duration_s")
    if given is not None and not math.isclose(float(given), duration, abs_tol=1e-6):
        raise InvalidRowsError(f"row {i}: duration_s {given} != span_end_s - span_start_s = {duration}")
    return duration


def _text_scores_json(i: int, scores: Any) -> str | None:
    if scores is None:
        return None
    try:
        parsed = json.loads(scores) if isinstance(scores, str) else scores
    except json.JSONDecodeError as err:
        raise InvalidRowsError(f"row {i}: text_scores is not valid JSON: {err}") from err
    if not isinstance(parsed, Mapping) or not all(
        isinstance(k, str) and isinstance(v, (int, float)) and math.isfinite(v) for k, v in parsed.items()
    ):
        raise InvalidRowsError(f"row {i}: text_scores must map text -> finite probability")
    return json.dumps({k: float(v) for k, v in parsed.items()}, ensure_ascii=False)


def _vector_matrix(vectors: list[Any], dim: int) -> np.ndarray:
    if not vectors:
        return np.zeros((0, dim), np.float32)
    for i, v in enumerate(vectors):
        if np.shape(v) != (dim,):
            raise InvalidRowsError(f"row {i}: vector has shape {np.shape(v)}, expected ({dim},)")
    return np.asarray(np.stack(vectors), dtype=np.float32)  # (N, dim)


def _check_clip_ids(table: pa.Table) -> None:
    ids = table.column("clip_id")
    if pc.any(pc.equal(pc.utf8_length(ids), 0)).as_py():  # null (falsy) on an empty table
        raise InvalidRowsError("empty clip_id")
    counts = pc.value_counts(ids)
    dup = counts.filter(pc.greater(counts.field("counts"), 1))
    if len(dup):
        raise InvalidRowsError(f"duplicate clip_id(s): {dup.field('values').to_pylist()[:5]}")


def _check_spans(table: pa.Table) -> None:
    start = table.column("span_start_s").to_numpy()
    end = table.column("span_end_s").to_numpy()
    duration = table.column("duration_s").to_numpy()
    bad = ~(np.isfinite(start) & np.isfinite(end) & (start >= 0) & (end > start))
    bad |= ~(np.abs(duration - (end - start)) <= 1e-6)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        clip = table.column("clip_id")[i].as_py()
        raise InvalidRowsError(
            f"clip {clip!r}: bad span [{start[i]}, {end[i]}] with duration_s {duration[i]} "
            "(need 0 <= start < end and duration_s = end - start)"
        )


def _check_vectors(table: pa.Table, dim: int) -> None:
    flat = table.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    matrix = flat.reshape(-1, dim)  # (N, dim)
    finite = np.isfinite(matrix).all(axis=1)
    norms = np.linalg.norm(np.where(np.isfinite(matrix), matrix, 0.0), axis=1)
    bad = ~finite | (np.abs(norms - 1.0) > UNIT_NORM_TOLERANCE)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        clip = table.column("clip_id")[i].as_py()
        what = "non-finite values" if not finite[i] else f"norm {norms[i]:.4f}"
        raise InvalidRowsError(f"clip {clip!r}: vector has {what}; vectors must be finite and unit-norm")


def _check_text_match(table: pa.Table) -> None:
    text_null = table.column("text_match").is_null().to_numpy()
    prob_null = table.column("text_match_prob").is_null().to_numpy()
    if not np.array_equal(text_null, prob_null):
        raise InvalidRowsError("text_match and text_match_prob must be both set or both null")
