from __future__ import annotations

import json
from datetime import datetime, timedelta

import pyarrow as pa
import pytest

from video_assets.index.commit import commit_partition
from video_assets.index.connection import open_clip_table
from video_assets.index.errors import InvalidFilterError
from video_assets.index.filters import (
    BoolOp,
    Comparison,
    InList,
    NullCheck,
    TextScore,
    compile_where,
    parse_where,
    text_score_texts,
)
from video_assets.index.schema import rows_to_table, validate_clip_table

QUOTED_VIDEO = "it's"


def test_and_binds_tighter_than_or():
    assert parse_where("duration_s > 3 or video_id = 'a' AND clip_path IS NULL") == BoolOp(
        "OR",
        (
            Comparison("duration_s", ">", 3.0),
            BoolOp("AND", (Comparison("video_id", "=", "a"), NullCheck("clip_path", negated=False))),
        ),
    )


def test_parentheses_group_and_literals_are_typed():
    assert parse_where("(duration_s >= 2 OR duration_s < 1.5e1) AND video_id NOT IN ('a', 'b''c')") == BoolOp(
        "AND",
        (
            BoolOp("OR", (Comparison("duration_s", ">=", 2.0), Comparison("duration_s", "<", 15.0))),
            InList("video_id", ("a", "b'c"), negated=True),
        ),
    )
    assert parse_where("created_at > '2024-05-01T14:00:00+02:00'") == Comparison(
        "created_at", ">", datetime(2024, 5, 1, 12, 0)
    )


REJECTED = {
    "1=1; drop table clips": "unexpected character ';'",
    "1=1": "expected a column name",
    "duration_s > 3; DROP TABLE clips_x": "unexpected character ';'",
    "duration_s > 3 OR clip_id LIKE '%'": "'LIKE'",
    "lower(video_id) = 'a'": "function calls",
    "video_id IN (SELECT video_id FROM clips_x)": "quoted",
    "nope > 1": "unknown column 'nope'",
    "vector IS NULL": "unknown column 'vector'",
    "video_id = 'abc": "unbalanced quote",
    "video_id = 'a'' OR 1=1": "unbalanced quote",
    "duration_s > '3'": "numeric",
    "video_id = 3": "quoted",
    'video_id = "a"': "unexpected character '\"'",
    "`video_id` = 'a'": "unexpected character '`'",
    "(duration_s > 3": "')'",
    "duration_s > 3)": "end of the filter",
    "duration_s > 3 AND": "column name",
    "duration_s = NULL": "IS NULL",
    "duration_s > 3 -- comment": "unexpected character '-'",
    "duration_s > 3 /* x */": "unexpected character '/'",
    "duration_s > 1e999": "out of range",
    "NOT duration_s > 3": "unknown column 'NOT'",
    "duration_s >> 3": "got '>'",
    "duration_s BETWEEN 1 AND 3": "'BETWEEN'",
    "created_at > 'yesterday'": "ISO-8601",
    "video_id IS 'a'": "NULL after IS",
    "video_id IN ()": "quoted",
    "": "empty filter",
    "   ": "empty filter",
    "(" * 40 + "duration_s > 1" + ")" * 40: "nested deeper",
    "duration_s > 3 OR 1": "column name",
    "text_score(video_id) > 0.5": "one 'quoted' text",
    "text_score('a dog') > '0.5'": "expected a number",
    "text_score('a dog') IN (0.5)": "got 'IN'",
    "text_score('a dog')": "got the end of the filter",
    "text_score('') > 0.5": "non-blank",
    "text_score('a', 'b') > 0.5": "')' closing text_score",
    "text_score 'a' > 0.5": "unknown column 'text_score'",
    "text_scores > 0.5": "text_score('TEXT') > 0.5",
    "Text_Score('a') > 0.5": "function calls other than text_score",
    "text_score('a') > 1e999": "expected a number",
}


@pytest.mark.parametrize(("text", "problem"), REJECTED.items(), ids=list(REJECTED))
def test_rejects_with_the_problem_named(text, problem):
    with pytest.raises(InvalidFilterError) as err:
        compile_where(text)
    assert problem in str(err.value)


def test_text_score_parses_as_an_operand():
    node = parse_where("text_score('a dog') > 0.5 AND (text_score('it''s') IS NULL OR duration_s <= 4)")
    assert node == BoolOp(
        "AND",
        (
            Comparison(TextScore("a dog"), ">", 0.5),
            BoolOp("OR", (NullCheck(TextScore("it's"), negated=False), Comparison("duration_s", "<=", 4.0))),
        ),
    )
    assert text_score_texts(node) == ["a dog", "it's"]


def test_rejects_overlong_filters():
    with pytest.raises(InvalidFilterError, match="longer than"):
        compile_where(" OR ".join(["duration_s > 1"] * 500))


# text_scores per clip, in turn: texts that contain one another, a quote, a comma, a backslash,
# non-ASCII; a key 'x"a dog' and 'a dog, b' must never be read as 'a dog'.
SCORES = [
    {"a dog": 0.7, "it's": 0.2, "un café": 0.1},
    {"a dog": 1e-05, "a dogs": 0.99},
    None,
    {'x"a dog': 0.9, "a dog, b": 0.8, "back\\slash": 0.6},
    {"un café": 0.55, "a dog": 0.45},
    {"a dog, b": 0.3, "a dog": 0.5},
]
ESCAPED = 4  # row index whose JSON is written \u-escaped, as the pipeline's embeddings stage writes it


