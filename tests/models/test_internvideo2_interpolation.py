"""Loading an InternVideo2 checkpoint made for another frame count or resolution:
the video pos-embed is interpolated (linear over T, then bicubic over H, W), as the
official ``interpolate_pos_embed_internvideo2_new`` does."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from video_assets.models.internvideo2 import InternVideo2Embedder, InternVideo2Model
from video_assets.models.internvideo2_checkpoint import CheckpointMismatchError, load_internvideo2_checkpoint
from video_assets.models.internvideo2_config import InternVideo2Config
from video_assets.models.internvideo2_pos_embed import (
    PosEmbedGridError,
    TokenGrid,
    interpolate_pos_embed,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "internvideo2_tiny"
TINY = InternVideo2Config.tiny()  # T=4, 3x3 patches, width 32
POS = "vision_encoder.pos_embed"


def reference(pos_embed: torch.Tensor, source: TokenGrid, target: TokenGrid) -> torch.Tensor:
    """The documented recipe, written out: cls row kept; (T, H, W, C) grid; linear over T
    (align_corners=False); then bicubic over (H, W) (align_corners=False)."""
    C = pos_embed.shape[-1]
    cls_row, grid = pos_embed[:, :1], pos_embed[0, 1:].reshape(source.t, source.h, source.w, C)
    if target.t != source.t:
        rows = grid.permute(1, 2, 3, 0).reshape(1, source.h * source.w * C, source.t)  # each (h, w, c) a channel
        rows = F.interpolate(rows, size=target.t, mode="linear", align_corners=False)
        grid = rows.reshape(source.h, source.w, C, target.t).permute(3, 0, 1, 2)  # (T', H, W, C)
    if (target.h, target.w) != (source.h, source.w):
        frames = grid.permute(0, 3, 1, 2)  # (T', C, H, W)
        frames = F.interpolate(frames, size=(target.h, target.w), mode="bicubic", align_corners=False)
        grid = frames.permute(0, 2, 3, 1)  # (T', H', W', C)
    return torch.cat([cls_row, grid.reshape(1, -1, C)], dim=1)


def checkpoint_at(config: InternVideo2Config, seed: int) -> dict[str, torch.Tensor]:
    """A random model at ``config`` in the released key layout, training-only keys included,
    with random (not sin-cos) pos-embeds so interpolation has something to move."""
    torch.manual_seed(seed)
    model = InternVideo2Model(config)
    v = config.vision
    sd = {k: t.clone() for k, t in model.state_dict().items()}
    sd[POS] = torch.randn_like(sd[POS])
    if v.sep_image_video_pos_embed:
        sd["vision_encoder.img_pos_embed"] = torch.randn_like(sd["vision_encoder.img_pos_embed"])
    sd.update(
        {
            "temp": torch.tensor(0.07),
            "itm_head.weight": torch.randn(2, config.text.hidden_size),
            "itm_head.bias": torch.randn(2),
            "vision_encoder.clip_pos_embed": torch.randn(1, 1 + v.t_size * v.grid_size**2, v.width),
            "vision_encoder.clip_img_pos_embed": torch.randn(1, 1 + v.grid_size**2, v.width),
            "vision_encoder.clip_decoder.0.head.weight": torch.randn(40, v.width),
            "text_encoder.cls.predictions.bias": torch.randn(config.text.vocab_size),
            "text_encoder.bert.embeddings.position_ids": torch.arange(config.text.max_position_embeddings)[None],
        }
    )
    return sd


@pytest.fixture(scope="module")
def t2_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, torch.Tensor]]:
    sd = checkpoint_at(TINY.with_num_frames(2), seed=5)
    path = tmp_path_factory.mktemp("ckpt") / "t2.pt"
    torch.save({"model": sd}, path)
    return path, sd


def test_same_grid_is_an_exact_no_op() -> None:
    pos_embed = torch.randn(1, 1 + 4 * 9, 32)
    grid = TokenGrid(4, 3, 3)
    assert interpolate_pos_embed(pos_embed, grid, grid) is pos_embed
    # Through the loader: the official tiny checkpoint at the model's own grid loads untouched.
    model = InternVideo2Model(TINY)
    report = load_internvideo2_checkpoint(DATA / "checkpoint.pt", model)
    assert report.interpolated == ()
    official = torch.load(DATA / "checkpoint.pt", weights_only=True)["model"]
    assert torch.equal(model.vision_encoder.pos_embed, official[POS])


def test_t2_to_t4_matches_the_documented_recipe(t2_checkpoint) -> None:
    path, sd = t2_checkpoint
    model = InternVideo2Model(TINY)
    report = load_internvideo2_checkpoint(path, model)
    assert report.interpolated == (POS,)  # clip_pos_embed is training-only: dropped, not resized
    loaded = model.vision_encoder.pos_embed.detach()
    assert loaded.shape == (1, 1 + 4 * 9, 32)
    expected = reference(sd[POS], TokenGrid(2, 3, 3), TokenGrid(4, 3, 3))
    torch.testing.assert_close(loaded, expected, atol=1e-6, rtol=1e-6)
    assert torch.equal(loaded[:, 0], sd[POS][:, 0])  # cls row unchanged
    assert torch.equal(model.vision_encoder.img_pos_embed, sd["vision_encoder.img_pos_embed"])
    # align_corners=False for 2 -> 4 samples source times -0.25, 0.25, 0.75, 1.25 (ends clamped);
    # align_corners=True would give 0, 1/3, 2/3, 1 instead.
    f0, f1 = sd[POS][0, 1:].reshape(2, 9, 32)
    out = loaded[0, 1:].reshape(4, 9, 32)
    torch.testing.assert_close(out[0], f0, atol=1e-6, rtol=0)
    torch.testing.assert_close(out[1], 0.75 * f0 + 0.25 * f1, atol=1e-6, rtol=0)
    torch.testing.assert_close(out[2], 0.25 * f0 + 0.75 * f1, atol=1e-6, rtol=0)
    torch.testing.assert_close(out[3], f1, atol=1e-6, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_time_then_space_in_the_tensors_own_dtype(dtype: torch.dtype) -> None:
    pos_embed = torch.randn(1, 1 + 2 * 9, 32).to(dtype)
    source, target = TokenGrid(2, 3, 3), TokenGrid(5, 4, 4)
    out = interpolate_pos_embed(pos_embed, source, target)
    assert out.dtype == dtype and out.shape == (1, 1 + 5 * 16, 32)
    tol = 1e-6 if dtype == torch.float32 else 1e-2
    torch.testing.assert_close(out, reference(pos_embed, source, target), atol=tol, rtol=tol)


def test_resolution_change_is_inferred_and_interpolated(tmp_path: Path) -> None:
    """Same T, 3x3 -> 4x4 patches (img 12 -> 16): bicubic only. Needs a model without a
    separate image table: img_pos_embed is never interpolated (as officially)."""
    shared = replace(TINY, vision=replace(TINY.vision, sep_image_video_pos_embed=False))
    sd = checkpoint_at(shared, seed=6)
    torch.save(sd, tmp_path / "ckpt.pt")
    model = InternVideo2Model(replace(shared, vision=replace(shared.vision, img_size=16)))
    assert load_internvideo2_checkpoint(tmp_path / "ckpt.pt", model).interpolated == (POS,)
    expected = reference(sd[POS], TokenGrid(4, 3, 3), TokenGrid(4, 4, 4))
    torch.testing.assert_close(model.vision_encoder.pos_embed.detach(), expected, atol=1e-6, rtol=1e-6)


def test_img_pos_embed_is_not_interpolated(tmp_path: Path) -> None:
    torch.save(checkpoint_at(TINY, seed=6), tmp_path / "ckpt.pt")
    model = InternVideo2Model(replace(TINY, vision=replace(TINY.vision, img_size=16)))
    with pytest.raises(CheckpointMismatchError, match=r"vision_encoder\.img_pos_embed: checkpoint \(1, 10, 32\)"):
        load_internvideo2_checkpoint(tmp_path / "ckpt.pt", model)


def test_t2_checkpoint_embeds_a_4_frame_clip(t2_checkpoint) -> None:
    path, _ = t2_checkpoint
    embedder = InternVideo2Embedder.from_files(path, DATA / "vocab.txt", config=TINY.with_num_frames(2), num_frames=4)
    assert embedder.spec.frames_per_clip == 4
    frames = np.random.default_rng(0).integers(0, 256, (7, 20, 24, 3), dtype=np.uint8)
    clip = embedder.prepare(frames)
    assert clip.shape == (4, 3, 12, 12)
    vector = embedder.embed_video(clip[None])
    assert vector.shape == (1, 16) and torch.isfinite(vector).all()
    torch.testing.assert_close(vector.norm(dim=-1), torch.ones(1), atol=1e-5, rtol=0)


@pytest.mark.parametrize("num_frames", [1, 8])
def test_official_checkpoint_loads_at_other_frame_counts(num_frames: int) -> None:
    """The tensors the official code saved (T=4) serve a 1-frame (image path) or 8-frame model."""
    embedder = InternVideo2Embedder.from_files(
        DATA / "checkpoint.pt", DATA / "vocab.txt", config=TINY, num_frames=num_frames
    )
    assert embedder.spec.frames_per_clip == num_frames
    assert embedder.model.vision_encoder.pos_embed.shape == (1, 1 + num_frames * 9, 32)
    vector = embedder.embed_video(torch.randn(2, num_frames, 3, 12, 12))
    torch.testing.assert_close(vector.norm(dim=-1), torch.ones(2), atol=1e-5, rtol=0)


@pytest.mark.parametrize("num_frames", [0, 65])
def test_num_frames_out_of_range_is_refused(num_frames: int) -> None:
    with pytest.raises(ValueError, match=r"num_frames must be in 1\.\.64"):
        TINY.with_num_frames(num_frames)


SHARED = replace(TINY, vision=replace(TINY.vision, sep_image_video_pos_embed=False))  # no img_pos_embed


@pytest.mark.parametrize(
    ("config", "tokens", "why"),
    [
        (TINY, 10, r"no factorisation; its image table has 9 patches per frame"),  # 10 % 9 != 0
        (SHARED, 10, r"no factorisation; only a change of frame count"),  # 10 is neither T*9 nor 4*s*s
        (SHARED, 144, r"ambiguous: T=4 6x6 or T=16 3x3"),  # 144 = 4*6*6 = 16*3*3, no image table to decide
    ],
)
def test_unfactorable_length_is_a_clear_error(
    tmp_path: Path, config: InternVideo2Config, tokens: int, why: str
) -> None:
    sd = checkpoint_at(config, seed=7)
    sd[POS] = torch.randn(1, 1 + tokens, 32)
    torch.save(sd, tmp_path / "ckpt.pt")
    with pytest.raises(PosEmbedGridError) as error:
        load_internvideo2_checkpoint(tmp_path / "ckpt.pt", InternVideo2Model(config))
    message = str(error.value)
    assert f"vision_encoder.pos_embed: checkpoint shape (1, {1 + tokens}, 32), model shape (1, 37, 32)" in message
    assert re.search(why, message)


def test_image_table_settles_an_ambiguous_length(tmp_path: Path) -> None:
    """144 tokens with a 9-patch image table can only be 16 frames of 3x3."""
    sd = checkpoint_at(TINY, seed=8)
    sd[POS] = torch.randn(1, 1 + 144, 32)
    torch.save(sd, tmp_path / "ckpt.pt")
    model = InternVideo2Model(TINY)
    assert load_internvideo2_checkpoint(tmp_path / "ckpt.pt", model).interpolated == (POS,)
    expected = reference(sd[POS], TokenGrid(16, 3, 3), TokenGrid(4, 3, 3))
    torch.testing.assert_close(model.vision_encoder.pos_embed.detach(), expected, atol=1e-6, rtol=1e-6)
