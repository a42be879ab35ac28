"""The local half of the fingerprint: a coarse grid of the picture, blind to static overlays.

The windowed DCT (`fingerprint_dct`) describes the whole picture, so an opaque caption
bar over 8 % of the frame moves every coefficient. This part is local instead: the
frame area-averaged to an 8 x 8 grid, normalised by its median and median absolute
deviation (brightness, contrast; robust to a bright box), so an overlay spoils only the
cells it covers. Before that, pixels that do not change at all over the clip's frames
(an overlay, a logo, a burnt-in caption) are replaced by the frame's mean of the
moving ones, unless they cover more than 30 % of the frame (a still shot is described
as it is). Mirror invariance as in `fingerprint_mirror`, on cells: mirror-paired
columns give a symmetric part L + R (unchanged by the mirror) and an antisymmetric part
L - R (negated by it), kept as products of neighbours; each block is centred per frame
so that the products of smooth images (positive on average) add no common direction.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from video_assets.models.fingerprint_dct import signed_sqrt, temporal_legendre

GRID = 8
# A pixel is static when its luma (in [0, 1]) varies by less than one grey level
# (std over the clip's frames, max over its 3 x 3 neighbourhood) ...
STATIC_STD = 1.0 / 255.0
# ... and static pixels are only masked while they cover at most this share of the frame.
STATIC_MAX_SHARE = 0.3
# Antisymmetric products weigh a little less than the symmetric cells.
PRODUCT_WEIGHT = 0.7
# Vertical neighbour products kept for the first 6 of 7 row pairs: 32 + 24 + 24 = 80
# per frame, 3 x 80 = 240, so the whole fingerprint stays a multiple of 16.
VERTICAL_ROWS = 6
PER_FRAME_DIM = GRID * GRID // 2 + GRID * (GRID // 2 - 1) + VERTICAL_ROWS * GRID // 2  # 80


def mask_static(frames: torch.Tensor) -> torch.Tensor:
    """(B, T, n, n) luma -> the same with static pixels replaced by the mean of the moving ones."""
    # (std over time, spelled out: torch's std over a middle axis is ~20x slower here)
    std = (frames - frames.mean(dim=1, keepdim=True)).square().sum(dim=1).div(frames.shape[1] - 1).sqrt()  # (B, n, n)
    std = F.max_pool2d(std[:, None], 3, 1, 1)[:, 0]  # moving if any neighbour moves
    static = std < STATIC_STD
    static &= (static.flatten(1).float().mean(1) <= STATIC_MAX_SHARE)[:, None, None]
    keep = (~static)[:, None].to(frames.dtype)  # (B, 1, n, n)
    mean = (frames * keep).sum((2, 3), keepdim=True) / keep.sum((2, 3), keepdim=True).clamp(min=1.0)
    return torch.where(static[:, None], mean, frames)


def _centre(x: torch.Tensor) -> torch.Tensor:
    return x - x.mean(dim=-1, keepdim=True)


def grid_descriptor(frames: torch.Tensor, temporal_weights: tuple[float, float, float]) -> torch.Tensor:
    """(B, T, n, n) luma -> (B, 3 * 80) unit vectors, mirror-invariant."""
    b, t, n, _ = frames.shape
    cells = F.adaptive_avg_pool2d(mask_static(frames).reshape(b * t, 1, n, n), GRID).reshape(b, t, -1)
    centred = cells - cells.median(dim=-1, keepdim=True).values
    spread = centred.abs().median(dim=-1, keepdim=True).values.clamp(min=1e-3)  # flat: all cells 0
    grid = (centred / spread).reshape(b, t, GRID, GRID)
    half = GRID // 2
    left, right = grid[..., :half], grid[..., half:].flip(-1)  # right flipped: column c pairs with GRID-1-c
    sym = (left + right).flatten(2)  # (B, T, 32)
    anti = left - right  # (B, T, 8, 4)
    across = (anti[..., :, :-1] * anti[..., :, 1:]).flatten(2)  # (B, T, 24)
    down = (anti[..., :-1, :] * anti[..., 1:, :])[..., :VERTICAL_ROWS, :].flatten(2)  # (B, T, 24)
    parts = [sym, PRODUCT_WEIGHT * signed_sqrt(across), PRODUCT_WEIGHT * signed_sqrt(down)]
    per_frame = F.normalize(signed_sqrt(torch.cat([_centre(p) for p in parts], dim=-1)), dim=-1)
    moments = temporal_legendre(per_frame, temporal_weights)  # (B, 3, 80)
    return F.normalize(signed_sqrt(moments.flatten(1)), dim=-1)
