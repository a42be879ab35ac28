"""Clips listed by condition, without a query vector (`video-assets clips --where ...`).

The filter is the search's own `--where` parser (`index.filters`), so the same
columns, `text_score('TEXT')` and the same guarantees apply: the user's
characters never reach the SQL. With a data directory it also reads the curation
columns (duplicates: dup_group, keep, ...; clip filters: filter_keep, motion,
`reason('static')`): those terms are evaluated over Arrow after the index part
ran as SQL (`where_eval`), and every listed row carries them. Listings are ordered by source path, then span
start, then clip id, so a page is the same page on every call against the same
table version; both reads of one call are pinned to one version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lancedb
import pyarrow as pa
import pyarrow.compute as pc
from lancedb.expr import col, lit

from video_assets.curation.filter_read import CurationInfo, curation_columns
from video_assets.curation.where_eval import evaluate, index_columns, split
from video_assets.index.connection import open_clip_table
from video_assets.index.errors import InvalidSearchError
from video_assets.index.filters import (
    Node,
    NullCheck,
    TextScore,
    parse_where,
    render_sql,
    text_score_texts,
)

MAX_LIMIT = 1000
SORT_KEYS = ("source_path", "span_start_s", "clip_id")


@dataclass(frozen=True)
class ClipListing:
    model: str
    table_version: int
    total: int  # clips that match the filter, all pages together
    offset: int
    rows: list[dict[str, Any]]  # every column but `vector`; `text_scores` parsed to {text: prob}
    unscored_texts: list[str]  # texts the filter reads with text_score(...) that no clip has a score for
    curation: CurationInfo | None = None  # which curation columns exist (None: listed without a data dir)


def list_clips(
    db: lancedb.DBConnection,
    model: str,
    *,
    where: str | None = None,
    limit: int = 100,
    offset: int = 0,
    data_dir: Path | None = None,
) -> ClipListing:
    """The clips of `model`'s table that match `where` (all clips when None), one page of them.

    `data_dir` (where `curation/` and `assets/` are) adds the curation columns to the rows and
    to the filter language; without it a filter that reads them is refused."""
    for name, value, low, high in (("limit", limit, 1, MAX_LIMIT), ("offset", offset, 0, 10**9)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidSearchError(f"{name} must be an integer in {low}..{high}, got {value!r}")
    node = parse_where(where, curation=data_dir is not None) if where is not None else None
    texts = text_score_texts(node) if node is not None else []
    table = open_clip_table(db, model)
    table.checkout(table.version)  # both reads below see one version, even while a commit lands
    keys, info = _matching_keys(table, model, node, data_dir, SORT_KEYS)
    order = pc.sort_indices(keys, sort_keys=[(name, "ascending") for name in SORT_KEYS])
    page_ids = keys.column("clip_id").take(order).to_pylist()[offset : offset + limit]
    columns = [name for name in table.schema.names if name != "vector"]
    rows: list[dict[str, Any]] = []
    if page_ids:
        fetched = table.search().where(col("clip_id").isin([lit(c) for c in page_ids])).select(columns)
        by_id = {row["clip_id"]: row for row in fetched.limit(None).to_arrow().to_pylist()}
        rows = [_readable(by_id[clip_id]) for clip_id in page_ids]
    if data_dir is not None:
        extra, page_info = curation_columns(data_dir, model, page_ids)
        info = info or page_info  # of every matching clip when the filter read them, else of this page
        for row, more in zip(rows, extra.to_pylist()):
            row.update(more)
    unscored = [t for t in texts if not _anyone_scored(table, t)] if keys.num_rows == 0 else []
    return ClipListing(model, table.version, keys.num_rows, offset, rows, unscored, info)


def split_clip_ids(
    db: lancedb.DBConnection, model: str, where: str, data_dir: Path
) -> tuple[pa.Array, pa.Array, CurationInfo | None]:
    """(matching, not matching) clip ids of `model`'s table under `where`, curation columns included: what
    `list_clips` lists, for a search that must stay within those clips (curation/curated_search.py)."""
    table = open_clip_table(db, model)
    table.checkout(table.version)  # both reads see one version
    keys, info = _matching_keys(table, model, parse_where(where, curation=True), data_dir, ("clip_id",))
    matching = keys.column("clip_id").combine_chunks()
    every = table.search().limit(None).select(["clip_id"]).to_arrow().column("clip_id").combine_chunks()
    others = every.filter(pc.invert(pc.is_in(every, value_set=matching)))
    return matching, others, info


def _matching_keys(
    table: Any, model: str, node: Node | None, data_dir: Path | None, select: tuple[str, ...]
) -> tuple[pa.Table, CurationInfo | None]:
    """The `select` columns of the rows that match `node`: its index part as SQL, its curation terms over
    Arrow (`where_eval`) beside the curation columns read from `data_dir`."""
    index_part, rest = split(node) if node is not None else (None, None)
    sql = render_sql(index_part) if index_part is not None else None
    keys = _query(table, sql).select(list(dict.fromkeys([*select, "clip_id", *index_columns(rest)]))).to_arrow()
    if rest is None:
        return keys, None
    assert data_dir is not None  # the parser admits curation terms only with a data dir
    extra, info = curation_columns(data_dir, model, keys.column("clip_id").combine_chunks())
    return keys.filter(evaluate(rest, _beside(keys, extra))), info


def scored_texts(db: lancedb.DBConnection, model: str) -> list[str]:
    """The texts of one scored clip (the `texts_to_verify` the table was built with), [] if none."""
    table = open_clip_table(db, model)
    found = table.search().where("text_scores IS NOT NULL").select(["text_scores"]).limit(1).to_arrow()
    return list(json.loads(found.column("text_scores")[0].as_py())) if found.num_rows else []


def _beside(keys: pa.Table, extra: pa.Table) -> pa.Table:
    for name in extra.column_names:
        keys = keys.append_column(name, extra.column(name))
    return keys


def _query(table: Any, sql: str | None) -> Any:
    query = table.search().limit(None)
    return query.where(sql) if sql is not None else query


def _anyone_scored(table: Any, text: str) -> bool:
    # Only asked when nothing matched: tells a misspelt text from a strict threshold.
    return table.count_rows(render_sql(NullCheck(TextScore(text), negated=True))) > 0


def _readable(row: dict[str, Any]) -> dict[str, Any]:
    if row.get("text_scores") is not None:
        row["text_scores"] = json.loads(row["text_scores"])
    return row
