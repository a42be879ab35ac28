"""A weights-free perceptual video fingerprint for near-duplicate search.

In the spirit of PDQ (low-frequency DCT of a downsampled luma image) and TMK
(per-frame features pooled over time), as one float vector compared by cosine:

1. `prepare`: 8 frames spread over the clip, BT.601 luma, area-averaged to 128 x 128;
   the active picture is found there (`fingerprint_area`: bars and picture-in-picture
   backgrounds cut away) and area-averaged to 64 x 64.
2. per frame and per window (`fingerprint_dct.WINDOWS`): the 8 x 8 low-frequency
   DCT block without DC (63 values), weighted by |frequency|^1.5 against the 1/f
   spectrum of natural images and divided by its norm (contrast invariance),
   plus a "flatness" value that is 0 unless the window is nearly uniform;
   signed square root, L2 normalised; then made mirror-invariant
   (`fingerprint_mirror`: 32 even-u values + 32 products of odd-u pairs), L2
   normalised. Averaging over the windows is what makes light crops tolerable.
3. over time: mean and linear trend (weights 1, 1.2), 2 x 64 = 128; the trend leaves
   out the steps across scene cuts (`fingerprint_cuts`).
4. signed square root and L2 normalisation.
5. beside it, a local part (`fingerprint_grid`: 8 x 8 cells, static overlays masked,
   mirror-invariant, temporal mean only, 80) at weight 0.8; the concatenation (208)
   L2 normalised.

Dropping DC and normalising per frame make brightness and contrast changes matter
little; the area downsampling discards the detail that re-encoding and resizing
change. The signed square roots spread the weight over many coefficients, so two
unrelated clips whose few strongest coefficients happen to agree still score low,
while their signs keep the vector zero-mean over unrelated content. The temporal
pooling is mean and trend only, so a copy played 25 % faster or cut to start part-way
into the original still lands near the original clip it overlaps most. The flatness
value makes featureless clips (black frames, flat colour) map to one fixed unit
vector, orthogonal to textured content, instead of dividing by zero.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from video_assets.models.base import Embedder, EmbedderSpec
from video_assets.models.fingerprint_area import active_box
from video_assets.models.fingerprint_cuts import cut_blind_trend
from video_assets.models.fingerprint_dct import (
    WINDOWS,
    WORK_SIZE,
    frequency_weights,
    signed_sqrt,
    window_bases,
    windowed_ac,
)
from video_assets.models.fingerprint_grid import PER_FRAME_DIM as GRID_PER_FRAME_DIM
from video_assets.models.fingerprint_grid import grid_descriptor
from video_assets.models.fingerprint_mirror import mirror_invariant
from video_assets.models.fingerprint_resample import area
from video_assets.models.frame_selection import select_uniform

# Bump whenever any step below changes: stored fingerprints of another revision
# are not comparable with new ones.
# v2: active-picture crop, mirror invariance, Legendre instead of Fourier moments.
# v3: a local 8 x 8 grid part blind to static overlays (`fingerprint_grid`), 432-d;
#     temporal weights 1, 0.25, 0.25.
# v4: DCT coefficients weighted by |f|^1.5; no curvature, trend 0.8 (global part),
#     grid part mean only with product weight 0.5; 208-d.
# v5: the global trend blind to scene cuts (`fingerprint_cuts`), weight 1.2; 208-d.
FINGERPRINT_REVISION = "fingerprint-v5"

# 8 frames: one every ~1.25 s of a 10 s clip at 2 fps, enough to average out
# per-frame noise and to resolve the first temporal harmonic; 2 s clips reach 8
# through the usual re-extraction at a higher fps.
FRAMES_PER_CLIP = 8
DCT_BLOCK = 8  # 8 x 8 lowest frequencies: up to 3.5 cycles across a window
PER_FRAME_DIM = DCT_BLOCK * DCT_BLOCK  # 63 AC coefficients + 1 flatness value
# |f|^1.5 on the DCT coefficients (1 would flatten a 1/f spectrum exactly; 1-2 measure
# alike, 0 is v3): unrelated pairs std 0.139 -> 0.118 on held-out seeds.
FREQUENCY_EXPONENT = 1.5
# Mean and trend. The mean is what survives speed changes and shifted clip spans; the
# trend separates unrelated clips that look alike on average (and a reversed clip).
# Curvature is dropped: when a copy's span is shifted against the original's, its
# curvature is often *anti*-correlated (-0.6), which pulled the half-overlapping
# copies below unrelated pairs. v5: the trend leaves out steps across scene cuts
# (fingerprint_cuts), which let it weigh more (1.2, v4 0.8).
MEAN_WEIGHT = 1.0
TREND_WEIGHT = 1.2
GLOBAL_DIM = 2 * PER_FRAME_DIM  # 128
# The grid part (fingerprint_grid) weighs 0.8 of the global part in the cosine. Its
# trend is dropped too: grid cells shift under crops and a trend of misaligned cells
# adds more noise to true pairs than it separates false ones.
GRID_WEIGHT = 0.8
GRID_TEMPORAL_WEIGHTS = (1.0,)
FINGERPRINT_DIM = GLOBAL_DIM + len(GRID_TEMPORAL_WEIGHTS) * GRID_PER_FRAME_DIM  # 208, a multiple of 16 for PQ indexes
# The active picture is searched for at up to twice the work size: borders found to
# within 1/128 of the frame, and one pass over the full-resolution frames, as before.
DETECT_SIZE = 2 * WORK_SIZE
# Frames up to this size a side are luma-mixed in one call and area-resampled by taps
# (fingerprint_resample); larger ones by torch's pooling, which wins from 720p.
SMALL_FRAME_MAX = 256
LUMA_CHUNK_PIXELS = 1_000_000  # larger frames area-pooled per call: 1 from 720p

# Low-pass RMS contrast (luma in [0, 1]) of a window: at or below a quarter grey
# level it is flat (this also swallows float rounding on uniform frames, which the
# square roots would otherwise blow up); from one grey level up it is textured;
# in between the two blend linearly. Real footage, even dark, sits far above.
FLAT_BELOW = 0.25 / 255.0
TEXTURED_ABOVE = 1.0 / 255.0

# ITU-R BT.601 luma weights, as PDQ and most video codecs use.
_LUMA = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float32)

FINGERPRINT_SPEC = EmbedderSpec(
    name="fingerprint",
    frames_per_clip=FRAMES_PER_CLIP,
    resolution=(WORK_SIZE, WORK_SIZE),
    dim=FINGERPRINT_DIM,
    has_text=False,
    model_id="builtin",
    revision=FINGERPRINT_REVISION,
    target_fps=2.0,
    gpu_memory_gb=0.0,
    num_gpus_per_worker=0,
    num_cpus=1,
)


class FingerprintEmbedder(Embedder):
    """Perceptual fingerprint: unit float32 vectors whose cosine ranks near copies first.

    Re-encoded, resized, lightly cropped, brightness-shifted, mirrored, letterboxed,
    picture-in-picture, sped-up or trimmed copies of a clip score above unrelated clips. Runs on CPU, no weights, deterministic.
    """

    spec = FINGERPRINT_SPEC

    def __init__(self) -> None:
        self._by, self._bx = window_bases(WORK_SIZE, DCT_BLOCK, WINDOWS)  # (W, k, n) each
        self._frequency_weights = frequency_weights(DCT_BLOCK, FREQUENCY_EXPONENT)  # (63,)

    def prepare(self, frames: np.ndarray) -> torch.Tensor:
        """RGB uint8 (N, H, W, 3), N >= 8 -> luma (8, 64, 64) float32 in [0, 1] of the
        active picture (bars and picture-in-picture background cut away)."""
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"fingerprint expects RGB uint8 frames (N, H, W, 3), got {frames.dtype} {frames.shape}")
        chosen = np.ascontiguousarray(select_uniform(frames, FRAMES_PER_CLIP))  # (T, H, W, 3)
        h, w = chosen.shape[1:3]
        grid = (min(h, DETECT_SIZE), min(w, DETECT_SIZE))  # never upsample: it is slow and adds nothing
        # Luma first, then area averaging (each grid pixel the mean of the source pixels
        # it covers, so the result hardly depends on resolution or codec noise). Both
        # are linear, so the order does not change the image; mixing the contiguous
        # (H, W, 3) frames first is 1.2-2x faster than pooling a channels-last view.
        if max(h, w) <= SMALL_FRAME_MAX:
            # One luma mix for all 8 frames, then area taps in numpy (fingerprint_resample).
            luma = (torch.from_numpy(chosen).to(torch.float32) @ _LUMA).numpy()
            luma = area(luma, grid)
        else:
            # From 720p one frame at a time: several large float copies at once were 2x
            # slower (out of cache), and a 4K frame's copy stays ~100 MB.
            step = max(1, LUMA_CHUNK_PIXELS // (h * w))
            luma = torch.cat(
                [
                    F.interpolate(
                        (torch.from_numpy(chosen[i : i + step]).to(torch.float32) @ _LUMA)[:, None], grid, mode="area"
                    )[:, 0]
                    for i in range(0, len(chosen), step)
                ]
            ).numpy()  # (T, h', w') with h', w' <= 128
        luma /= 255.0
        top, bottom, left, right = active_box(luma)
        small = area(luma[:, top:bottom, left:right], (WORK_SIZE, WORK_SIZE))
        return torch.from_numpy(np.ascontiguousarray(np.clip(small, 0.0, 1.0)))  # (T, 64, 64), in [0, 1]

    def embed_video(self, batch: torch.Tensor) -> torch.Tensor:
        """Prepared clips (B, 8, 64, 64) -> unit fingerprints (B, 208), float32 on CPU."""
        expected = (FRAMES_PER_CLIP, WORK_SIZE, WORK_SIZE)
        if batch.ndim != 4 or tuple(batch.shape[1:]) != expected:
            raise ValueError(
                f"fingerprint expects prepared clips (B, {', '.join(map(str, expected))}), got {tuple(batch.shape)}"
            )
        frames = batch.detach().to(device="cpu", dtype=torch.float32)
        ac = windowed_ac(frames, self._by, self._bx)  # (B, T, W, 63)
        contrast = ac.norm(dim=-1, keepdim=True)  # (B, T, W, 1), low-pass RMS contrast
        # Textured: the unit (frequency-weighted) AC vector and flatness 0. Flat: AC 0 and
        # flatness 1, so the vector never vanishes and all flat frames agree. Flatness is
        # judged on the unweighted contrast, in luma units.
        texture = ((contrast - FLAT_BELOW) / (TEXTURED_ABOVE - FLAT_BELOW)).clamp(0.0, 1.0)
        shape = texture * F.normalize(ac * self._frequency_weights, dim=-1)
        per_window = torch.cat([shape, 1.0 - texture], dim=-1)  # (B, T, W, 64)
        per_window = F.normalize(signed_sqrt(per_window), dim=-1)
        per_window = F.normalize(mirror_invariant(per_window), dim=-1)  # (B, T, W, 64)
        per_frame = per_window.mean(dim=2)  # (B, T, 64); windows come in mirror pairs
        mean = per_frame.mean(dim=1)  # (B, 64)
        trend = cut_blind_trend(per_frame)  # (B, 64): motion within scenes, cuts left out
        moments = torch.cat([MEAN_WEIGHT * mean, TREND_WEIGHT * trend], dim=-1)
        global_part = F.normalize(signed_sqrt(moments), dim=-1)  # (B, 128)
        grid_part = grid_descriptor(frames, GRID_TEMPORAL_WEIGHTS)  # (B, 80)
        return F.normalize(torch.cat([global_part, GRID_WEIGHT * grid_part], dim=-1), dim=-1)  # (B, 208)
