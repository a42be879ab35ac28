"""InternVideo2-Stage2 1B (224p, 4 frames): our own PyTorch model and its `Embedder`.

Video path (NeMo Curator's, with our uniform frame choice): 4 frames spread over the
clip, resized to 224x224, ImageNet-normalised, through the ViT + attention pooling,
``vision_proj`` and L2 norm. Text path: bert-large-uncased tokens (40), BERT layers
0..18, [CLS], ``text_proj``, L2 norm. Matching is ``softmax(100 * v @ t.T)``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from video_assets.models import pins
from video_assets.models.base import Embedder, EmbedderSpec
from video_assets.models.bert_tokenizer import BertTokenizer
from video_assets.models.frame_selection import select_uniform
from video_assets.models.internvideo2_checkpoint import load_internvideo2_checkpoint
from video_assets.models.internvideo2_config import InternVideo2Config
from video_assets.models.internvideo2_text import InternVideo2TextEncoder
from video_assets.models.internvideo2_vision import InternVideo2VisionEncoder

INTERNVIDEO2_SPEC = EmbedderSpec(
    name="internvideo2",
    frames_per_clip=4,
    resolution=(224, 224),
    dim=512,
    has_text=True,
    model_id=pins.INTERNVIDEO2.repo_id,
    revision=pins.INTERNVIDEO2.revision,
    target_fps=2.0,
    gpu_memory_gb=10.0,
    num_gpus_per_worker=1,
)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class InternVideo2Model(nn.Module):
    """Top level with the official attribute names, so checkpoint keys map 1:1."""

    def __init__(self, config: InternVideo2Config) -> None:
        super().__init__()
        self.config = config
        self.vision_encoder = InternVideo2VisionEncoder(config.vision)
        self.text_encoder = InternVideo2TextEncoder(config.text)
        self.vision_proj = nn.Linear(config.vision.clip_embed_dim, config.embed_dim)
        self.text_proj = nn.Linear(config.text.hidden_size, config.embed_dim)

    def encode_video(self, video: torch.Tensor) -> torch.Tensor:
        """[B, T, C, H, W] (T = num_frames, or 1 for an image) to unit vectors [B, embed_dim]."""
        pooled = self.vision_encoder(video.permute(0, 2, 1, 3, 4))  # encoder wants [B, C, T, H, W]
        return F.normalize(self.vision_proj(pooled), dim=-1)

    def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(B, L) token ids and 0/1 mask to unit vectors [B, embed_dim]."""
        cls = self.text_encoder(input_ids, attention_mask)
        return F.normalize(self.text_proj(cls), dim=-1)


def spec_for(config: InternVideo2Config) -> EmbedderSpec:
    """The registry spec, with the sizes of ``config`` (they differ only for test configs)."""
    size = config.vision.img_size
    return replace(
        INTERNVIDEO2_SPEC, frames_per_clip=config.vision.num_frames, resolution=(size, size), dim=config.embed_dim
    )


def prepare_frames(frames: np.ndarray, num_frames: int, size: tuple[int, int]) -> torch.Tensor:
    """RGB uint8 (N, H, W, 3) -> (T, 3, S, S) float32, normalised with ImageNet mean/std.

    Needs no weights, so the CPU-side tensors step runs it without loading the model.
    Frames are the centres of T equal segments (`select_uniform`), not Curator's
    ``frames[::N//T][:T]``, which can miss the end of the clip.
    Resize is bilinear with half-pixel centres and no antialiasing, then rounded to
    integers: what ``cv2.resize(INTER_LINEAR)`` on uint8 frames gives the official
    pipeline, up to cv2's fixed-point rounding (off by at most one grey level).
    """
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"expected RGB uint8 frames (N, H, W, 3), got {frames.dtype} {frames.shape}")
    chosen = select_uniform(frames, num_frames)  # (T, H, W, 3)
    x = torch.from_numpy(np.ascontiguousarray(chosen)).permute(0, 3, 1, 2).float()  # (T, 3, H, W)
    if tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=False)
        x = x.round().clamp_(0, 255)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return ((x / 255.0 - mean) / std).contiguous()


class InternVideo2Embedder(Embedder):
    """Prepared tensors are (T, C, H, W) float32 per clip, so a batch is [B, T, C, H, W]:
    the layout the official model entry (and NeMo Curator) takes.

    Built from files with `from_files`, or around a built model (tests, custom loading) with
    the constructor, which moves the model to device/dtype in place."""

    def __init__(
        self,
        model: InternVideo2Model,
        tokenizer: BertTokenizer,
        *,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if tokenizer.max_length != model.config.max_txt_len:
            raise ValueError(
                f"tokenizer max_length {tokenizer.max_length} != config max_txt_len {model.config.max_txt_len}"
            )
        self.config = model.config
        self.spec = spec_for(model.config)
        self.device = torch.device(device)
        self.dtype = dtype
        self.model = model.to(device=self.device, dtype=dtype).eval()
        self.tokenizer = tokenizer

    @classmethod
    def from_files(
        cls,
        checkpoint: Path,
        vocab: Path,
        *,
        config: InternVideo2Config | None = None,
        num_frames: int | None = None,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> InternVideo2Embedder:
        """The official .pt (or a .safetensors) plus bert-large-uncased's vocab.txt / tokenizer.json.

        ``num_frames`` (None: the config's, 4 by default) builds the model, `prepare` and the
        spec for that many frames per clip; the checkpoint's pos-embed is interpolated."""
        config = config or InternVideo2Config()
        if num_frames is not None:
            config = config.with_num_frames(num_frames)
        # Built on the meta device and filled by assignment: no 1B random init, one copy in RAM.
        with torch.device("meta"):
            model = InternVideo2Model(config)
        load_internvideo2_checkpoint(Path(checkpoint), model, assign=True)
        tokenizer = BertTokenizer.from_path(Path(vocab), max_length=config.max_txt_len)
        return cls(model, tokenizer, device=device, dtype=dtype)

    def prepare(self, frames: np.ndarray) -> torch.Tensor:
        """RGB uint8 (N, H, W, 3) -> (T, 3, S, S) float32; see `prepare_frames`."""
        return prepare_frames(frames, self.spec.frames_per_clip, self.spec.resolution)

    def embed_video(self, batch: torch.Tensor) -> torch.Tensor:
        """[B, T, 3, S, S] prepared clips to (B, dim) float32 unit vectors on CPU."""
        expected = (self.spec.frames_per_clip, 3, *self.spec.resolution)
        if batch.ndim != 5 or tuple(batch.shape[1:]) != expected:
            raise ValueError(f"expected a batch (B, {', '.join(map(str, expected))}), got {tuple(batch.shape)}")
        with torch.inference_mode():
            out = self.model.encode_video(batch.to(device=self.device, dtype=self.dtype))
        return out.float().cpu()

    def embed_text(self, texts: list[str]) -> torch.Tensor:
        """Texts to (len(texts), dim) float32 unit vectors on CPU."""
        if not texts:
            return torch.empty(0, self.spec.dim)
        tokens = self.tokenizer(texts)
        with torch.inference_mode():
            out = self.model.encode_text(tokens.input_ids.to(self.device), tokens.attention_mask.to(self.device))
        return out.float().cpu()
