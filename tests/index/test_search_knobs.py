"""Search knobs on tables with an ANN index (IVF_SQ, the automatic kind, and IVF_HNSW_SQ):
ef, nprobes, refine_factor, exact, offset, explain, and the `SearchRequest` that carries them.
These tables get no faiss sidecar, so LanceDB answers; the sidecar's path is tests/index/test_sidecar.py.

Expected results come from numpy brute force over the same stored vectors.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from tests.clip_rows import grid_row
from tests.index.helpers import full_and_paged
from video_assets.index.commit import commit_partition, delete_videos
from video_assets.index.connection import connect
from video_assets.index.errors import InvalidSearchError
from video_assets.index.maintenance import optimize_clip_table
from video_assets.index.schema import rows_to_table
from video_assets.index.search import SearchRequest, explain_search, search_vector

ROWS, VIDEOS, DIM, MODEL = 2000, 40, 16, "knobs"


def _row(video_id: str, index: int, vector: np.ndarray) -> dict:
    return grid_row(video_id, index, vector, model_id="test/knobs", partition_key="all")


@pytest.fixture(scope="module", params=["ivf_hnsw_sq", "ivf_sq"])
def indexed(request, tmp_path_factory):
    """2000 clips in 40 videos, vectors in 20 clusters, with an ANN index of each kind over them."""
    rng = np.random.default_rng(11)
    centers = rng.standard_normal((20, DIM)).astype(np.float32)
    vectors = centers[rng.integers(0, 20, ROWS)] + 0.6 * rng.standard_normal((ROWS, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    per_video = ROWS // VIDEOS
    table = rows_to_table([_row(f"v{i // per_video}", i % per_video, vectors[i]) for i in range(ROWS)], DIM)
    db = connect(str(tmp_path_factory.mktemp("knobs") / "lancedb"))
    commit_partition(db, MODEL, table, [f"v{i}" for i in range(VIDEOS)])
    result = optimize_clip_table(db, MODEL, retention=timedelta(hours=1), index_kind=request.param, sidecar=False)
    assert result.vector_index is not None and result.vector_index.kind == request.param
    ids = np.array(table.column("clip_id").to_pylist())
    videos = np.array(table.column("video_id").to_pylist())
    query = centers[3] / np.linalg.norm(centers[3]) + 0.2 * vectors[17]
    return db, MODEL, ids, videos, vectors, query / np.linalg.norm(query)


def _exact_order(vectors: np.ndarray, query: np.ndarray) -> np.ndarray:
    return np.argsort(-(vectors @ query), kind="stable")


def test_default_search_uses_the_index_and_returns_exact_cosine_scores(indexed):
    db, model, ids, _, vectors, query = indexed
    hits = search_vector(db, model, query)
    score_of = dict(zip(ids, vectors @ query))
    for hit in hits:
        assert hit.score == pytest.approx(float(score_of[hit.clip_id]), abs=1e-5)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    truth = set(ids[_exact_order(vectors, query)[:10]])
    assert len(truth & {h.clip_id for h in hits}) >= 9  # recall@10 with the default knobs
    assert "ANNSubIndex" in explain_search(db, model, query)


def test_exact_mode_is_brute_force(indexed):
    db, model, ids, _, vectors, query = indexed
    hits = search_vector(db, model, query, SearchRequest(k=15, exact=True))
    assert [h.clip_id for h in hits] == list(ids[_exact_order(vectors, query)[:15]])
    plan = explain_search(db, model, query, SearchRequest(k=15, exact=True))
    assert "ANNSubIndex" not in plan and "KNNVectorDistance" in plan


def test_offset_pages_concatenate_to_the_full_ranking(indexed):
    db, model, ids, _, vectors, query = indexed
    for exact in (True, False):
        full, pages = full_and_paged(db, model, query, exact=exact)
        assert pages == full
        if exact:
            assert full == list(ids[_exact_order(vectors, query)[:12]])


def test_knobs_reach_the_plan(indexed):
    db, model, _, _, _, query = indexed
    plan = explain_search(db, model, query, SearchRequest(k=10, nprobes=7, ef=33, refine_factor=3))
    assert "minimum_nprobes=7" in plan
    assert "k=30" in plan  # the ANN step returns k * refine_factor candidates for re-ranking
    assert "KNNVectorDistance" in plan  # ... which are re-scored on the stored vectors


def test_wider_search_never_loses_recall(indexed):
    db, model, ids, _, vectors, query = indexed
    truth = set(ids[_exact_order(vectors, query)[:10]])

    def recall(request: SearchRequest) -> int:
        return len(truth & {h.clip_id for h in search_vector(db, model, query, request)})

    narrow, wide = (
        recall(SearchRequest(nprobes=1, ef=10, refine_factor=1)),
        recall(SearchRequest(nprobes=45, ef=500, refine_factor=5)),
    )
    assert wide == 10 and narrow <= wide


def test_a_narrow_filter_still_returns_k_hits_with_one_probe(indexed):
    db, model, ids, videos, vectors, query = indexed
    # v33's 50 clips are spread over many partitions; one probe alone would hold only a few.
    hits = search_vector(db, model, query, SearchRequest(k=10, nprobes=1, where="video_id = 'v33'"))
    assert len(hits) == 10 and {h.video_id for h in hits} == {"v33"}
    score_of = dict(zip(ids, vectors @ query))
    assert all(h.score == pytest.approx(float(score_of[h.clip_id]), abs=1e-5) for h in hits)
    exact = search_vector(db, model, query, SearchRequest(k=10, exact=True, where="video_id = 'v33'"))
    in_video = np.flatnonzero(videos == "v33")
    assert [h.clip_id for h in exact] == list(ids[in_video[np.argsort(-(vectors[in_video] @ query))[:10]]])


def test_rows_added_after_the_index_are_found_and_deleted_ones_never(indexed_copy):
    """LanceDB searches rows the index does not hold yet flat and merges them in."""
    db, model, _, vectors = indexed_copy
    fresh = -vectors[5]  # far from every indexed clip's direction, so only the new rows answer
    new = rows_to_table([_row("late", i, fresh) for i in range(3)], DIM)
    commit_partition(db, model, new, ["late"])
    hits = search_vector(db, model, fresh, SearchRequest(k=3))
    assert {h.video_id for h in hits} == {"late"} and all(h.score == pytest.approx(1.0, abs=1e-5) for h in hits)
    doomed = search_vector(db, model, vectors[7], SearchRequest(k=1))[0]
    delete_videos(db, model, [doomed.video_id])
    after = search_vector(db, model, vectors[7], SearchRequest(k=50))
    assert doomed.video_id not in {h.video_id for h in after}


@pytest.fixture
def indexed_copy(tmp_path):
    """A small table with an IVF_HNSW_SQ index that a test may change."""
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((600, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    table = rows_to_table([_row(f"w{i // 20}", i % 20, vectors[i]) for i in range(600)], DIM)
    db = connect(str(tmp_path / "lancedb"))
    commit_partition(db, "late", table, [f"w{i}" for i in range(30)])
    result = optimize_clip_table(db, "late", index_kind="ivf_hnsw_sq", scalar_indexes=False, sidecar=False)
    assert result.vector_index is not None and result.vector_index.unindexed_rows == 0
    return db, "late", np.array(table.column("clip_id").to_pylist()), vectors


@pytest.mark.parametrize(
    "kwargs",
    [
        {"exact": True, "nprobes": 4},
        {"exact": True, "refine_factor": 2},
        {"exact": True, "ef": 50},
        {"offset": -1},
        {"offset": 10_001},
        {"k": 0},
        {"k": 1001},
        {"k": 2.5},
        {"nprobes": 0},
        {"refine_factor": 0},
        {"ef": 0},
        {"nprobes": True},
        {"exact": "yes"},
        {"sidecar": "no"},
        {"where": ""},
        {"where": 3},
        {"exclude_clip_ids": "one-id"},
        {"exclude_clip_ids": [""]},
        {"exclude_clip_ids": [str(i) for i in range(1001)]},
    ],
)
def test_bad_requests_are_refused_when_made(kwargs):
    with pytest.raises(InvalidSearchError):
        SearchRequest(**kwargs)


def test_a_request_is_frozen_and_keeps_excluded_ids_sorted_and_unique(indexed):
    db, model, ids, _, _, query = indexed
    request = SearchRequest(exclude_clip_ids=[ids[2], ids[1], ids[2]])
    assert request.exclude_clip_ids == tuple(sorted({ids[1], ids[2]}))
    assert request == SearchRequest(exclude_clip_ids=(ids[1], ids[2]))
    with pytest.raises(AttributeError):
        request.k = 3  # type: ignore[misc]
    with pytest.raises(InvalidSearchError, match="SearchRequest"):
        search_vector(db, model, query, {"k": 3})  # type: ignore[arg-type]
