"""Typed, rounded metadata values for the Dagster UI (units in the key names: `_s`, `_mb`, `_per_s`).

The stages return plain numbers, rows and bytes; these helpers turn them into
`MetadataValue`s a person reads at a glance: floats rounded, a one-element list shown
as its element, tables with a schema, the stored Parquet schema as
`dagster/column_schema`. The `.value` of each stays a plain int/float/str/list, which
`app/runner.py` reads back into the run summary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa

from video_assets.stages.clip_report import MAX_ROWS


def check_result(name: str, problems: list[str]) -> dg.AssetCheckResult:
    """An asset check's outcome from the problems a `stages.checks` function found (none = passed);
    app/runner.py prints the first of them when a check fails."""
    return dg.AssetCheckResult(check_name=name, passed=not problems, metadata={"problems": problems})


def checked_result(
    value: Any,
    check: str,
    problems: list[str],
    rows: int,
    metadata: Mapping[str, Any],
    *,
    data_version: str | None = None,
) -> dg.MaterializeResult:
    """A video-partitioned asset's result: its stored value, the outcome of its one check, its
    row count (`dagster/row_count`, what the UI shows beside the partition) and its other metadata."""
    return dg.MaterializeResult(
        value=value,
        data_version=dg.DataVersion(data_version) if data_version is not None else None,
        check_results=[check_result(check, problems)],
        metadata={"dagster/row_count": rows, **metadata},
    )


def seconds(value: float, digits: int = 2) -> dg.FloatMetadataValue:
    return dg.MetadataValue.float(round(float(value), digits))


def megabytes(n_bytes: int) -> dg.FloatMetadataValue:
    """Bytes as MB (10^6 bytes), two decimals."""
    return dg.MetadataValue.float(round(n_bytes / 1e6, 2))


def one_or_list(values: Sequence[Any]) -> dg.MetadataValue:
    """A partition of one video shows its value, not a one-element list."""
    values = list(values)
    if len(values) == 1:
        return typed(values[0])
    return dg.MetadataValue.json(values)


def typed(value: Any) -> dg.MetadataValue:
    """The MetadataValue a plain value reads best as (floats to 3 significant decimals)."""
    if isinstance(value, bool):
        return dg.MetadataValue.bool(value)
    if isinstance(value, int):
        return dg.MetadataValue.int(value)
    if isinstance(value, float):
        return dg.MetadataValue.float(round(value, 3))
    if isinstance(value, Path):
        return dg.MetadataValue.path(value)
    if isinstance(value, (list, tuple, dict)):
        return dg.MetadataValue.json(value if not isinstance(value, tuple) else list(value))
    return dg.MetadataValue.text(str(value))


# Column types of the clip tables (stages/clip_report.py) as the UI names them.
_ROW_TYPES = {bool: "bool", int: "int", float: "float", str: "string"}


def rows_table(rows: Sequence[Mapping[str, Any]], descriptions: Mapping[str, str]) -> dg.TableMetadataValue:
    """Rows of plain values as a UI table; `descriptions` names the columns, in order, and says what each is."""
    columns = []
    for name, description in descriptions.items():
        sample = next((row[name] for row in rows if row.get(name) is not None), "")
        columns.append(dg.TableColumn(name, _ROW_TYPES.get(type(sample), "string"), description=description))
    records = [dg.TableRecord({name: row.get(name) for name in descriptions}) for row in rows]
    return dg.MetadataValue.table(records, schema=dg.TableSchema(columns=columns))


def clip_table_entries(
    key: str, rows: Sequence[Mapping[str, Any]], total: int, descriptions: Mapping[str, str]
) -> dict[str, dg.MetadataValue]:
    """`key` as a table of the rows, and `<key>_rows_shown` when the stage capped them."""
    entries: dict[str, dg.MetadataValue] = {key: rows_table(rows, descriptions)}
    if total > len(rows):
        entries[f"{key}_rows_shown"] = dg.MetadataValue.text(f"first {len(rows)} of {total} (at most {MAX_ROWS})")
    return entries


_ARROW_NAMES = {
    pa.types.is_string: "string",
    pa.types.is_large_string: "string",
    pa.types.is_boolean: "bool",
    pa.types.is_integer: "int",
    pa.types.is_floating: "float",
    pa.types.is_binary: "bytes",
    pa.types.is_large_binary: "bytes",
}


def column_schema(schema: pa.Schema, descriptions: Mapping[str, str] | None = None) -> dg.TableSchemaMetadataValue:
    """A stored Parquet/Arrow schema as `dagster/column_schema` (the asset page's Columns tab)."""
    descriptions = descriptions or {}
    columns = []
    for arrow_field in schema:
        kind = next((name for test, name in _ARROW_NAMES.items() if test(arrow_field.type)), str(arrow_field.type))
        columns.append(dg.TableColumn(arrow_field.name, kind, description=descriptions.get(arrow_field.name)))
    return dg.MetadataValue.table_schema(dg.TableSchema(columns=columns))
