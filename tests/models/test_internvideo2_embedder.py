"""InternVideo2Embedder: spec, prepare (frame choice, resize, normalisation), embedding, loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from video_assets.models.base import Embedder
from video_assets.models.bert_tokenizer import BertTokenizer
from video_assets.models.frame_selection import uniform_indices
from video_assets.models.internvideo2 import (
    INTERNVIDEO2_SPEC,
    InternVideo2Embedder,
    InternVideo2Model,
)
from video_assets.models.internvideo2_config import InternVideo2Config
from video_assets.models.text_match import text_match

CFG = InternVideo2Config.tiny()
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(CFG.text.vocab_size - 5)]
MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, InternVideo2Model]:
    folder = tmp_path_factory.mktemp("iv2")
    torch.manual_seed(5)
    model = InternVideo2Model(CFG).eval()
    torch.save({"model": model.state_dict()}, folder / "ckpt.pt")
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    return folder / "ckpt.pt", folder / "vocab.txt", model


@pytest.fixture(scope="module")
def embedder(files) -> InternVideo2Embedder:
    checkpoint, vocab, _ = files
    return InternVideo2Embedder.from_files(checkpoint, vocab, config=CFG)


def clip(num_frames: int, height: int = 30, width: int = 40, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (num_frames, height, width, 3), dtype=np.uint8)


def test_registry_spec_is_the_curator_setup() -> None:
    s = INTERNVIDEO2_SPEC
    assert (s.name, s.frames_per_clip, s.resolution, s.dim, s.has_text) == ("internvideo2", 4, (224, 224), 512, True)
    assert (s.model_id, s.revision) == ("OpenGVLab/InternVideo2-Stage2_1B-224p-f4", "4362e1f")
    assert (s.target_fps, s.gpu_memory_gb, s.num_gpus_per_worker) == (2.0, 10.0, 1)


def test_spec_follows_the_config(embedder: InternVideo2Embedder) -> None:
    assert isinstance(embedder, Embedder)
    assert embedder.spec.name == "internvideo2"
    assert (embedder.spec.frames_per_clip, embedder.spec.resolution, embedder.spec.dim) == (4, (12, 12), 16)


def test_prepare_picks_uniform_frames_in_t_c_h_w_layout(embedder: InternVideo2Embedder) -> None:
    n = 11
    frames = np.zeros((n, 20, 24, 3), dtype=np.uint8)
    frames[..., 0] = (np.arange(n) * 20)[:, None, None]  # red level tells the frame index
    frames[..., 1] = 255
    out = embedder.prepare(frames)
    assert out.shape == (4, 3, 12, 12) and out.dtype == torch.float32
    chosen = uniform_indices(n, 4)
    expected_red = (chosen * 20 / 255 - MEAN[0]) / STD[0]
    np.testing.assert_allclose(out[:, 0].mean(dim=(1, 2)).numpy(), expected_red, atol=1e-5)
    np.testing.assert_allclose(out[:, 1].numpy(), (1 - MEAN[1]) / STD[1], atol=1e-5)
    np.testing.assert_allclose(out[:, 2].numpy(), (0 - MEAN[2]) / STD[2], atol=1e-5)


def test_prepare_resizes_without_keeping_aspect(embedder: InternVideo2Embedder) -> None:
    frames = np.zeros((4, 12, 48, 3), dtype=np.uint8)
    frames[:, :, 24:] = 255  # right half white: stays the right half after squeezing to 12x12
    out = embedder.prepare(frames)[0, 0]
    white, black = (1 - MEAN[0]) / STD[0], (0 - MEAN[0]) / STD[0]
    np.testing.assert_allclose(out[:, :5].numpy(), black, atol=1e-5)
    np.testing.assert_allclose(out[:, 7:].numpy(), white, atol=1e-5)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((3, 8, 8, 3), np.uint8), np.zeros((4, 8, 8), np.uint8), np.zeros((4, 8, 8, 3), np.float32)],
)
def test_prepare_rejects_bad_frames(embedder: InternVideo2Embedder, bad: np.ndarray) -> None:
    with pytest.raises(ValueError):
        embedder.prepare(bad)


def test_embed_video_matches_the_model_and_is_batch_invariant(embedder, files) -> None:
    _, _, source = files
    batch = torch.stack([embedder.prepare(clip(9, seed=s)) for s in range(3)])
    out = embedder.embed_video(batch)
    assert out.shape == (3, 16) and out.dtype == torch.float32 and out.device.type == "cpu"
    torch.testing.assert_close(out.norm(dim=-1), torch.ones(3))
    with torch.no_grad():
        torch.testing.assert_close(out, source.encode_video(batch), atol=0, rtol=0)
    one_by_one = torch.cat([embedder.embed_video(batch[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(out, one_by_one, atol=1e-6, rtol=0)


def test_embed_video_rejects_wrong_layout(embedder: InternVideo2Embedder) -> None:
    with pytest.raises(ValueError, match=r"expected a batch \(B, 4, 3, 12, 12\)"):
        embedder.embed_video(torch.zeros(1, 3, 4, 12, 12))


def test_embed_text_is_unit_vectors_in_the_video_space(embedder: InternVideo2Embedder) -> None:
    texts = ["w1 w2 w3", "W4", ""]
    out = embedder.embed_text(texts)
    assert out.shape == (3, 16) and out.dtype == torch.float32
    torch.testing.assert_close(out.norm(dim=-1), torch.ones(3))
    torch.testing.assert_close(out[1:2], embedder.embed_text(["w4"]), atol=1e-6, rtol=0)  # lower-cased
    assert embedder.embed_text([]).shape == (0, 16)
    video = embedder.embed_video(embedder.prepare(clip(4))[None])
    (match,) = text_match(video, out, texts)  # the official zero-shot matching: softmax(100 * cos)
    assert sum(match.probs) == pytest.approx(1.0)
    assert match.best_text == texts[(video @ out.T).argmax().item()]


def test_bf16_embedder_returns_float32_close_to_fp32(files, embedder: InternVideo2Embedder) -> None:
    checkpoint, vocab, _ = files
    half = InternVideo2Embedder.from_files(checkpoint, vocab, config=CFG, dtype=torch.bfloat16)
    batch = torch.stack([embedder.prepare(clip(5, seed=s)) for s in range(2)])
    a, b = embedder.embed_video(batch), half.embed_video(batch)
    assert b.dtype == torch.float32
    assert (a * b).sum(-1).min() > 0.99


def test_tokenizer_length_must_match_config(files) -> None:
    _, vocab, model = files
    with pytest.raises(ValueError, match="max_length"):
        InternVideo2Embedder(model, BertTokenizer.from_path(vocab, max_length=CFG.max_txt_len + 1))
