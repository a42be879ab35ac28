"""Curation columns in `--where`: parsing, Arrow evaluation agreeing with LanceDB's SQL, the live duplicate
reason, and export --kept-only over filters alone; on a real clip table with generated rows."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from video_assets.curation.clip_filters import REASONS
from video_assets.curation.clip_list import list_clips
from video_assets.curation.duplicates import update_duplicates
from video_assets.curation.export import export_clips
from video_assets.curation.filter_read import curation_columns, filters_dir
from video_assets.curation.filter_run import FILTER_SCHEMA
from video_assets.curation.where_eval import evaluate, split
from video_assets.index.commit import commit_partition
from video_assets.index.connection import connect, open_clip_table
from video_assets.index.errors import InvalidFilterError
from video_assets.index.filters import FILTER_REASONS, compile_where, parse_where
from video_assets.index.schema import rows_to_table
from video_assets.stages.parquet_parts import write_table_atomic

MODEL = "tiny"
DIM = 8


def _clip(video: str, i: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{video}:{i}"))


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """Videos a and b, 4 clips each (durations 1..4 s); b's clip 0 repeats a's clip 0 (one duplicate
    group); filter decisions stored for video a only: clip 1 static, clip 2 black + frozen."""
    data = tmp_path / "data"
    db = connect(str(data / "lancedb"))
    for video in ("a", "b"):
        rows = []
        for i in range(4):
            vector = np.zeros(DIM, np.float32)
            vector[0 if i == 0 else i + (3 if video == "b" else 0)] = 1.0
            rows.append(
                {
                    "clip_id": _clip(video, i),
                    "video_id": video,
                    "partition_key": f"p-{video}",
                    "source_path": f"/videos/{video}.mp4",
                    "span_start_s": 10.0 * i,
                    "span_end_s": 10.0 * i + i + 1,
                    "vector": vector,
                    "model_id": "test/tiny",
                    "model_revision": "r1",
                    "text_scores": {"a dog": 0.1 * (i + 1)} if i % 2 == 0 else None,
                    "created_at": datetime(2024, 5, 1 + i, tzinfo=timezone.utc),
                }
            )
        commit_partition(db, MODEL, rows_to_table(rows, DIM), [video])
    reasons = [[], ["static"], ["black", "frozen"], []]
    stored = [
        {
            "clip_id": _clip("a", i),
            "video_id": "a",
            "filter_keep": not r,
            "filter_reasons": r,
            "motion": 0.001 if r else 0.05,
            "frames": 4,
            "black_frames": 0,
            "frozen_s": 0.0,
            "duplicate": None,
        }
        for i, r in enumerate(reasons)
    ]
    path = filters_dir(data / "assets", MODEL) / "p-a.parquet"
    write_table_atomic(pa.Table.from_pylist(stored, schema=FILTER_SCHEMA), path)
    return data


def test_the_reason_names_are_the_filters_reasons() -> None:
    assert FILTER_REASONS == REASONS


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("keep = false", "curation columns and reason('...') are filtered with"),  # search: not an index column
        ("reason('static')", "function calls other than text_score"),
    ],
)
def test_search_filters_refuse_curation_terms(text: str, problem: str) -> None:
    with pytest.raises(InvalidFilterError, match=re.escape(problem)):
        compile_where(text)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("dup_keep = 1", "expected true or false"),
        ("dup_keep < true", "compare it with = or !="),
        ("reason('dull')", "reason takes one of"),
        ("reason(static)", "reason takes one of"),
        ("reason('static') > 0", "compare it with = or !="),
        ("motion > 'x'", "numeric"),
        ("dup_group = 3", "quoted"),
    ],
)
def test_bad_curation_filters_name_the_problem(text: str, problem: str) -> None:
    with pytest.raises(InvalidFilterError, match=re.escape(problem)):
        parse_where(text, curation=True)


@pytest.mark.parametrize(
    "text",
    [
        "duration_s > 2",
        "video_id = 'a' OR duration_s <= 1",
        "text_score('a dog') > 0.15",
        "text_score('a dog') IS NULL AND video_id != 'b'",
        "video_id NOT IN ('b') OR created_at >= '2024-05-03T00:00:00Z'",
        "text_match IS NULL AND span_start_s IN (10, 20)",
    ],
)
def test_arrow_evaluation_selects_what_lancedb_sql_selects(data: Path, text: str) -> None:
    table = open_clip_table(connect(str(data / "lancedb")), MODEL)
    selected = table.search().where(compile_where(text)).select(["clip_id"]).limit(None).to_arrow()
    by_sql = set(selected["clip_id"].to_pylist())
    rows = table.to_arrow()
    by_arrow = set(rows.filter(evaluate(parse_where(text), rows))["clip_id"].to_pylist())
    assert by_arrow == by_sql and 0 < len(by_sql) < rows.num_rows


def test_listing_by_curation_columns(data: Path) -> None:
    db = connect(str(data / "lancedb"))

    def ids(where: str) -> list[str]:
        return [r["clip_id"] for r in list_clips(db, MODEL, where=where, data_dir=data).rows]

    assert ids("reason('static')") == [_clip("a", 1)]
    assert ids("reason('frozen') AND reason('black')") == [_clip("a", 2)]
    assert ids("filter_keep = true") == [_clip("a", 0), _clip("a", 3)]
    assert ids("filter_keep IS NULL AND duration_s >= 3") == [_clip("b", 2), _clip("b", 3)]  # b has no decisions
    assert ids("motion < 0.01 OR video_id = 'b' AND duration_s > 3") == [_clip("a", 1), _clip("a", 2), _clip("b", 3)]
    assert ids("dup_keep = false") == []  # no duplicates file yet: every dup_keep is null
    listing = list_clips(db, MODEL, where="dup_keep IS NULL", data_dir=data)
    assert listing.total == 8 and not listing.curation.duplicates and listing.curation.filters
    update_duplicates(db, MODEL, data / "curation", threshold=0.99)
    dropped = ids("dup_keep = false")
    assert ids("keep = false") == dropped  # the old name, read for one release
    assert len(dropped) == 1 and dropped[0] in {_clip("a", 0), _clip("b", 0)}
    assert set(ids("group_size = 2")) == {_clip("a", 0), _clip("b", 0)}
    assert ids(f"dup_group = '{min(_clip('a', 0), _clip('b', 0))}' AND video_id = 'a'") == [_clip("a", 0)]
    # The duplicate reason follows the duplicates file, not what the partition stored (None here);
    # only a's clips have filter decisions at all.
    assert ids("reason('duplicate')") == (dropped if dropped == [_clip("a", 0)] else [])
    # Without a data dir the curation terms are not in the language.
    with pytest.raises(InvalidFilterError, match="unknown column 'keep'"):
        list_clips(db, MODEL, where="keep = false")


def test_duplicate_reason_follows_the_live_duplicates_file(data: Path) -> None:
    db = connect(str(data / "lancedb"))
    update_duplicates(db, MODEL, data / "curation", threshold=0.99)
    ids = [_clip("a", i) for i in range(4)]
    columns, info = curation_columns(data, MODEL, ids)
    keep = columns.column("dup_keep").to_pylist()
    reasons = columns.column("filter_reasons").to_pylist()
    assert info.duplicates and info.filters and info.without_filters == 0
    assert reasons[1:] == [["static"], ["black", "frozen"], []]
    assert reasons[0] == ([] if keep[0] else ["duplicate"])
    assert columns.column("filter_keep").to_pylist() == [keep[0], False, False, True]


def test_export_kept_only_with_filters_alone_and_refused_with_neither(data: Path, tmp_path: Path) -> None:
    db = connect(str(data / "lancedb"))
    result = export_clips(db, MODEL, tmp_path / "out", fmt="jsonl", data_dir=data, kept_only=True)
    rows = [json.loads(line) for line in (tmp_path / "out" / "clips.jsonl").read_text().splitlines()]
    # a's static and black clips are left out; b's clips have no decision and no duplicate info: kept.
    assert {r["clip_id"] for r in rows} == {_clip("a", 0), _clip("a", 3), *(_clip("b", i) for i in range(4))}
    assert result.dropped_by_kept_only == 2 and result.clips_without_filters == 4 and result.filters == "joined"
    assert result.duplicates == "absent" and "no duplicates file" in result.note() and result.incomplete
    assert all(set(r) >= {"filter_keep", "filter_reasons", "motion", "dup_keep", "dup_group"} for r in rows)
    bare = tmp_path / "bare"
    connect(str(bare / "lancedb"))  # another data dir: same table, no curation output
    with pytest.raises(FileNotFoundError, match="--kept-only needs tiny's duplicate groups or clip filters"):
        export_clips(db, MODEL, tmp_path / "out2", fmt="jsonl", data_dir=bare, kept_only=True)
    assert not (tmp_path / "out2").exists()


def test_split_sends_index_only_and_terms_to_sql() -> None:
    index, rest = split(
        parse_where("duration_s > 1 AND (dup_keep = false OR video_id = 'a') AND motion < 0.1", curation=True)
    )
    assert compile_where("duration_s > 1")  # renders
    assert index == parse_where("duration_s > 1")
    assert rest == parse_where("(dup_keep = false OR video_id = 'a') AND motion < 0.1", curation=True)
    assert split(parse_where("dup_keep = true OR duration_s > 1", curation=True))[0] is None


def test_search_within_the_clips_a_curation_filter_keeps(data: Path) -> None:
    """`search --where` over curation columns: the clips engine decides, the vector search stays inside."""
    from video_assets.curation.query import explain, search
    from video_assets.index.search import SearchRequest
    from video_assets.settings.config import Settings

    settings = Settings(data_dir=data)

    def hits(where: str) -> set[str]:
        request = SearchRequest(k=10, where=where)
        return {h.clip_id for h in search(settings, like_clip=_clip("a", 3), model=MODEL, request=request)}

    assert hits("filter_keep = true") == {_clip("a", 0)}  # a's kept clips, less the query clip itself
    assert hits("reason('static') OR reason('black')") == {_clip("a", 1), _clip("a", 2)}
    # More clips match than not: the search gets the others as the ids to leave out.
    kept_or_undecided = {_clip("a", 0), *(_clip("b", i) for i in range(4))}
    assert hits("filter_keep = true OR filter_keep IS NULL") == kept_or_undecided
    assert hits("filter_keep IS NULL AND duration_s >= 3") == {_clip("b", 2), _clip("b", 3)}
    assert hits("reason('too_long')") == set()
    assert "matches no clip" in explain(
        settings, like_clip=_clip("a", 3), model=MODEL, request=SearchRequest(where="reason('too_long')")
    )


def test_a_duplicates_file_written_with_the_old_keep_column_still_reads(data: Path) -> None:
    """Before `dup_keep` the column was `keep`: old files are renamed on read, nothing is recomputed."""
    import pyarrow.parquet as pq

    from video_assets.curation.dup_read import groups, read_duplicates, result_info
    from video_assets.curation.duplicates import output_path

    db = connect(str(data / "lancedb"))
    update_duplicates(db, MODEL, data / "curation", threshold=0.99)
    path = output_path(data / "curation", MODEL)
    new = pq.read_table(path)
    assert "dup_keep" in new.column_names and "keep" not in new.column_names
    old = new.rename_columns(["keep" if n == "dup_keep" else n for n in new.column_names])
    old = old.replace_schema_metadata(new.schema.metadata)
    pq.write_table(old, path)
    assert read_duplicates(data / "curation", MODEL).equals(new)
    assert result_info(read_duplicates(data / "curation", MODEL))["table_version"]  # metadata kept
    assert [len(g.clips) for g in groups(read_duplicates(data / "curation", MODEL))] == [2]
    columns, info = curation_columns(data, MODEL, [_clip("a", 0), _clip("b", 0)])
    assert info.duplicates and sorted(columns.column("dup_keep").to_pylist()) == [False, True]
    listed = list_clips(db, MODEL, where="dup_keep = false", data_dir=data).rows
    assert len(listed) == 1 and listed[0]["dup_keep"] is False
