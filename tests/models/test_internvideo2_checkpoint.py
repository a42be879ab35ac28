"""Strict checkpoint loading: containers, ignored training-only keys, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from video_assets.models.internvideo2 import InternVideo2Model
from video_assets.models.internvideo2_checkpoint import CheckpointMismatchError, load_internvideo2_checkpoint
from video_assets.models.internvideo2_config import InternVideo2Config

CFG = InternVideo2Config.tiny()


def official_state_dict(model: InternVideo2Model) -> dict[str, torch.Tensor]:
    """Our weights plus the training-only tensors a released checkpoint also carries."""
    v, t = CFG.vision, CFG.text
    n_video, n_image = 1 + v.t_size * v.grid_size**2, 1 + v.grid_size**2
    extra = {
        "temp": torch.tensor(0.07),
        "itm_head.weight": torch.randn(2, t.hidden_size),
        "itm_head.bias": torch.randn(2),
        "vision_encoder.clip_pos_embed": torch.randn(1, n_video, v.width),
        "vision_encoder.clip_img_pos_embed": torch.randn(1, n_image, v.width),
        "vision_encoder.clip_decoder.0.head.weight": torch.randn(40, v.width),
        "vision_encoder.clip_decoder.0.norm.bias": torch.randn(40),
        "vision_encoder.final_clip_decoder.head.weight": torch.randn(20, v.clip_embed_dim),
        "text_encoder.cls.predictions.bias": torch.randn(t.vocab_size),
        "text_encoder.cls.predictions.decoder.weight": torch.randn(t.vocab_size, t.hidden_size),
        "text_encoder.bert.embeddings.position_ids": torch.arange(t.max_position_embeddings)[None],
    }
    return {**{k: v.clone() for k, v in model.state_dict().items()}, **extra}


def outputs(model: InternVideo2Model) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(3)
    size = CFG.vision.img_size
    video = torch.randn(2, CFG.vision.num_frames, 3, size, size, generator=gen)
    ids = torch.randint(0, CFG.text.vocab_size, (2, CFG.max_txt_len), generator=gen)
    with torch.no_grad():
        return model.encode_video(video), model.encode_text(ids, torch.ones_like(ids))


@pytest.fixture(scope="module")
def source() -> InternVideo2Model:
    torch.manual_seed(11)
    return InternVideo2Model(CFG).eval()


@pytest.mark.parametrize("container", ["model", "module", "bare"])
def test_round_trip_in_each_container(tmp_path: Path, source: InternVideo2Model, container: str) -> None:
    sd = official_state_dict(source)
    path = tmp_path / "ckpt.pt"
    torch.save(sd if container == "bare" else {container: sd, "epoch": 3}, path)
    torch.manual_seed(12)
    target = InternVideo2Model(CFG).eval()
    assert not torch.allclose(outputs(target)[0], outputs(source)[0])
    report = load_internvideo2_checkpoint(path, target)
    assert report.container == container
    assert report.loaded == len(source.state_dict())
    assert "temp" in report.ignored and "vision_encoder.clip_decoder.0.head.weight" in report.ignored
    for ours, theirs in zip(outputs(target), outputs(source)):
        torch.testing.assert_close(ours, theirs, atol=0, rtol=0)


def test_meta_model_loads_by_assignment(tmp_path: Path, source: InternVideo2Model) -> None:
    path = tmp_path / "ckpt.pt"
    torch.save({"model": official_state_dict(source)}, path)
    with torch.device("meta"):
        target = InternVideo2Model(CFG)
    load_internvideo2_checkpoint(path, target, assign=True)
    assert not any(p.is_meta for p in target.parameters())
    torch.testing.assert_close(outputs(target.eval())[0], outputs(source)[0], atol=0, rtol=0)


def test_legacy_pickle_format_loads(tmp_path: Path, source: InternVideo2Model) -> None:
    """Pre-1.6 torch.save files cannot be memory-mapped; they still load."""
    path = tmp_path / "old.pt"
    torch.save({"model": official_state_dict(source)}, path, _use_new_zipfile_serialization=False)
    target = InternVideo2Model(CFG).eval()
    assert load_internvideo2_checkpoint(path, target).container == "model"
    torch.testing.assert_close(outputs(target)[0], outputs(source)[0], atol=0, rtol=0)


def test_safetensors_file_loads(tmp_path: Path, source: InternVideo2Model) -> None:
    path = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(path))
    target = InternVideo2Model(CFG).eval()
    assert load_internvideo2_checkpoint(path, target).container == "bare"
    torch.testing.assert_close(outputs(target)[1], outputs(source)[1], atol=0, rtol=0)


def test_missing_key_is_named(tmp_path: Path, source: InternVideo2Model) -> None:
    sd = official_state_dict(source)
    del sd["vision_encoder.blocks.1.attn.q_norm.weight"]
    torch.save({"model": sd}, tmp_path / "ckpt.pt")
    with pytest.raises(CheckpointMismatchError, match=r"missing keys: vision_encoder\.blocks\.1\.attn\.q_norm\.weight"):
        load_internvideo2_checkpoint(tmp_path / "ckpt.pt", InternVideo2Model(CFG))


def test_wrong_shape_names_key_and_both_shapes(tmp_path: Path, source: InternVideo2Model) -> None:
    sd = official_state_dict(source)
    sd["text_proj.weight"] = torch.randn(CFG.embed_dim + 1, CFG.text.hidden_size)
    torch.save({"model": sd}, tmp_path / "ckpt.pt")
    with pytest.raises(
        CheckpointMismatchError, match=r"wrong shapes: text_proj\.weight: checkpoint \(17, 16\), model \(16, 16\)"
    ):
        load_internvideo2_checkpoint(tmp_path / "ckpt.pt", InternVideo2Model(CFG))


def test_unknown_key_is_named(tmp_path: Path, source: InternVideo2Model) -> None:
    sd = official_state_dict(source)
    sd["vision_encoder.norm.weight"] = torch.ones(CFG.vision.width)  # a final norm the model does not have
    torch.save(sd, tmp_path / "ckpt.pt")
    with pytest.raises(CheckpointMismatchError, match=r"unexpected keys: vision_encoder\.norm\.weight"):
        load_internvideo2_checkpoint(tmp_path / "ckpt.pt", InternVideo2Model(CFG))


def test_a_model_with_other_sizes_is_refused(tmp_path: Path, source: InternVideo2Model) -> None:
    torch.save({"model": official_state_dict(source)}, tmp_path / "ckpt.pt")
    with torch.device("meta"):
        real = InternVideo2Model(InternVideo2Config())
    with pytest.raises(CheckpointMismatchError) as error:
        load_internvideo2_checkpoint(tmp_path / "ckpt.pt", real, assign=True)
    message = str(error.value)
    assert "missing keys: " in message and "more)" in message  # long lists are cut short
    assert "text_encoder.bert.embeddings.LayerNorm.bias: checkpoint (16,), model (1024,)" in message
    assert len(message) < 5000


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_internvideo2_checkpoint(tmp_path / "nope.pt", InternVideo2Model(CFG))
