"""All pairs of clips with cosine >= threshold that involve a new clip, cluster by cluster.

Clips `a` (cluster A) and `b` (cluster B != A) can only be a pair when both lie within
the pair radius of the A|B boundary (`clustering` module doc), i.e. `a` probes B and
`b` probes A. So the work is one block per cluster (its members against each other,
the upper triangle only: a symmetric product costs half) plus one block per pair of
neighbouring clusters (A's clips probing B against B's clips probing A). A clip whose
probes were capped may miss a boundary within the radius: it is compared with every
clip that probes its cluster instead (as many pairs as before the cap cut anything).
With every clip new it is the full search; with only the clips of new videos new, each
block keeps the rows and columns where one side is new, so both compare the same pairs.
Candidates from the float32 products are re-scored in float64, so a pair's score and
whether it clears the threshold never depend on which block found it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from video_assets.curation.clustering import Assignment, parallel_map
from video_assets.curation.progress import Progress, no_progress

_BLOCK_CELLS = 1 << 23  # rows x cols per product and worker: 32 MB of float32
_TASK_CELLS = 1 << 20  # cells per thread task, at least
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


@dataclass(frozen=True)
class Block:
    """Rows x cols to score; `triangle`: rows == cols and only i < j is wanted."""

    rows: np.ndarray  # int64 row indices into the vectors
    cols: np.ndarray
    triangle: bool = False

    @property
    def cells(self) -> int:
        m = len(self.rows)
        return m * (m - 1) // 2 if self.triangle else m * len(self.cols)


def find_pairs(
    vectors: np.ndarray,
    assignment: Assignment,
    is_new: np.ndarray,
    threshold: float,
    *,
    on_progress: Progress = no_progress,
) -> tuple[Pairs, SearchStats]:
    """Pairs with cosine >= `threshold` among unit `vectors` with at least one clip where `is_new`.
    `on_progress("compare", pairs scored, pairs to score)` as the blocks finish."""
    n = len(vectors)
    is_new = np.asarray(is_new, bool)
    blocks = [b for b in plan_blocks(assignment, is_new) if len(b.rows) and len(b.cols) and b.cells]
    cut = threshold - _CANDIDATE_SLACK
    found = _score_blocks(vectors, blocks, cut, on_progress)
    comparisons = sum(b.cells for b in blocks)
    if not found:
        return Pairs.empty(), SearchStats(comparisons, 0)
    i, j = np.concatenate([f[0] for f in found]), np.concatenate([f[1] for f in found])
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    keys = np.unique(lo[lo != hi] * n + hi[lo != hi])
    i, j = keys // n, keys % n
    sim = rescore(vectors, i, j)
    keep = sim >= threshold
    return Pairs(i[keep], j[keep], sim[keep]), SearchStats(comparisons, len(keys))


def plan_blocks(assignment: Assignment, is_new: np.ndarray) -> Iterator[Block]:
    """The products that cover every possible pair with a new clip (module doc)."""
    n = len(assignment.cluster)
    cluster = assignment.cluster.astype(np.int64)
    for members in _groups(cluster, np.arange(n, dtype=np.int64)).values():
        new = members[is_new[members]]
        if len(new) == len(members):
            yield Block(members, members, triangle=True)
        else:  # only the new rows; a pair of two new clips is found twice and deduplicated
            yield Block(new, members)
    probing = assignment.probes >= 0
    clip, slot = np.nonzero(probing)
    own, other = cluster[clip], assignment.probes[clip, slot].astype(np.int64)
    # One block per unordered cluster pair {A, B}: A's clips probing B against B's clips probing A.
    lo, hi = np.minimum(own, other), np.maximum(own, other)
    k = int(cluster.max(initial=0)) + 1
    pair_key = lo * k + hi
    sides = _groups(pair_key * 2 + (own == hi), clip)
    for key in np.unique(pair_key):
        yield from _new_only(sides.get(int(key) * 2, _NONE), sides.get(int(key) * 2 + 1, _NONE), is_new)
    # Capped clips may lack a boundary within the radius: they meet every clip probing their cluster.
    capped = np.nonzero(assignment.capped)[0]
    if len(capped):
        visitors_of = _groups(other, clip)
        for c, rows in _groups(cluster[capped], capped).items():
            yield from _new_only(rows, visitors_of.get(c, _NONE), is_new)


def _new_only(rows: np.ndarray, cols: np.ndarray, is_new: np.ndarray) -> Iterator[Block]:
    """rows x cols restricted to the cells with a new clip: new rows x all cols, old rows x new cols."""
    fresh = is_new[rows]
    if fresh.all():
        yield Block(rows, cols)
        return
    yield Block(rows[fresh], cols)
    yield Block(rows[~fresh], cols[is_new[cols]])


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


def _score_blocks(
    vectors: np.ndarray, blocks: list[Block], cut: float, on_progress: Progress = no_progress
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Candidates (i, j) with float32 cosine >= cut from every block. Blocks run on a thread per
    core with single-threaded BLAS where the BLAS allows it: most blocks are small, and a
    multi-threaded BLAS pays a fork/join per product (measured 5-10x slower on a loaded 2-core VM).
    Progress counts cells (vector pairs), the measure of the work, not blocks (a few rows to millions)."""
    blocks = sorted(blocks, key=lambda b: -b.cells)  # big ones first: the threads finish together
    total, done = sum(b.cells for b in blocks), 0
    on_progress("compare", done, total)

    def batch_done(batch: list[Block]) -> None:
        nonlocal done
        done += sum(b.cells for b in batch)
        on_progress("compare", done, total)

    found = parallel_map(lambda batch: [_score(vectors, b, cut) for b in batch], _batches(blocks), on_done=batch_done)
    return [f for batch in found for f in batch if len(f[0])]


