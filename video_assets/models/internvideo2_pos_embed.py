"""Resize InternVideo2's video positional embedding to another (T, H, W) token grid.

The released checkpoint holds ``pos_embed`` for 4 frames of 16x16 patches. The official
loader interpolates it when a model is built for another frame count or resolution, so we
do the same at load time. Semantics follow ``interpolate_pos_embed_internvideo2_new`` in
OpenGVLab/InternVideo, ``InternVideo2/multi_modality/models/backbones/internvideo2/pos_embed.py``
at commit 04cd0f7a0f964f174600ee3454f15cb89faf9f3d (read, not copied):

- every key containing ``pos_embed`` except ``*img_pos_embed`` (the T == 1 table);
- the cls row(s) in front are kept as they are;
- first linear interpolation over T (``F.interpolate(mode="linear")``, default
  align_corners i.e. False), skipped when T is unchanged;
- then bicubic over (H, W) with ``align_corners=False`` on every frame, skipped when the
  spatial size is unchanged;
- computed in the tensor's own dtype (no up-cast), as the official code does.

Unlike the official code, which takes the checkpoint's frame count as an argument
(NeMo Curator passes 4), the source grid is inferred from the tensor length and the
checkpoint's image table; see `infer_source_grid`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from video_assets.models.internvideo2_config import InternVideo2VisionConfig


class PosEmbedGridError(ValueError):
    """A checkpoint ``pos_embed`` whose token grid cannot be worked out from its length."""


@dataclass(frozen=True)
class TokenGrid:
    """Temporal tokens (frames / tubelet) and patches per side of one frame."""

    t: int
    h: int
    w: int

    @property
    def tokens(self) -> int:
        return self.t * self.h * self.w

    @classmethod
    def of(cls, vision: InternVideo2VisionConfig) -> TokenGrid:
        return cls(vision.t_size, vision.grid_size, vision.grid_size)


def is_interpolated_key(key: str) -> bool:
    """The keys the official loader interpolates: video pos-embeds, not the image ones."""
    return "pos_embed" in key and "img_pos_embed" not in key


def infer_source_grid(
    key: str,
    checkpoint_shape: tuple[int, ...],
    model_grid: TokenGrid,
    extra_tokens: int,
    frame_tokens: int | None = None,
) -> TokenGrid:
    """The (T, H, W) grid of a checkpoint ``pos_embed`` of shape (1, extra + T*H*W, C).

    ``frame_tokens`` is H*W when the checkpoint says it (its image table has one frame);
    then T follows. Otherwise a length alone does not factor uniquely (1024 = 4*16*16 =
    16*8*8 = ...), so one of the two changes the official loader is used for must hold:
    the spatial grid is the model's (other frame count) or the frame count is the
    model's (other square resolution). If none or both fit, raise `PosEmbedGridError`.
    """
    model_shape = (1, extra_tokens + model_grid.tokens, checkpoint_shape[-1])
    where = f"{key}: checkpoint shape {tuple(checkpoint_shape)}, model shape {model_shape}"
    if len(checkpoint_shape) != 3 or checkpoint_shape[0] != 1 or checkpoint_shape[1] <= extra_tokens:
        raise PosEmbedGridError(f"{where}: expected (1, {extra_tokens} + T*H*W, C)")
    n = checkpoint_shape[1] - extra_tokens
    candidates = set()
    if frame_tokens is not None:
        side = math.isqrt(frame_tokens)
        if side * side == frame_tokens and n % frame_tokens == 0:
            candidates.add(TokenGrid(n // frame_tokens, side, side))
        hint = f"its image table has {frame_tokens} patches per frame"
    else:
        per_frame = model_grid.h * model_grid.w
        if n % per_frame == 0:  # same patches per frame, other frame count
            candidates.add(TokenGrid(n // per_frame, model_grid.h, model_grid.w))
        if n % model_grid.t == 0:  # same frame count, other square resolution
            side = math.isqrt(n // model_grid.t)
            if side * side * model_grid.t == n:
                candidates.add(TokenGrid(model_grid.t, side, side))
        hint = (
            f"only a change of frame count (same {model_grid.h}x{model_grid.w} patches per frame) "
            f"or of square resolution (same T={model_grid.t}) can be inferred"
        )
    if len(candidates) != 1:
        options = " or ".join(f"T={g.t} {g.h}x{g.w}" for g in sorted(candidates, key=lambda g: g.t))
        found = f"ambiguous: {options}" if candidates else "no factorisation"
        raise PosEmbedGridError(f"{where}: cannot infer its token grid ({found}; {hint})")
    return candidates.pop()


def interpolate_pos_embed(
    pos_embed: torch.Tensor, source: TokenGrid, target: TokenGrid, extra_tokens: int = 1
) -> torch.Tensor:
    """(1, extra + source.tokens, C) -> (1, extra + target.tokens, C); the input itself if
    the grids are equal. Token order is frame-major, row-major within a frame."""
    if source.h != source.w or target.h != target.w:
        raise ValueError(f"only square frame grids are supported, got {source} -> {target}")
    C = pos_embed.shape[-1]
    extra = pos_embed[:, :extra_tokens]  # (1, extra, C): cls, kept as is
    grid = pos_embed[:, extra_tokens:]  # (1, T*H*W, C)
    if grid.shape[1] != source.tokens:
        raise ValueError(f"pos_embed has {grid.shape[1]} grid tokens, {source} has {source.tokens}")
    changed = False
    if source.t != target.t:
        # Contiguous like the official reshape, so the same interpolation kernel runs.
        x = grid.reshape(source.t, source.h * source.w, C).permute(1, 2, 0).contiguous()  # (H*W, C, T)
        x = F.interpolate(x, size=target.t, mode="linear")  # (H*W, C, T')
        grid = x.permute(2, 0, 1).reshape(1, -1, C)  # (1, T'*H*W, C)
        changed = True
    if source.h != target.h:
        # Left channels-last strided, as the official permute leaves it.
        x = grid.reshape(target.t, source.h, source.w, C).permute(0, 3, 1, 2)  # (T', C, H, W)
        x = F.interpolate(x, size=(target.h, target.w), mode="bicubic", align_corners=False)
        grid = x.permute(0, 2, 3, 1).reshape(1, -1, C)  # (1, T'*H'*W', C)
        changed = True
    return torch.cat([extra, grid], dim=1) if changed else pos_embed


def _image_table_key(key: str) -> str:
    """``vision_encoder.pos_embed`` -> ``vision_encoder.img_pos_embed`` (and clip_ likewise)."""
    head, _, tail = key.rpartition("pos_embed")
    return f"{head}img_pos_embed{tail}"


def resize_pos_embeds(
    state_dict: dict[str, torch.Tensor], model_shapes: Mapping[str, torch.Size], vision: InternVideo2VisionConfig
) -> list[str]:
    """Interpolate, in place, every video pos-embed of ``state_dict`` whose length differs
    from the model's; return the keys changed. Keys the model lacks and width mismatches are
    left for the strict shape check to report."""
    target = TokenGrid.of(vision)
    changed = []
    for key in list(state_dict):
        tensor, expected = state_dict[key], model_shapes.get(key)
        if not is_interpolated_key(key) or expected is None or tuple(tensor.shape) == tuple(expected):
            continue
        if tensor.ndim != 3 or len(expected) != 3 or tensor.shape[-1] != expected[-1]:
            continue
        extra_tokens = expected[1] - target.tokens  # the cls row
        # The checkpoint's own image table (cls + one frame) pins its patches per frame.
        image = state_dict.get(_image_table_key(key))
        frame_tokens = image.shape[1] - extra_tokens if image is not None and image.ndim == 3 else None
        source = infer_source_grid(key, tuple(tensor.shape), target, extra_tokens, frame_tokens)
        state_dict[key] = interpolate_pos_embed(tensor, source, target, extra_tokens)
        changed.append(key)
    return changed
