"""Find the active picture of a clip: cut away letterbox bars and picture-in-picture frames.

Re-uploads often shrink the video and place it on a plain or blurred background
(picture-in-picture), or pad it with bars. Whatever the background, it holds little
fine detail: it is flat, or blurred so much that its Laplacian nearly vanishes, while
the picture keeps its edges. So we average |Laplacian| over the clip's frames, project
it on rows and columns, and trim from each side the rows / columns whose detail stays
below a fifth of the clip's typical level. Trimming only walks inwards from the frame
edges, so a flat area inside the picture never splits it, and the same content gives
the same box whether it fills the frame or sits in an inset. The rules are symmetric
left / right, so a mirrored clip gets the mirrored box.
"""

from __future__ import annotations

import numpy as np
import torch

# A side is trimmed where its detail is below BORDER_RATIO of the REFERENCE_QUANTILE
# of the profile: the 75th percentile is picture even when the picture covers only
# half the frame, and a blurred background keeps under a tenth of its detail.
BORDER_RATIO = 0.2
REFERENCE_QUANTILE = 0.75
# A box under 40 % of the frame on either axis is not trusted (a clip mostly flat, a
# small bright logo): the whole frame is described instead.
MIN_KEEP = 0.4
# Trims of 1-2 pixels of the detection grid are noise, not borders.
MIN_TRIM = 3
# Picture is a run of at least this many detailed rows / columns: a blurred background
# upscaled from a small copy keeps faint ridges on its coarse sampling grid (and codecs
# add block edges), isolated lines that must not stop the trim.
MIN_RUN = 5
# An inset's edge is a straight step across the whole picture: a row / column of at
# least EDGE_RATIO x the typical detail. When everything beyond the outermost such line
# averages under QUIET_RATIO of it, that is a background the ratio test kept (a
# re-encoded blurred background: codec noise at 0.2-0.4 of a soft picture's detail)
# and the box ends at the edge. Content edges are shorter (a shape's) or have texture
# beyond them, so over the generated corpus this moves only the boxes it should.
EDGE_RATIO = 3.0
QUIET_RATIO = 0.35


def detail_map(luma: np.ndarray) -> np.ndarray:
    """Mean |Laplacian| over time: (T, H, W) float32 -> (H, W). Replicate padding (each
    edge pixel its own outside neighbour), so the frame edge itself is no detail."""
    lap = 4.0 * luma
    lap[:, 1:] -= luma[:, :-1]
    lap[:, :-1] -= luma[:, 1:]
    lap[:, :, 1:] -= luma[:, :, :-1]
    lap[:, :, :-1] -= luma[:, :, 1:]
    lap[:, 0] -= luma[:, 0]
    lap[:, -1] -= luma[:, -1]
    lap[:, :, 0] -= luma[:, :, 0]
    lap[:, :, -1] -= luma[:, :, -1]
    return np.abs(lap, out=lap).mean(axis=0)


def _quantile(values: np.ndarray, q: float) -> float:
    """np.quantile's default (linear) estimate through a partial sort: ~10x cheaper on
    the <= 128 values of a profile."""
    position = q * (values.size - 1)
    low = int(position)
    high = min(low + 1, values.size - 1)
    part = np.partition(values, (low, high))
    return float(part[low] + (part[high] - part[low]) * (position - low))


def _active_span(values: np.ndarray) -> tuple[int, int]:
    """[start, stop) of the profile once the low-detail ends are trimmed; the whole
    range when there is nothing to trim or what is left would be too small."""
    n = values.size
    reference = _quantile(values, REFERENCE_QUANTILE)
    if reference <= 0.0:
        return 0, n
    detailed = (values >= BORDER_RATIO * reference).astype(np.int32)
    # Morphological opening: erase runs shorter than MIN_RUN (also where they touch the
    # frame edge: outside counts as background), keep the ends of longer ones.
    run = np.ones(MIN_RUN, np.int32)
    eroded = (np.convolve(detailed, run, mode="same") == MIN_RUN).astype(np.int32)
    active = np.flatnonzero(np.convolve(eroded, run, mode="same") > 0)
    if active.size == 0:
        return 0, n
    start, stop = int(active[0]), int(active[-1]) + 1
    # The step from background to picture lights the Laplacian on both sides of the
    # boundary; one pixel in from a trimmed side is the picture's first clean row.
    start = start + 1 if start >= MIN_TRIM else 0
    stop = stop - 1 if n - stop >= MIN_TRIM else n
    if stop - start < MIN_KEEP * n:
        return 0, n
    return _snap_to_edges(values, start, stop, reference)


def _snap_to_edges(values: np.ndarray, start: int, stop: int, reference: float) -> tuple[int, int]:
    """[start, stop) trimmed further to the outermost strong edge on each side when
    what lies beyond it is quiet (module constants EDGE_RATIO, QUIET_RATIO)."""
    strong = np.flatnonzero(values[start:stop] >= EDGE_RATIO * reference) + start
    if strong.size == 0:
        return start, stop
    keep = MIN_KEEP * values.size
    last, first = int(strong[-1]), int(strong[0])
    # The step lights the Laplacian on both of its sides: skip one row beyond it.
    tail = values[last + 2 : stop]
    if tail.size >= MIN_TRIM and last - start >= keep and tail.mean() < QUIET_RATIO * reference:
        stop = last
    head = values[start : max(first - 1, start)]
    if head.size >= MIN_TRIM and stop - first - 1 >= keep and head.mean() < QUIET_RATIO * reference:
        start = first + 1
    return start, stop


def active_box(luma: np.ndarray | torch.Tensor) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the active picture, bottom/right exclusive, in
    pixels of the (T, H, W) luma clip it was found on. numpy throughout: on a <= 128 x
    128 grid torch's per-call overhead cost more than the arithmetic."""
    detail = detail_map(np.asarray(luma, dtype=np.float32))  # (H, W)
    top, bottom = _active_span(detail.mean(axis=1))
    # Columns measured only over the picture's rows (and then rows over its columns):
    # the background above and below an inset would otherwise dilute its columns.
    left, right = _active_span(detail[top:bottom].mean(axis=0))
    top, bottom = _active_span(detail[:, left:right].mean(axis=1))
    return top, bottom, left, right