@pytest.fixture
def filter_db(db, clips):
    """Videos 'a', 'b' and one with a quote in its id; spans, paths, text, scores and times vary per clip."""
    rows = []
    for video_id, count in (("a", 5), ("b", 4), (QUOTED_VIDEO, 2)):
        for i in range(count):
            row = clips.row(
                video_id,
                i,
                span_end_s=10.0 * i + 2 + i % 4,
                created_at=clips.created + timedelta(hours=i),
                source_path=f"/videos/{video_id}.mp4",
            )
            if i % 3 == 0:
                row.update(text_match="a dog", text_match_prob=0.25 * (i + 1))
            row["text_scores"] = SCORES[len(rows) % len(SCORES)]
            rows.append(row)
    table = rows_to_table(rows, clips.dim)  # writes non-ASCII as is
    scores = [
        json.dumps(SCORES[i % len(SCORES)]) if i % len(SCORES) == ESCAPED else s
        for i, s in enumerate(table.column("text_scores").to_pylist())
    ]
    assert "\\u00e9" in scores[ESCAPED] and "é" in scores[0]
    index = table.schema.get_field_index("text_scores")
    table = validate_clip_table(table.set_column(index, "text_scores", pa.array(scores, pa.string())))
    commit_partition(db, clips.model, table, ["a", "b", QUOTED_VIDEO])
    return open_clip_table(db, clips.model), table.to_pylist()


# Each accepted filter with the same predicate written in Python.
ACCEPTED = {
    "duration_s > 3": lambda r: r["duration_s"] > 3,
    "duration_s >= 4 AND video_id = 'a'": lambda r: r["duration_s"] >= 4 and r["video_id"] == "a",
    "video_id IN ('a', 'zzz') OR clip_path IS NULL": lambda r: r["video_id"] == "a" or r["clip_path"] is None,
    "(span_start_s < 25 OR span_start_s >= 40) AND duration_s != 4": lambda r: (
        (r["span_start_s"] < 25 or r["span_start_s"] >= 40) and r["duration_s"] != 4
    ),
    "text_match IS NOT NULL": lambda r: r["text_match"] is not None,
    "video_id not in ('a')": lambda r: r["video_id"] != "a",
    "text_match_prob <= 0.5": lambda r: r["text_match_prob"] is not None and r["text_match_prob"] <= 0.5,
    "created_at >= '2024-05-01T14:00:00Z'": lambda r: r["created_at"].hour >= 14,
    "created_at < '2024-05-01T16:00:00+02:00'": lambda r: r["created_at"].hour < 14,
    "source_path = '/videos/it''s.mp4'": lambda r: r["video_id"] == QUOTED_VIDEO,
    "video_id = 'x'' OR ''1''=''1'": lambda r: False,
    "video_id = 'a'') OR (''1''=''1'": lambda r: False,
    "video_id = 'a\\'": lambda r: False,
    "duration_s > 3 and video_id = 'b'": lambda r: r["duration_s"] > 3 and r["video_id"] == "b",
    "text_score('a dog') > 0.5": lambda r: _has(r, "a dog", lambda v: v > 0.5),
    "text_score('a dog') >= 0.45": lambda r: _has(r, "a dog", lambda v: v >= 0.45),
    "text_score('a dog') < 0.001": lambda r: _has(r, "a dog", lambda v: v < 0.001),
    "text_score('a dog') = 0.5": lambda r: _has(r, "a dog", lambda v: v == 0.5),
    "text_score('a dog') IS NULL": lambda r: not _has(r, "a dog", lambda v: True),
    "text_score('a dog, b') != 0.3": lambda r: _has(r, "a dog, b", lambda v: v != 0.3),
    "text_score('it''s') > 0.1 OR text_score('back\\slash') > 0.1": lambda r: (
        _has(r, "it's", lambda v: v > 0.1) or _has(r, "back\\slash", lambda v: v > 0.1)
    ),
    "text_score('un café') > 0.5": lambda r: _has(r, "un café", lambda v: v > 0.5),
    "text_score('un café') IS NOT NULL AND video_id = 'a'": lambda r: (
        _has(r, "un café", lambda v: True) and r["video_id"] == "a"
    ),
    "text_score('nothing') IS NOT NULL": lambda r: False,
    "text_score('a dog'') OR ''1''=''1') > 0": lambda r: False,
}


def _has(row, text, predicate):
    """Whether the row has a score for `text` that satisfies `predicate` (a missing one never does, as NULL)."""
    scores = json.loads(row["text_scores"]) if row["text_scores"] else {}
    return text in scores and predicate(scores[text])


@pytest.mark.parametrize(("text", "predicate"), ACCEPTED.items(), ids=list(ACCEPTED))
def test_accepted_filters_select_what_they_say(filter_db, text, predicate):
    table, rows = filter_db
    selected = table.search().where(compile_where(text)).select(["clip_id"]).to_arrow()
    expected = {r["clip_id"] for r in rows if predicate(r)}
    assert set(selected.column("clip_id").to_pylist()) == expected
