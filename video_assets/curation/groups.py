"""Duplicate groups as connected components of the pair graph, and the one clip each group keeps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from video_assets.curation.pairs import rescore


def components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Component label of each of `n` nodes given edges (i, j): the smallest node index in it.

    Min-label propagation with pointer jumping, vectorised (scipy is not a dependency):
    converges in a few passes on duplicate groups, which are small and shallow.
    """
    labels = np.arange(n, dtype=np.int64)
    if len(i) == 0:
        return labels
    while True:
        low = np.minimum(labels[i], labels[j])
        before = labels.copy()
        np.minimum.at(labels, i, low)
        np.minimum.at(labels, j, low)
        np.minimum.at(labels, before[i], low)  # hook the old roots too: whole subtrees move at once
        np.minimum.at(labels, before[j], low)
        while True:  # pointer jumping: every node points at its label's label
            jumped = labels[labels]
            if np.array_equal(jumped, labels):
                break
            labels = jumped
        if np.array_equal(labels, before):
            return labels


@dataclass(frozen=True)
class KeepKeys:
    """What the keep rule reads per clip: longest clip, then most pixels, then earliest registered source, then id."""

    duration_s: np.ndarray  # (N,) float
    pixels: np.ndarray  # (N,) int64, 0 when unknown
    registered_at: np.ndarray  # (N,) float, +inf when unknown
    clip_id: np.ndarray  # (N,) str (object)


@dataclass(frozen=True)
class Groups:
    """Per clip: its group's kept clip (row index; -1 for clips in no group), group size, cosine to the kept clip."""

    kept_row: np.ndarray  # (N,) int64
    size: np.ndarray  # (N,) int64, 1 for clips in no group
    sim_to_kept: np.ndarray  # (N,) float64, NaN for clips in no group

    @property
    def in_group(self) -> np.ndarray:
        return self.kept_row >= 0

    @property
    def keep(self) -> np.ndarray:
        """True for clips in no group and for each group's kept clip."""
        return ~self.in_group | (self.kept_row == np.arange(len(self.kept_row)))


def build_groups(vectors: np.ndarray, i: np.ndarray, j: np.ndarray, keys: KeepKeys) -> Groups:
    """Connected components of the pairs, the kept clip of each by the keep rule, and each clip's cosine to it."""
    n = len(vectors)
    labels = components(n, i, j)
    sizes = np.bincount(labels, minlength=n)
    size = sizes[labels]
    kept_row = np.full(n, -1, np.int64)
    sim = np.full(n, np.nan)
    grouped = np.nonzero(size > 1)[0]
    if len(grouped):
        # One sort puts each group's best clip first: group, then the keep rule's keys in order.
        order = np.lexsort(
            (
                keys.clip_id[grouped].astype(str),
                keys.registered_at[grouped],
                -keys.pixels[grouped],
                -keys.duration_s[grouped],
                labels[grouped],
            )
        )
        rows = grouped[order]
        first = np.concatenate([[True], labels[rows][1:] != labels[rows][:-1]])
        best_of_label = dict(zip(labels[rows][first].tolist(), rows[first].tolist()))
        kept_row[grouped] = [best_of_label[lab] for lab in labels[grouped].tolist()]
        sim[grouped] = rescore(vectors, grouped, kept_row[grouped])
        sim[rows[first]] = 1.0  # the kept clip itself, not its float32 self-product
    return Groups(kept_row, size, sim)
