"""All pairs of clips with cosine >= threshold that involve a new clip, cluster by cluster.

Clips `a` (cluster A) and `b` (cluster B) are compared when A == B, or when b probes A
and `a` probes some cluster, or the other way round (`clustering.assign`): a true pair
across a boundary has both clips within the pair radius of it, so each probes the
other's cluster. Per cluster A that is three matrix products: A's new members against
all its members; A's new members that probe anything against the clips that probe A;
and the new clips that probe A against A's old members that probe anything. With
every clip new it is the full search; with only the clips of new videos new it is
the incremental one, and both compare the same pairs. Candidates from the float32
products are re-scored in float64, so a pair's score and whether it clears the
threshold never depend on which block found it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from video_assets.curation.clustering import Assignment

_BLOCK_CELLS = 1 << 24  # rows x cols per product: 64 MB of float32
_CANDIDATE_SLACK = 1e-4  # float32 products may sit this far below the float64 score
_RESCORE_ROWS = 65_536


@dataclass(frozen=True)
class Pairs:
    """Pairs (i < j, row indices into the vectors) and their exact cosine, sorted by (i, j)."""

    i: np.ndarray  # (P,) int64
    j: np.ndarray  # (P,) int64
    sim: np.ndarray  # (P,) float64

    @staticmethod
    def empty() -> Pairs:
        return Pairs(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64))

    def __len__(self) -> int:
        return len(self.i)


@dataclass(frozen=True)
class SearchStats:
    comparisons: int  # vector pairs scored by the matrix products
    candidates: int  # pairs re-scored exactly


def find_pairs(
    vectors: np.ndarray, assignment: Assignment, is_new: np.ndarray, threshold: float
) -> tuple[Pairs, SearchStats]:
    """Pairs with cosine >= `threshold` among unit `vectors` with at least one clip where `is_new`."""
    n = len(vectors)
    members = _groups(assignment.cluster.astype(np.int64), np.arange(n))
    probing = assignment.probes >= 0
    has_probe = probing.any(axis=1)
    point = np.nonzero(probing)[0]
    visitors_of = _groups(assignment.probes[probing].astype(np.int64), point.astype(np.int64))
    found_i: list[np.ndarray] = []
    found_j: list[np.ndarray] = []
    comparisons = 0
    for c in np.union1d(np.fromiter(members, np.int64), np.fromiter(visitors_of, np.int64)):
        own = members.get(int(c), _NONE)
        visitors = visitors_of.get(int(c), _NONE)
        edge = own[has_probe[own]]  # members near some boundary: the only ones a visitor can pair with
        comparisons += _block(vectors, own[is_new[own]], own, threshold, found_i, found_j)
        comparisons += _block(vectors, edge[is_new[edge]], visitors, threshold, found_i, found_j)
        comparisons += _block(vectors, visitors[is_new[visitors]], edge[~is_new[edge]], threshold, found_i, found_j)
    if not found_i:
        return Pairs.empty(), SearchStats(comparisons, 0)
    i, j = np.concatenate(found_i), np.concatenate(found_j)
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    keys = np.unique(lo[lo != hi] * n + hi[lo != hi])
    i, j = keys // n, keys % n
    sim = rescore(vectors, i, j)
    keep = sim >= threshold
    return Pairs(i[keep], j[keep], sim[keep]), SearchStats(comparisons, len(keys))


def rescore(vectors: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Exact cosine (float64) of the unit row pairs (i, j)."""
    out = np.empty(len(i), np.float64)
    for s in range(0, len(i), _RESCORE_ROWS):
        a = vectors[i[s : s + _RESCORE_ROWS]].astype(np.float64)
        b = vectors[j[s : s + _RESCORE_ROWS]].astype(np.float64)
        out[s : s + _RESCORE_ROWS] = np.einsum("nd,nd->n", a, b)
    return out


_NONE = np.empty(0, np.int64)


def _groups(keys: np.ndarray, values: np.ndarray) -> dict[int, np.ndarray]:
    """{key: values with that key, in ascending order}."""
    order = np.lexsort((values, keys))
    keys, values = keys[order], values[order]
    bounds = np.flatnonzero(np.diff(keys)) + 1
    starts = np.concatenate([[0], bounds])
    return {int(keys[s]): chunk for s, chunk in zip(starts, np.split(values, bounds))} if len(keys) else {}


def _block(
    vectors: np.ndarray, rows: np.ndarray, cols: np.ndarray, threshold: float,
    found_i: list[np.ndarray], found_j: list[np.ndarray],
) -> int:  # fmt: skip
    """Score rows x cols in pieces of at most _BLOCK_CELLS; collect the candidates. Returns cells scored."""
    if len(rows) == 0 or len(cols) == 0:
        return 0
    right = vectors[cols].T  # (dim, cols), gathered once per block
    step = max(1, _BLOCK_CELLS // len(cols))
    for s in range(0, len(rows), step):
        part = rows[s : s + step]
        sims = vectors[part] @ right
        # Candidates are rare: one max per row skips the rows without any (cheaper than thresholding every cell).
        hit = np.nonzero(sims.max(axis=1) >= threshold - _CANDIDATE_SLACK)[0]
        if len(hit):
            r, c = np.nonzero(sims[hit] >= threshold - _CANDIDATE_SLACK)
            found_i.append(part[hit[r]])
            found_j.append(cols[c])
    return len(rows) * len(cols)
