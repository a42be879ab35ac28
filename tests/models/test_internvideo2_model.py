"""InternVideo2Model at the tiny config: shapes, norms, batching, image path, config flags."""

from __future__ import annotations

import pytest
import torch

from video_assets.models.internvideo2 import InternVideo2Model
from video_assets.models.internvideo2_config import InternVideo2Config, InternVideo2VisionConfig


@pytest.fixture(scope="module")
def cfg() -> InternVideo2Config:
    return InternVideo2Config.tiny()


@pytest.fixture(scope="module")
def model(cfg: InternVideo2Config) -> InternVideo2Model:
    torch.manual_seed(0)
    return InternVideo2Model(cfg).eval()


def video_batch(cfg: InternVideo2Config, batch: int, frames: int | None = None, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    size = cfg.vision.img_size
    return torch.randn(batch, frames or cfg.vision.num_frames, 3, size, size, generator=gen)


def text_batch(cfg: InternVideo2Config) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(1, cfg.text.vocab_size, (3, cfg.max_txt_len), generator=gen)
    mask = torch.ones_like(ids)
    mask[1, 4:] = 0
    mask[2, 1:] = 0
    return ids * mask, mask


def test_real_config_defaults_are_the_1b_model() -> None:
    cfg = InternVideo2Config()
    assert (cfg.vision.width, cfg.vision.depth, cfg.vision.num_heads, cfg.vision.mlp_hidden_dim) == (1408, 40, 16, 6144)
    assert (cfg.vision.grid_size, cfg.vision.t_size, cfg.vision.clip_embed_dim) == (16, 4, 768)
    assert (cfg.text.hidden_size, cfg.text.num_layers, cfg.text.fusion_layer, cfg.text.encoder_width) == (
        1024,
        24,
        19,
        1408,
    )
    assert (cfg.embed_dim, cfg.max_txt_len) == (512, 40)


def test_real_size_state_dict_has_official_names_and_shapes() -> None:
    with torch.device("meta"):  # shapes only, no 1B allocation
        sd = InternVideo2Model(InternVideo2Config()).state_dict()
    assert sd["vision_encoder.pos_embed"].shape == (1, 1025, 1408)
    assert sd["vision_encoder.img_pos_embed"].shape == (1, 257, 1408)
    assert sd["vision_encoder.blocks.39.attn.qkv.weight"].shape == (4224, 1408)
    assert sd["vision_encoder.blocks.0.attn.q_norm.weight"].shape == (1408,)
    assert sd["vision_encoder.clip_projector.cross_attn.proj.weight"].shape == (768, 1408)
    assert sd["text_encoder.bert.encoder.layer.19.crossattention.self.key.weight"].shape == (1024, 1408)
    assert "text_encoder.bert.encoder.layer.18.crossattention.self.key.weight" not in sd
    assert sd["vision_proj.weight"].shape == (512, 768)
    assert sd["text_proj.weight"].shape == (512, 1024)
    assert "vision_encoder.blocks.0.attn.qkv.bias" not in sd  # qkv has no bias
    assert not any(k.startswith("text_encoder.cls.") or k.startswith("vision_encoder.clip_decoder") for k in sd)


def test_video_and_text_embeddings_are_unit_vectors_in_one_space(model: InternVideo2Model, cfg) -> None:
    with torch.no_grad():
        v = model.encode_video(video_batch(cfg, 2))
        t = model.encode_text(*text_batch(cfg))
    assert v.shape == (2, cfg.embed_dim) and t.shape == (3, cfg.embed_dim)
    torch.testing.assert_close(v.norm(dim=-1), torch.ones(2))
    torch.testing.assert_close(t.norm(dim=-1), torch.ones(3))
    assert torch.isfinite(v @ t.T).all()


def test_forward_is_deterministic(model: InternVideo2Model, cfg) -> None:
    x = video_batch(cfg, 2)
    with torch.no_grad():
        assert torch.equal(model.encode_video(x), model.encode_video(x))
        assert torch.equal(model.encode_text(*text_batch(cfg)), model.encode_text(*text_batch(cfg)))


def test_batched_equals_one_by_one(model: InternVideo2Model, cfg) -> None:
    x = video_batch(cfg, 3)
    ids, mask = text_batch(cfg)
    with torch.no_grad():
        torch.testing.assert_close(
            model.encode_video(x), torch.cat([model.encode_video(x[i : i + 1]) for i in range(3)]), atol=1e-6, rtol=0
        )
        torch.testing.assert_close(
            model.encode_text(ids, mask),
            torch.cat([model.encode_text(ids[i : i + 1], mask[i : i + 1]) for i in range(3)]),
            atol=1e-6,
            rtol=0,
        )


def test_padding_tokens_do_not_change_the_text_embedding(model: InternVideo2Model, cfg) -> None:
    ids, mask = text_batch(cfg)
    other = ids.clone()
    other[mask == 0] = 7  # different ids under the padding
    with torch.no_grad():
        torch.testing.assert_close(model.encode_text(ids, mask), model.encode_text(other, mask), atol=1e-6, rtol=0)


def test_text_forward_ignores_layers_from_fusion_layer_on(cfg) -> None:
    model = InternVideo2Model(cfg).eval()
    ids, mask = text_batch(cfg)
    with torch.no_grad():
        before = model.encode_text(ids, mask)
        for p in model.text_encoder.bert.encoder.layer[cfg.text.fusion_layer :].parameters():
            p.add_(1.0)
        torch.testing.assert_close(model.encode_text(ids, mask), before, atol=0, rtol=0)
        last_used = model.text_encoder.bert.encoder.layer[cfg.text.fusion_layer - 1]
        last_used.output.dense.weight.add_(torch.randn_like(last_used.output.dense.weight))
        assert not torch.allclose(model.encode_text(ids, mask), before)


def test_image_path_uses_img_pos_embed(model: InternVideo2Model, cfg) -> None:
    image = video_batch(cfg, 2, frames=1)
    with torch.no_grad():
        before = model.encode_video(image)
        model.vision_encoder.pos_embed.add_(1.0)  # the video table must not matter for T == 1
        after_video_table = model.encode_video(image)
        model.vision_encoder.pos_embed.sub_(1.0)
    assert before.shape == (2, cfg.embed_dim)
    torch.testing.assert_close(after_video_table, before, atol=0, rtol=0)


def test_wrong_frame_count_is_an_error(model: InternVideo2Model, cfg) -> None:
    with pytest.raises(ValueError, match="expected 4 frames"):
        model.encode_video(video_batch(cfg, 1, frames=3))


def test_flags_off_build_without_their_parameters_and_run() -> None:
    tiny = InternVideo2Config.tiny()
    plain = InternVideo2VisionConfig(
        **{**tiny.vision.__dict__, "qk_normalization": False, "layer_scale": False, "sep_image_video_pos_embed": False}
    )
    cfg = InternVideo2Config(vision=plain, text=tiny.text, embed_dim=tiny.embed_dim, max_txt_len=tiny.max_txt_len)
    model = InternVideo2Model(cfg).eval()
    keys = model.state_dict().keys()
    assert not any(k.endswith(("q_norm.weight", "ls1.gamma", "img_pos_embed")) for k in keys)
    with torch.no_grad():
        video = model.encode_video(video_batch(cfg, 2))
        image = model.encode_video(video_batch(cfg, 2, frames=1))
        table = model.vision_encoder.image_pos_embed()
    assert video.shape == image.shape == (2, cfg.embed_dim) and torch.isfinite(image).all()
    # Without a separate table the image path averages the video table over time.
    pos = model.vision_encoder.pos_embed.detach()
    g2 = cfg.vision.grid_size**2
    torch.testing.assert_close(table[0, 0], pos[0, 0])
    torch.testing.assert_close(table[0, 1:], pos[0, 1:].view(cfg.vision.t_size, g2, -1).mean(0))


def test_invalid_configs_are_rejected() -> None:
    with pytest.raises(ValueError, match="multiple of patch_size"):
        InternVideo2VisionConfig(img_size=30, patch_size=14)
    with pytest.raises(ValueError, match="encoder_width"):
        InternVideo2Config(vision=InternVideo2Config.tiny().vision)


def test_bf16_run_stays_close_to_fp32(cfg) -> None:
    torch.manual_seed(0)
    fp32 = InternVideo2Model(cfg).eval()
    bf16 = InternVideo2Model(cfg).eval()
    bf16.load_state_dict(fp32.state_dict())
    bf16.to(torch.bfloat16)
    x = video_batch(cfg, 2)
    with torch.no_grad():
        a = fp32.encode_video(x)
        b = bf16.encode_video(x.to(torch.bfloat16)).float()
    assert b.dtype == torch.float32
    assert (a * b).sum(-1).min() > 0.99
