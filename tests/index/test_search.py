from __future__ import annotations

import math

import numpy as np
import pytest

from video_assets.index.commit import commit_partition
from video_assets.index.errors import (
    ClipTableNotFoundError,
    InvalidFilterError,
    InvalidSearchError,
    UnknownClipError,
)
from video_assets.index.schema import rows_to_table
from video_assets.index.search import SearchRequest, get_vector, search_vector

# Clip angles on the unit circle: cosine similarity between two clips is cos(angle difference).
ANGLES = {("a", i): 0.25 * i for i in range(6)} | {("b", i): 1.6 + 0.25 * i for i in range(6)}


@pytest.fixture
def search_db(db, clips):
    rows = [
        clips.row(
            video,
            i,
            angle=angle,
            span_end_s=10.0 * i + 2 + i,
            text_match="a dog" if i == 0 else None,
            text_match_prob=0.9 if i == 0 else None,
        )
        for (video, i), angle in ANGLES.items()
    ]
    table = rows_to_table(rows, clips.dim)
    commit_partition(db, clips.model, table, ["a", "b"])
    by_key = {(r["video_id"], i % 6): r for i, r in enumerate(table.to_pylist())}
    return db, by_key


def test_identical_vector_comes_first_with_score_one(search_db, clips):
    db, by_key = search_db
    target = by_key[("a", 3)]
    hits = search_vector(db, clips.model, clips.unit_at(ANGLES[("a", 3)]), SearchRequest(k=5))
    assert hits[0].clip_id == target["clip_id"]
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert (hits[0].video_id, hits[0].span_start_s, hits[0].span_end_s) == ("a", 30.0, 35.0)
    assert hits[0].source_path == target["source_path"]


def test_hits_are_ordered_by_cosine_similarity(search_db, clips):
    db, by_key = search_db
    query_angle = 0.97  # no two clips equally far from it
    hits = search_vector(
        db, clips.model, 3.0 * clips.unit_at(query_angle), SearchRequest(k=len(ANGLES))
    )  # norm does not matter
    expected = sorted(ANGLES, key=lambda key: -math.cos(ANGLES[key] - query_angle))
    assert [h.clip_id for h in hits] == [by_key[key]["clip_id"] for key in expected]
    for hit, key in zip(hits, expected):
        assert hit.score == pytest.approx(math.cos(ANGLES[key] - query_angle), abs=1e-5)


def test_where_filter_restricts_results(search_db, clips):
    db, by_key = search_db
    query = clips.unit_at(ANGLES[("a", 2)])
    hits = search_vector(db, clips.model, query, SearchRequest(k=4, where="video_id = 'b' AND duration_s >= 4"))
    allowed = {r["clip_id"] for (video, i), r in by_key.items() if video == "b" and r["duration_s"] >= 4}
    assert len(hits) == 4 and {h.clip_id for h in hits} <= allowed
    # The four best of the allowed clips, not the four best overall filtered afterwards.
    best = sorted(allowed, key=lambda c: -math.cos(ANGLES[_key(by_key, c)] - ANGLES[("a", 2)]))[:4]
    assert [h.clip_id for h in hits] == best


def test_excluded_clips_are_skipped(search_db, clips):
    db, by_key = search_db
    query_clip = by_key[("b", 1)]["clip_id"]
    hits = search_vector(
        db, clips.model, get_vector(db, clips.model, query_clip), SearchRequest(k=3, exclude_clip_ids=[query_clip])
    )
    assert query_clip not in {h.clip_id for h in hits}
    assert hits[0].clip_id in {by_key[("b", 0)]["clip_id"], by_key[("b", 2)]["clip_id"]}


def test_get_vector_returns_the_stored_vector(search_db, clips):
    db, by_key = search_db
    stored = get_vector(db, clips.model, by_key[("b", 4)]["clip_id"])
    assert stored.dtype == np.float32 and stored.shape == (clips.dim,)
    np.testing.assert_allclose(stored, clips.unit_at(ANGLES[("b", 4)]), atol=1e-7)


def test_unknown_clip_id_is_a_clear_key_error(search_db, clips):
    db, _ = search_db
    with pytest.raises(UnknownClipError) as err:
        get_vector(db, clips.model, "no-such-clip")
    assert isinstance(err.value, KeyError)
    table = f"clips_{clips.model}"
    rows = db.open_table(table).count_rows()
    assert (
        str(err.value)
        == f"clip 'no-such-clip' is not in the {clips.model!r} index (table {table} in {db.uri}, {rows} clips)"
    )
    assert err.value.args[0] == str(err.value)  # what the CLI prints for a KeyError


def test_text_match_and_clip_path_come_back(search_db, clips):
    db, by_key = search_db
    hit = search_vector(db, clips.model, clips.unit_at(ANGLES[("a", 0)]), SearchRequest(k=1))[0]
    assert (hit.text_match, hit.clip_path) == ("a dog", by_key[("a", 0)]["clip_path"])


@pytest.mark.parametrize("k", [0, -1, 1001, 2.5, True])
def test_k_is_validated(search_db, clips, k):
    db, _ = search_db
    with pytest.raises(InvalidSearchError, match="k must be"):
        search_vector(db, clips.model, clips.unit_at(0.0), SearchRequest(k=k))


@pytest.mark.parametrize("bad", ["short", "nan", "zero"])
def test_query_vector_is_validated(search_db, clips, bad):
    db, _ = search_db
    vector = {"short": np.ones(clips.dim - 1), "nan": np.full(clips.dim, np.nan), "zero": np.zeros(clips.dim)}[bad]
    with pytest.raises(InvalidSearchError):
        search_vector(db, clips.model, vector)


def test_bad_filter_and_missing_table_are_reported(search_db, clips):
    db, _ = search_db
    with pytest.raises(InvalidFilterError):
        search_vector(db, clips.model, clips.unit_at(0.0), SearchRequest(where="clip_id LIKE '%'"))
    with pytest.raises(ClipTableNotFoundError, match="no_model"):
        search_vector(db, "no_model", clips.unit_at(0.0))


def _key(by_key: dict, clip_id: str) -> tuple[str, int]:
    return next(key for key, row in by_key.items() if row["clip_id"] == clip_id)
