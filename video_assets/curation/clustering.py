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
from dataclasses import dataclass

import faiss
import numpy as np

DEFAULT_MAX_PROBES = 8
MAX_CLUSTERS = 4096
_CHUNK_ROWS = 8192
# Slack on the radius: float32 dot products of unit vectors err by ~1e-6; never prune a true pair for it.
_RADIUS_SLACK = 1e-4


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
    kmeans = faiss.Kmeans(dim, k, niter=niter, seed=seed, spherical=True, verbose=False,
                          max_points_per_centroid=points_per_centroid, min_points_per_centroid=1)  # fmt: skip
    sample = min(n, k * points_per_centroid)
    rows = np.sort(np.random.default_rng(seed).choice(n, size=sample, replace=False)) if sample < n else slice(None)
    kmeans.train(np.ascontiguousarray(vectors[rows], dtype=np.float32))
    return normalize(kmeans.centroids)


def assign(
    vectors: np.ndarray, centroids: np.ndarray, *, threshold: float, max_probes: int = DEFAULT_MAX_PROBES
) -> Assignment:
    """Nearest centroid of each (unit) vector, and the clusters whose boundary lies within
    `pair_radius(threshold)` of it (see the module doc)."""
    n, k = len(vectors), len(centroids)
    radius = pair_radius(threshold)
    gram = centroids @ centroids.T
    # |c_A - c_B| for unit centroids; 0 for coinciding centroids (then every clip of one may pair with the other).
    gaps = np.sqrt(np.maximum(2.0 - 2.0 * gram, 0.0)).astype(np.float32)
    cluster = np.empty(n, np.int32)
    probes = np.full((n, max_probes), -1, np.int32)
    capped = np.zeros(n, bool)
    for start in range(0, n, _CHUNK_ROWS):
        x = vectors[start : start + _CHUNK_ROWS]
        sims = x @ centroids.T  # (m, k)
        own = np.argmax(sims, axis=1)
        rows = np.arange(len(x))
        gap = gaps[own]  # (m, k)
        with np.errstate(divide="ignore", invalid="ignore"):
            dist = (sims[rows, own][:, None] - sims) / gap
        dist = np.where(gap > 0, dist, 0.0)
        dist[rows, own] = np.inf
        cluster[start : start + len(x)] = own
        if k == 1 or max_probes == 0:
            continue
        within = dist <= radius
        count = within.sum(axis=1)
        capped[start : start + len(x)] = count > max_probes
        take = min(max_probes, k - 1)
        # Nearest boundaries first; ties by cluster index, so the same vector always gets the same probes.
        nearest = np.argpartition(dist, take - 1, axis=1)[:, :take] if take < k else np.argsort(dist, axis=1)[:, :take]
        key = dist[rows[:, None], nearest]
        order = np.lexsort((nearest, key), axis=1)
        nearest = np.take_along_axis(nearest, order, axis=1)
        key = np.take_along_axis(key, order, axis=1)
        probes[start : start + len(x), :take] = np.where(key <= radius, nearest, -1)
    return Assignment(cluster, probes, capped)
