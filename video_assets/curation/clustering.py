"""k-means over clip vectors (faiss), and the clusters each clip must be compared with.

The clusters are the coarse stage of duplicate search and an output of their own
(a cluster id per clip, to browse). NeMo Curator compares only clips within one
cluster, so a duplicate pair split by a cluster boundary is lost. Here a clip is
also compared with every cluster whose boundary it lies close to:

For unit vectors a pair with cosine >= t lies within chord distance r = sqrt(2 - 2t).
A clip `a` in cluster A is on A's side of the hyperplane that bisects centroids A
and B; its partner `b` in B is on the other side, so the segment a-b crosses the
hyperplane and `b` lies within r of it. The distance of `b` to that hyperplane is
(b.c_B - b.c_A) / |c_B - c_A| (unit centroids), so probing every cluster within r
finds every pair (`a` lies within r of the same hyperplane, so the two clusters
probe each other): exact, with no tuning knob. On clustered data most clips are
far from every boundary. Where the data is not clustered (many boundaries within
r) the probes are capped at `max_probes`, nearest boundaries first; `capped`
counts the clips where that happened, the only ones whose pairs may be missed.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import faiss
import numpy as np
from threadpoolctl import threadpool_limits

from video_assets.curation.progress import Progress, no_progress

DEFAULT_MAX_PROBES = 8
MAX_CLUSTERS = 4096
_CHUNK_ROWS = 8192
_NITER = 10  # train_centroids' default
# Slack on the radius: float32 dot products of unit vectors err by ~1e-6; never prune a true pair for it.
_RADIUS_SLACK = 1e-4
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Assignment:
    """Per clip: its cluster, the other clusters it is compared with (-1 padded), whether the cap cut them."""

    cluster: np.ndarray  # (N,) int32
    probes: np.ndarray  # (N, max_probes) int32, nearest boundary first, -1 = none
    capped: np.ndarray  # (N,) bool


def auto_clusters(n: int) -> int:
    """About sqrt(N) clusters (balances the N*k assignment against the N*N/k pair blocks),
    at least 4 clips per cluster, at most MAX_CLUSTERS."""
    if n <= 0:
        return 1
    return int(max(1, min(round(math.sqrt(n)), n // 4, MAX_CLUSTERS)))


def pair_radius(threshold: float) -> float:
    """Chord distance between unit vectors with cosine `threshold`, plus float slack."""
    return math.sqrt(max(0.0, 2.0 - 2.0 * threshold)) + _RADIUS_SLACK


def normalize(vectors: np.ndarray, *, in_place: bool = False) -> np.ndarray:
    """Rows scaled to unit norm in float32 (stored vectors may be fp16-rounded); zero rows stay zero.
    `in_place` rescales a contiguous float32 array itself, chunk by chunk."""
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if not in_place or x is not vectors:
        x = x.copy() if x is vectors else x
    for s in range(0, len(x), _CHUNK_ROWS):
        part = x[s : s + _CHUNK_ROWS]
        norms = np.linalg.norm(part, axis=1, keepdims=True)
        part /= np.where(norms > 0, norms, 1.0)
    return x


def train_centroids(
    vectors: np.ndarray, k: int, *, seed: int = 0, niter: int = 10, points_per_centroid: int = 64
) -> np.ndarray:
    """Spherical k-means centroids (k, dim), unit norm, trained on a seeded sample of
    `points_per_centroid * k` rows (faiss's default 256 costs 4x more for the same boundaries)."""
    n, dim = vectors.shape
    k = max(1, min(k, n))
    if k == 1:
        mean = vectors.mean(axis=0, keepdims=True) if n else np.ones((1, dim), np.float32)
        return normalize(mean if np.any(mean) else np.ones((1, dim), np.float32))
    kmeans = faiss.Kmeans(
        dim,
        k,
        niter=niter,
        seed=seed,
        spherical=True,
        verbose=False,
        max_points_per_centroid=points_per_centroid,
        min_points_per_centroid=1,
    )
    sample = min(n, k * points_per_centroid)
    rows = np.sort(np.random.default_rng(seed).choice(n, size=sample, replace=False)) if sample < n else slice(None)
    kmeans.train(np.ascontiguousarray(vectors[rows], dtype=np.float32))
    return normalize(kmeans.centroids)


def fit_centroids(
    vectors: np.ndarray,
    priority: np.ndarray,
    *,
    threshold: float,
    max_probes: int = DEFAULT_MAX_PROBES,
    k: int | None = None,
    points_per_centroid: int = 64,
    on_progress: Progress = no_progress,
) -> np.ndarray:
    """Centroids for the duplicate search: k-means with `k` clusters, or (k None) with the cluster
    count whose search costs the fewest products. Each k-means is trained on the first
    `points_per_centroid * k` rows of `priority` (a pseudo-random order of the rows, so the
    sample does not depend on the order rows are stored in).

    Why choose k: where the data's topics are coarser than sqrt(N) clusters, boundaries cut
    through dense regions and probes fire for many clips, so fewer clusters cost less; where
    they are fine, more clusters cut the within-cluster blocks. The cost of a k is predicted
    from its own training sample (assigned with probes, the pair blocks counted and scaled to N)
    plus the k-means and assignment products. Candidates rise sqrt(N)/4, /2, /1 (past sqrt(N) the
    k-means grows as k^2 and outweighs what the blocks save) and stop once a k-means and
    assignment alone would cost more than the best so far; the best one's centroids are kept,
    so choosing costs at most the smaller candidates' training (1/16 + 1/4 of the largest).
    `on_progress("k-means", tried, candidates)` follows the candidates."""
    n = len(priority)
    candidates = [k] if k is not None else sorted({max(1, auto_clusters(n) // d) for d in (4, 2, 1)})
    on_progress("k-means", 0, len(candidates))
    best, best_cost = None, math.inf
    for tried, kk in enumerate(candidates):
        fixed = _kmeans_cells(kk, n, points_per_centroid, _NITER) + n * kk
        if best is not None and fixed >= best_cost:
            on_progress("k-means", len(candidates), len(candidates))  # the larger ones cost more still: skipped
            break
        sample = np.sort(priority[: min(n, kk * points_per_centroid)])
        rows = np.ascontiguousarray(vectors[sample], dtype=np.float32)
        centroids = train_centroids(rows, kk, points_per_centroid=points_per_centroid)
        if len(candidates) == 1:
            best = centroids
        else:
            assignment = assign(rows, centroids, threshold=threshold, max_probes=max_probes)
            cost = fixed + search_cells(assignment) * (n / len(sample)) ** 2
            if cost < best_cost:
                best, best_cost = centroids, cost
        on_progress("k-means", tried + 1, len(candidates))
    assert best is not None
    return best


def search_cells(assignment: Assignment) -> float:
    """Vector pairs the pair search scores for this assignment with every clip new
    (`pairs.plan_blocks`): within clusters, between neighbouring clusters, and for capped clips."""
    cluster = assignment.cluster.astype(np.int64)
    k = int(cluster.max(initial=0)) + 1
    sizes = np.bincount(cluster, minlength=k).astype(np.float64)
    cells = float((sizes * (sizes - 1) / 2).sum())
    clip, slot = np.nonzero(assignment.probes >= 0)
    own, other = cluster[clip], assignment.probes[clip, slot].astype(np.int64)
    lo, hi = np.minimum(own, other), np.maximum(own, other)
    keys, counts = np.unique((lo * k + hi) * 2 + (own == hi), return_counts=True)
    per_side = dict(zip(keys.tolist(), counts.tolist()))
    cells += sum(c * per_side.get(key + 1, 0) for key, c in per_side.items() if key % 2 == 0)
    visitors = np.bincount(other, minlength=k)
    capped = np.bincount(cluster[assignment.capped], minlength=k)
    return cells + float((capped * visitors).sum())


def _kmeans_cells(k: int, n: int, points_per_centroid: int, niter: int) -> float:
    """Vector pairs a k-means scores: every sampled row against every centroid, per iteration."""
    return float(min(n, k * points_per_centroid) * k * niter)


def assign(
    vectors: np.ndarray,
    centroids: np.ndarray,
    *,
    threshold: float,
    max_probes: int = DEFAULT_MAX_PROBES,
    on_progress: Progress = no_progress,
) -> Assignment:
    """Nearest centroid of each (unit) vector, and the clusters whose boundary lies within
    `pair_radius(threshold)` of it (see the module doc). `on_progress("assign", rows, n)` as chunks finish."""
    n, k = len(vectors), len(centroids)
    radius = pair_radius(threshold)
    gram = centroids @ centroids.T
    # |c_A - c_B| for unit centroids; 0 for coinciding centroids (then every clip of one may pair with the other).
    gaps = np.sqrt(np.maximum(2.0 - 2.0 * gram, 0.0)).astype(np.float32)
    cluster = np.empty(n, np.int32)
    probes = np.full((n, max_probes), -1, np.int32)
    capped = np.zeros(n, bool)

    def one_chunk(start: int) -> None:  # chunks write disjoint rows: safe on parallel threads
        sims = vectors[start : start + _CHUNK_ROWS] @ centroids.T  # (m, k)
        own = np.argmax(sims, axis=1)
        cluster[start : start + len(sims)] = own
        if k > 1 and max_probes > 0:
            chunk = slice(start, start + len(sims))
            probes[chunk], capped[chunk] = _near_boundaries(sims, own, gaps, radius, max_probes)

    done = 0
    on_progress("assign", done, n)

    def chunk_done(start: int) -> None:
        nonlocal done
        done += min(_CHUNK_ROWS, n - start)
        on_progress("assign", done, n)

    parallel_map(one_chunk, list(range(0, n, _CHUNK_ROWS)), on_done=chunk_done)
    return Assignment(cluster, probes, capped)


def parallel_map(fn: Callable[[T], R], items: list[T], *, on_done: Callable[[T], None] | None = None) -> list[R]:
    """fn over items on a thread per core with numpy's BLAS at one thread each (numpy releases
    the GIL in products), else serially with the BLAS's own threads. `on_done(item)` runs after
    each item, one call at a time (under a lock), so a progress count it keeps only rises."""
    workers = os.cpu_count() or 1
    lock = threading.Lock()

    def run(item: T) -> R:
        result = fn(item)
        if on_done is not None:
            with lock:
                on_done(item)
        return result

    with single_threaded_blas() as limited:
        if not limited or workers == 1 or len(items) < 2:
            return [run(item) for item in items]
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(run, items))


def _near_boundaries(
    sims: np.ndarray, own: np.ndarray, gaps: np.ndarray, radius: float, max_probes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the clusters whose boundary with `own` lies within `radius`, nearest first
    (-1 padded to max_probes), and whether more than max_probes did."""
    m, k = sims.shape
    rows = np.arange(m)
    own_sim = sims[rows, own]
    # distance (own_sim - sim) / gap <= radius, tested without dividing the whole (m, k) matrix:
    # on clustered data most rows are near no boundary, and only the near ones need their distances.
    near = sims >= own_sim[:, None] - radius * gaps[own]
    near[rows, own] = False
    count = near.sum(axis=1)
    capped = count > max_probes
    probes = np.full((m, max_probes), -1, np.int32)
    near[capped] = False
    r, c = np.nonzero(near)  # the rows within the cap: all their boundaries
    cut = np.nonzero(capped)[0]  # the rows over it: their max_probes nearest
    cut_dist = _distances(sims[cut], own_sim[cut], gaps[own[cut]])
    cut_dist[np.arange(len(cut)), own[cut]] = np.inf
    cut_c = np.argpartition(cut_dist, max_probes - 1, axis=1)[:, :max_probes]
    r = np.concatenate([r, np.repeat(cut, max_probes)])
    c = np.concatenate([c, cut_c.ravel()])
    dist = _distances(sims[r, c], own_sim[r], gaps[own[r], c])
    # Nearest boundaries first; ties by cluster index, so the same vector always gets the same probes.
    order = np.lexsort((c, dist, r))
    r, c = r[order], c[order]
    starts = np.searchsorted(r, r)
    probes[r, np.arange(len(r)) - starts] = c
    return probes, capped


def _distances(sims: np.ndarray, own_sim: np.ndarray, gaps: np.ndarray) -> np.ndarray:
    """Distance to the bisecting hyperplane, (own_sim - sim) / |c_own - c|; 0 for coinciding centroids."""
    own_sim = own_sim[:, None] if sims.ndim == 2 else own_sim
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(gaps > 0, (own_sim - sims) / gaps, 0.0)


@contextmanager
def single_threaded_blas() -> Iterator[bool]:
    """The BLAS libraries of this process (numpy's OpenBLAS, faiss's) at one thread for the duration
    (True), or nothing to limit (False). Small products pay a multi-threaded BLAS's fork/join each:
    5-10x slower on a loaded 2-core VM (measured). threadpoolctl finds and restores them on every
    platform, where reading /proc/self/maps by hand worked on Linux only."""
    with threadpool_limits(limits=1, user_api="blas") as limiter:
        yield bool(limiter.get_original_num_threads())
