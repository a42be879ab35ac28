"""Curation filters: the part LanceDB can run becomes SQL, the rest is evaluated over Arrow.

A filter parsed with `parse_where(text, curation=True)` may read columns that live beside
the index (duplicates, clip filters; `index.filters.CURATION_COLUMNS`). `split` keeps the
top-level AND terms that read only index columns for the table's own SQL (they narrow the
rows read); `evaluate` computes everything else over a table that holds the index columns
it reads and the curation columns (`filter_read.curation_columns`).

NULL follows SQL: a comparison with a null is null, AND/OR are Kleene, and a row whose
filter is null is not selected (as LanceDB does). The grammar has no NOT operator, so
false and null select the same rows.
"""

from __future__ import annotations

import json
from datetime import timezone

import pyarrow as pa
import pyarrow.compute as pc

from video_assets.index.filters import (
    BoolOp,
    Comparison,
    InList,
    Node,
    NullCheck,
    Operand,
    Reason,
    TextScore,
    uses_curation,
)

_COMPARE = {
    "<": pc.less,
    "<=": pc.less_equal,
    ">": pc.greater,
    ">=": pc.greater_equal,
    "=": pc.equal,
    "!=": pc.not_equal,
}


def split(node: Node) -> tuple[Node | None, Node | None]:
    """(index part for SQL, rest for `evaluate`): the top-level AND terms that read no curation column,
    and the others; either is None when empty. An OR that mixes both goes whole to the rest."""
    terms = list(node.operands) if isinstance(node, BoolOp) and node.op == "AND" else [node]
    index = [t for t in terms if not uses_curation(t)]
    rest = [t for t in terms if uses_curation(t)]
    return _and(index), _and(rest)


def index_columns(node: Node | None) -> list[str]:
    """The index columns `evaluate` needs for `node` (text_scores for any text_score(...))."""
    if node is None:
        return []
    if isinstance(node, BoolOp):
        return list(dict.fromkeys(c for operand in node.operands for c in index_columns(operand)))
    column = node.column
    if isinstance(column, TextScore):
        return ["text_scores"]
    if isinstance(column, Reason) or uses_curation(node):
        return []
    return [column]


def curation_names(node: Node | None) -> set[str]:
    """The curation columns a filter reads, and "reason" when it calls reason(...)."""
    if node is None:
        return set()
    if isinstance(node, BoolOp):
        return set().union(*(curation_names(operand) for operand in node.operands))
    if isinstance(node.column, Reason):
        return {"reason"}
    return {node.column} if uses_curation(node) else set()


def evaluate(node: Node, table: pa.Table) -> pa.ChunkedArray | pa.Array:
    """Boolean (with nulls) per row of `table`: whether the row matches `node`."""
    if isinstance(node, BoolOp):
        combine = pc.and_kleene if node.op == "AND" else pc.or_kleene
        result = evaluate(node.operands[0], table)
        for operand in node.operands[1:]:
            result = combine(result, evaluate(operand, table))
        return result
    values = _operand(node.column, table)
    if isinstance(node, NullCheck):
        return pc.is_valid(values) if node.negated else pc.is_null(values)
    if isinstance(node, InList):
        if pa.types.is_integer(values.type):  # the parser reads every number as a float
            values = pc.cast(values, pa.float64())
        listed = pa.array([_scalar(v, values.type).as_py() for v in node.values], values.type)
        member = pc.is_in(values, value_set=listed)
        member = pc.invert(member) if node.negated else member
        return pc.if_else(pc.is_valid(values), member, pa.scalar(None, pa.bool_()))
    assert isinstance(node, Comparison)
    return _COMPARE[node.op](values, _scalar(node.value, values.type))


def _operand(column: Operand, table: pa.Table) -> pa.ChunkedArray | pa.Array:
    if isinstance(column, TextScore):
        return pa.array([_score(raw, column.text) for raw in table.column("text_scores").to_pylist()], pa.float64())
    if isinstance(column, Reason):
        lists = table.column("filter_reasons").to_pylist()
        return pa.array([None if r is None else column.name in r for r in lists], pa.bool_())
    return table.column(column)


def _score(raw: str | None, text: str) -> float | None:
    if raw is None:
        return None
    value = json.loads(raw).get(text)
    return float(value) if value is not None else None


def _scalar(value: object, type_: pa.DataType) -> pa.Scalar:
    if pa.types.is_timestamp(type_):
        # The parser hands timestamps over as naive UTC (LanceDB's convention): say so to Arrow.
        return pa.scalar(value.replace(tzinfo=timezone.utc), type_)  # type: ignore[union-attr]
    if pa.types.is_integer(type_) and isinstance(value, float):
        return pa.scalar(value, pa.float64())  # `group_size > 1.5` compares as numbers
    return pa.scalar(value, type_)


def _and(terms: list[Node]) -> Node | None:
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else BoolOp("AND", tuple(terms))


__all__ = ["curation_names", "evaluate", "index_columns", "split"]
