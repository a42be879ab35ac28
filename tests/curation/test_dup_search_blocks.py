"""The duplicate search's pieces: boundary probes, pair blocks (tiled, incremental, capped), the choice of k."""

from __future__ import annotations

import math

import numpy as np
import pytest

from video_assets.curation import clustering, pairs
from video_assets.curation.pairs import find_pairs, plan_blocks

DIM = 24


def planted(seed: int, n: int = 1200, *, topics: int = 6, spread: float = 0.5, copies: int = 150) -> np.ndarray:
    """Clustered unit vectors with `copies` rows rewritten as near copies (cosine 0.9-0.999) of others."""
    rng = np.random.default_rng(seed)
    centres = clustering.normalize(rng.standard_normal((topics, DIM)))
    x = clustering.normalize(centres[rng.integers(0, topics, n)] + spread * rng.standard_normal((n, DIM))).astype(
        np.float64
    )
    for a in rng.choice(n, copies, replace=False):
        w = rng.standard_normal(DIM)
        w -= (w @ x[a]) * x[a]
        cos = rng.uniform(0.9, 0.999)
        x[rng.integers(0, n)] = cos * x[a] + math.sqrt(1 - cos * cos) * w / np.linalg.norm(w)
    return clustering.normalize(x)


def brute(x: np.ndarray, threshold: float, touching: np.ndarray | None = None) -> set[tuple[int, int]]:
    sims = x.astype(np.float64) @ x.astype(np.float64).T
    i, j = np.nonzero(np.triu(sims >= threshold, 1))
    keep = np.ones(len(i), bool) if touching is None else touching[i] | touching[j]
    return set(zip(i[keep].tolist(), j[keep].tolist()))


def as_set(found: pairs.Pairs) -> set[tuple[int, int]]:
    return set(zip(found.i.tolist(), found.j.tolist()))


def test_probes_are_every_boundary_within_the_radius_nearest_first() -> None:
    x = planted(0)
    centroids = clustering.train_centroids(x, 20)
    radius = clustering.pair_radius(0.9)
    a = clustering.assign(x, centroids, threshold=0.9, max_probes=4)
    sims = x.astype(np.float64) @ centroids.T.astype(np.float64)
    own = sims.argmax(axis=1)
    gap = np.linalg.norm(centroids[own][:, None, :] - centroids[None, :, :], axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = (sims[np.arange(len(x)), own][:, None] - sims) / gap
    dist[np.arange(len(x)), own] = np.inf
    within = dist <= radius
    assert (a.cluster == own).all()
    assert a.capped.any() and (~a.capped & within.any(axis=1)).any()  # both cases occur
    for row in range(len(x)):
        listed = a.probes[row][a.probes[row] >= 0]
        expected = np.argsort(dist[row], kind="stable")[: min(4, int(within[row].sum()))]
        assert a.capped[row] == (within[row].sum() > 4)
        assert set(listed.tolist()) == set(expected.tolist())
        assert (np.diff(dist[row, listed]) >= -1e-6).all()  # nearest boundary first


def test_pairs_equal_brute_force_with_tiled_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    x = planted(1)
    truth = brute(x, 0.9)
    a = clustering.assign(x, clustering.train_centroids(x, 8), threshold=0.9, max_probes=7)
    assert not a.capped.any() and len(truth) > 100
    whole, _ = find_pairs(x, a, np.ones(len(x), bool), 0.9)
    monkeypatch.setattr(pairs, "_BLOCK_CELLS", 1000)  # every product split in row pieces
    tiled, stats = find_pairs(x, a, np.ones(len(x), bool), 0.9)
    assert as_set(whole) == as_set(tiled) == truth
    assert stats.comparisons < len(x) * (len(x) - 1) / 2  # fewer than brute force


@pytest.mark.parametrize("max_probes", [1, 3])
def test_incremental_pairs_equal_full_ones_touching_new_clips_with_capped_probes(max_probes: int) -> None:
    x = planted(2)
    a = clustering.assign(x, clustering.train_centroids(x, 30), threshold=0.9, max_probes=max_probes)
    assert a.capped.any()
    full, _ = find_pairs(x, a, np.ones(len(x), bool), 0.9)
    new = np.random.default_rng(3).random(len(x)) < 0.1
    part, _ = find_pairs(x, a, new, 0.9)
    expected = {p for p in as_set(full) if new[p[0]] or new[p[1]]}
    assert as_set(part) == expected
    assert as_set(full) <= brute(x, 0.9)  # precision stays 1 when probes are capped


def test_cost_model_counts_the_cells_the_search_scores() -> None:
    x = planted(4)
    a = clustering.assign(x, clustering.train_centroids(x, 25), threshold=0.9, max_probes=3)
    assert a.capped.any() and (~a.capped & (a.probes >= 0).any(axis=1)).any()
    blocks = sum(b.cells for b in plan_blocks(a, np.ones(len(x), bool)))
    assert clustering.search_cells(a) == blocks
    _, stats = find_pairs(x, a, np.ones(len(x), bool), 0.9)
    assert stats.comparisons == blocks


def test_chosen_k_is_a_candidate_and_deterministic() -> None:
    x = planted(5, n=3000, topics=40, spread=0.3)
    order = np.random.default_rng(0).permutation(len(x))
    chosen = clustering.fit_centroids(x, order, threshold=0.9)
    again = clustering.fit_centroids(x, order, threshold=0.9)
    top = clustering.auto_clusters(len(x))
    assert len(chosen) in {top // 4, top // 2, top}
    np.testing.assert_array_equal(chosen, again)
    assert len(clustering.fit_centroids(x, order, threshold=0.9, k=7)) == 7


def test_blas_thread_count_is_restored() -> None:
    from threadpoolctl import threadpool_info

    def blas_threads() -> list[int]:
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    before = blas_threads()
    assert before, "numpy's BLAS is visible to threadpoolctl"
    with clustering.single_threaded_blas() as limited:
        assert limited and set(blas_threads()) == {1}
    assert blas_threads() == before
