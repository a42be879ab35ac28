"""Search knobs on a table with an IVF index: nprobes, refine_factor, exact, offset, explain.

Expected results come from numpy brute force over the same stored vectors.
Maintenance also built the faiss sidecar, so each knob is checked on both
paths: the sidecar (`sidecar=True`, the default) and LanceDB (`sidecar=False`).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import numpy as np
import pytest

from video_assets.index.commit import commit_partition
from video_assets.index.connection import connect
from video_assets.index.errors import InvalidSearchError
from video_assets.index.maintenance import optimize_clip_table
from video_assets.index.schema import rows_to_table
from video_assets.index.search import explain_search, search_vector

ROWS, VIDEOS, DIM, MODEL = 2000, 40, 16, "knobs"


def _row(video_id: str, index: int, vector: np.ndarray) -> dict:
    start = 10.0 * index
    return {
        "clip_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{video_id}:{start}:{start + 8}")),
        "video_id": video_id,
        "partition_key": "all",
        "source_path": f"/videos/{video_id}.mp4",
        "span_start_s": start,
        "span_end_s": start + 8.0,
        "vector": vector,
        "model_id": "test/knobs",
        "model_revision": "r1",
    }


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    """2000 clips in 40 videos, vectors in 20 clusters, with an IVF_SQ index over them."""
    rng = np.random.default_rng(11)
    centers = rng.standard_normal((20, DIM)).astype(np.float32)
    vectors = centers[rng.integers(0, 20, ROWS)] + 0.6 * rng.standard_normal((ROWS, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    per_video = ROWS // VIDEOS
    table = rows_to_table([_row(f"v{i // per_video}", i % per_video, vectors[i]) for i in range(ROWS)], DIM)
    db = connect(str(tmp_path_factory.mktemp("knobs") / "lancedb"))
    commit_partition(db, MODEL, table, [f"v{i}" for i in range(VIDEOS)])
    result = optimize_clip_table(db, MODEL, retention=timedelta(hours=1), index_kind="ivf_sq")
    assert result.vector_index is not None and result.vector_index.name == "vector_ivf_sq_p45"
    ids = np.array(table.column("clip_id").to_pylist())
    videos = np.array(table.column("video_id").to_pylist())
    query = centers[3] / np.linalg.norm(centers[3]) + 0.2 * vectors[17]
    return db, MODEL, ids, videos, vectors, query / np.linalg.norm(query)


def _exact_order(vectors: np.ndarray, query: np.ndarray) -> np.ndarray:
    return np.argsort(-(vectors @ query), kind="stable")


@pytest.mark.parametrize("sidecar", [True, False])
def test_default_search_uses_the_index_and_returns_exact_cosine_scores(indexed, sidecar):
    db, model, ids, _, vectors, query = indexed
    hits = search_vector(db, model, query, k=10, sidecar=sidecar)
    score_of = dict(zip(ids, vectors @ query))
    for hit in hits:
        assert hit.score == pytest.approx(float(score_of[hit.clip_id]), abs=1e-5)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    truth = set(ids[_exact_order(vectors, query)[:10]])
    assert len(truth & {h.clip_id for h in hits}) >= 9  # recall@10 with the default knobs
    plan = explain_search(db, model, query, k=10, sidecar=sidecar)
    assert ("faiss sidecar IVF45,SQ8" in plan) if sidecar else ("ANNSubIndex" in plan)


def test_exact_mode_is_brute_force(indexed):
    db, model, ids, _, vectors, query = indexed
    hits = search_vector(db, model, query, k=15, exact=True)
    assert [h.clip_id for h in hits] == list(ids[_exact_order(vectors, query)[:15]])
    plan = explain_search(db, model, query, k=15, exact=True)
    assert "ANNSubIndex" not in plan and "KNNVectorDistance" in plan


@pytest.mark.parametrize("sidecar", [True, False])
def test_offset_pages_concatenate_to_the_full_ranking(indexed, sidecar):
    db, model, ids, _, vectors, query = indexed
    for exact in (True, False):
        full = [h.clip_id for h in search_vector(db, model, query, k=12, exact=exact, sidecar=sidecar)]
        pages = [h.clip_id for page in range(3) for h in search_vector(db, model, query, k=4, offset=4 * page,
                                                                         exact=exact, sidecar=sidecar)]  # fmt: skip
        assert pages == full
        if exact:
            assert full == list(ids[_exact_order(vectors, query)[:12]])


def test_knobs_reach_the_plan(indexed):
    db, model, _, _, _, query = indexed
    plan = explain_search(db, model, query, k=10, nprobes=7, refine_factor=3, sidecar=False)
    assert "minimum_nprobes=7" in plan
    assert "k=30" in plan  # the ANN step returns k * refine_factor candidates for re-ranking
    assert "KNNVectorDistance" in plan  # ... which are re-scored on the stored vectors
    steps = explain_search(db, model, query, k=10, nprobes=7, refine_factor=3)
    assert "probe 7 of 45 lists for 30 candidates" in steps and "exact cosine re-rank" in steps


@pytest.mark.parametrize("sidecar", [True, False])
def test_more_probes_never_lose_recall(indexed, sidecar):
    db, model, ids, _, vectors, query = indexed
    truth = set(ids[_exact_order(vectors, query)[:10]])
    recall = {
        n: len(truth & {h.clip_id for h in search_vector(db, model, query, k=10, nprobes=n, refine_factor=2,
                                                         sidecar=sidecar)})  # fmt: skip
        for n in (1, 45)
    }
    # Every partition probed: the 20 best by 8-bit codes hold the true 10, and the re-rank is exact.
    assert recall[45] == 10
    assert recall[1] <= recall[45]


def test_a_narrow_filter_still_returns_k_hits_with_one_probe(indexed):
    db, model, ids, videos, vectors, query = indexed
    # v33's 50 clips are spread over many partitions; one probe alone would hold only a few.
    hits = search_vector(db, model, query, k=10, nprobes=1, where="video_id = 'v33'")
    assert len(hits) == 10 and {h.video_id for h in hits} == {"v33"}
    score_of = dict(zip(ids, vectors @ query))
    assert all(h.score == pytest.approx(float(score_of[h.clip_id]), abs=1e-5) for h in hits)
    exact = search_vector(db, model, query, k=10, exact=True, where="video_id = 'v33'")
    in_video = np.flatnonzero(videos == "v33")
    assert [h.clip_id for h in exact] == list(ids[in_video[np.argsort(-(vectors[in_video] @ query))[:10]]])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"exact": True, "nprobes": 4},
        {"exact": True, "refine_factor": 2},
        {"offset": -1},
        {"offset": 10_001},
        {"nprobes": 0},
        {"refine_factor": 0},
        {"nprobes": True},
        {"exact": "yes"},
    ],
)
def test_bad_knobs_are_refused(indexed, kwargs):
    db, model, _, _, _, query = indexed
    with pytest.raises(InvalidSearchError):
        search_vector(db, model, query, k=5, **kwargs)
    with pytest.raises(InvalidSearchError):
        explain_search(db, model, query, k=5, **kwargs)
