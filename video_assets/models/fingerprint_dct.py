"""The DCT pieces of the perceptual fingerprint: bases, windows, coefficient pooling.

A global DCT (as in PDQ) is robust to re-encoding, resizing and brightness, but
its basis is anchored at the frame edges, so a crop of a few percent per side
rescales and shifts every coefficient. We therefore take the same low-frequency
DCT inside a few fixed sub-windows of the frame (full frame, two centred
zooms, four corner-anchored ones) and average them: a cropped copy's full
frame then lines up with one of the original's windows. All bases are built
from closed-form cosines; nothing here is learned or random.
"""

from __future__ import annotations

import math

import torch

# Square sub-windows of the work image as (size, top, left) in pixels of a
# 64 x 64 work image: the full frame, centred 7/8 and 13/16 zooms (crops of
# ~6-10 % per side), and the four 7/8 windows anchored at each corner
# (one-sided crops). Integer pixels so every window is an exact pixel block.
WORK_SIZE = 64
WINDOWS: tuple[tuple[int, int, int], ...] = (
    (64, 0, 0),
    (56, 4, 4),
    (52, 6, 6),
    (56, 0, 0),
    (56, 0, 8),
    (56, 8, 0),
    (56, 8, 8),
)


def dct2_matrix(n: int, k: int) -> torch.Tensor:
    """The first k rows of the orthonormal DCT-II matrix of size n: (k, n), float64.

    Row u is sqrt(2/n) cos(pi u (x + 1/2) / n), with row 0 scaled by 1/sqrt(2), so
    ``M @ x`` gives the DCT-II coefficients of x and M M^T = I when k = n.
    """
    if not 0 < k <= n:
        raise ValueError(f"need 0 < k <= n, got k={k}, n={n}")
    u = torch.arange(k, dtype=torch.float64)[:, None]
    x = torch.arange(n, dtype=torch.float64)[None, :]
    m = torch.cos(math.pi * u * (x + 0.5) / n) * math.sqrt(2.0 / n)
    m[0] /= math.sqrt(2.0)
    return m


def window_bases(n: int, k: int, windows: tuple[tuple[int, int, int], ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Row (y) and column (x) bases of a k x k DCT inside each window: two (W, k, n) float32.

    Each basis is a DCT-II over the window's pixels, zero outside it, divided by
    sqrt(window size) per axis: coefficients are then in luma units whatever the
    window's size, and the AC norm reads as the window's low-pass RMS contrast.
    """
    ys, xs = [], []
    for size, top, left in windows:
        if size <= 0 or top < 0 or left < 0 or top + size > n or left + size > n:
            raise ValueError(f"window {(size, top, left)} does not fit in {n} x {n}")
        block = dct2_matrix(size, k) / math.sqrt(size)
        by = torch.zeros(k, n, dtype=torch.float64)
        bx = torch.zeros(k, n, dtype=torch.float64)
        by[:, top : top + size] = block
        bx[:, left : left + size] = block
        ys.append(by)
        xs.append(bx)
    return torch.stack(ys).float(), torch.stack(xs).float()


def windowed_ac(frames: torch.Tensor, by: torch.Tensor, bx: torch.Tensor) -> torch.Tensor:
    """Low-frequency AC coefficients of each frame in each window.

    frames (B, T, n, n) luma; by, bx (W, k, n) -> (B, T, W, k*k - 1): the k x k block
    of each window's 2-D DCT in row-major order with the DC term dropped, so a global
    brightness offset (which only moves DC) leaves them unchanged.
    """
    coeffs = torch.einsum("wun,btnm,wvm->btwuv", by, frames, bx)  # (B, T, W, k, k)
    flat = coeffs.flatten(-2)  # (B, T, W, k*k)
    return flat[..., 1:]


def frequency_weights(k: int, exponent: float) -> torch.Tensor:
    """|frequency|^exponent for the k*k - 1 AC coefficients of a k x k block (row-major,
    DC dropped): (k*k - 1,) float32.

    Natural images have a 1/f amplitude spectrum, so without weights the few lowest
    frequencies carry most of a window's norm, and unrelated clips agree wherever
    their lowest frequencies happen to (a sky, a gradient). The weights spread the
    norm over more coefficients, which are more nearly independent across content.
    """
    index = torch.arange(1, k * k)
    v, u = (index // k).double(), (index % k).double()
    return torch.hypot(v, u).pow(exponent).float()


def signed_sqrt(x: torch.Tensor) -> torch.Tensor:
    """sign(x) * sqrt(|x|): power normalisation, so a few strong coefficients do not
    decide the cosine on their own (the soft version of PDQ's median threshold)."""
    return torch.sign(x) * torch.sqrt(torch.abs(x))


def temporal_legendre(per_frame: torch.Tensor, weights: tuple[float, ...]) -> torch.Tensor:
    """Mean, linear trend (and curvature) over time: per_frame (B, T, D) -> (B, M, D),
    M = len(weights) <= 3.

    The orthonormal Legendre polynomials P0, P1, P2 over t' = 2 (t + 1/2) / T - 1,
    scaled by ``weights``. Unlike Fourier moments (TMK), they do not wrap around: a
    copy whose clip starts a few seconds later or runs 25 % faster sees the same mean
    and a trend pointing the same way, only of another size.
    """
    if not 1 <= len(weights) <= 3:
        raise ValueError(f"1 to 3 temporal weights, got {weights}")
    t = per_frame.shape[1]
    x = 2.0 * (torch.arange(t, dtype=per_frame.dtype) + 0.5) / t - 1.0
    polys = torch.stack([torch.ones(t), math.sqrt(3.0) * x, math.sqrt(5.0) * (1.5 * x**2 - 0.5)])[: len(weights)]
    scaled = polys * torch.tensor(weights, dtype=per_frame.dtype)[:, None]
    return torch.einsum("mt,btd->bmd", scaled.to(per_frame.dtype), per_frame) / t