def _batches(blocks: list[Block]) -> list[list[Block]]:
    """Blocks grouped into tasks of at least _TASK_CELLS cells: neighbouring-cluster blocks are
    often a few rows each (tens of thousands at 100k clips), and a task per block cost more in
    thread hand-offs than the products themselves (measured ~90 us per block)."""
    batches: list[list[Block]] = []
    cells = _TASK_CELLS
    for block in blocks:
        if cells >= _TASK_CELLS:
            batches.append([])
            cells = 0
        batches[-1].append(block)
        cells += block.cells
    return batches


def _score(vectors: np.ndarray, block: Block, cut: float) -> tuple[np.ndarray, np.ndarray]:
    """Score one block in pieces of at most _BLOCK_CELLS; return its candidates."""
    if not block.triangle and len(block.rows) * len(block.cols) <= _BLOCK_CELLS:  # one product (most blocks)
        r, c = np.nonzero(vectors[block.rows] @ vectors[block.cols].T >= cut)
        return block.rows[r], block.cols[c]
    left = vectors[block.rows]
    right = left if block.triangle else vectors[block.cols]
    step = max(1, _BLOCK_CELLS // max(1, len(block.cols)))
    found_i, found_j = [], []
    for s in range(0, len(block.rows), step):
        if block.triangle:  # rows s.. against cols s..: the upper triangle and its diagonal band
            sims = left @ left.T if s == 0 and step >= len(left) else left[s : s + step] @ right[s:].T
            r, c = np.nonzero(sims >= cut)
            upper = c > r
            found_i.append(block.rows[s + r[upper]])
            found_j.append(block.cols[s + c[upper]])
            continue
        sims = left[s : s + step] @ right.T
        r, c = np.nonzero(sims >= cut)
        found_i.append(block.rows[s + r])
        found_j.append(block.cols[c])
    if not found_i:
        return _NONE, _NONE
    return np.concatenate(found_i), np.concatenate(found_j)
