"""Area resampling of small luma clips, as torch's adaptive average pooling does it.

Each output pixel is the mean of the input pixels its window covers, the windows of
``F.interpolate(mode="area")`` (``floor(i n / m)`` to ``ceil((i + 1) n / m)``). A window
spans at most ``ceil(n / m) + 1`` inputs, so one axis is a few
gathered columns times their weights: O(taps) passes over the clip instead of a dense
(n, m) matrix product (0.5 ms for 8 frames of 160 -> 128 columns on one core) or
torch's pooling kernel (slower still on frames this small).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=512)
def area_taps(n_in: int, n_out: int) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """(index, weight) per tap for resampling an axis of n_in pixels to n_out: output i
    is the sum over taps of input[index[i]] * weight[i]; padded taps weigh 0. Growing
    an axis (a small box to the work size) gives windows of 1-2 pixels, as torch's."""
    if n_in <= 0 or n_out <= 0:
        raise ValueError(f"area taps need positive sizes, got {n_in} -> {n_out}")
    i = np.arange(n_out)
    start, stop = (i * n_in) // n_out, -(-(i + 1) * n_in // n_out)
    inverse = (1.0 / (stop - start)).astype(np.float32)
    return tuple(
        (np.minimum(start + k, n_in - 1), np.where(start + k < stop, inverse, np.float32(0.0)))
        for k in range(int((stop - start).max()))
    )


def area_axis(x: np.ndarray, axis: int, n_out: int) -> np.ndarray:
    """Resample one axis of a float32 array to n_out pixels by area averaging."""
    if x.shape[axis] == n_out:
        return x
    shape = [1] * x.ndim
    shape[axis] = n_out
    out = None
    for index, weight in area_taps(x.shape[axis], n_out):
        term = np.take(x, index, axis=axis) * weight.reshape(shape)
        out = term if out is None else np.add(out, term, out=out)
    return out


def area(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(..., H, W) float32 -> (..., size[0], size[1]) by area averaging."""
    return area_axis(area_axis(x, -1, size[1]), -2, size[0])
