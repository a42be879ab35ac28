"""A tiny Cosmos-Embed1 snapshot for tests: same files, same API, a model small enough for CPU.

The real snapshot ships its model as remote code (``auto_map`` in the configs) and
five safetensors shards. This one does the same, in the hub layout
``{root}/{repo_id}/{revision}/``, with:

- ``configuration_embed1.py``: ``CosmosEmbed1Config`` (embed_dim, num_video_frames,
  resolution, max_txt_len, ...);
- ``modeling_embed1.py``: ``CosmosEmbed1`` with ``get_video_embeddings(videos=)`` ->
  ``.visual_proj`` and ``get_text_embeddings(input_ids=, attention_mask=)`` ->
  ``.text_proj`` and a ``logit_scale`` parameter. Like the official file it imports
  ``apply_chunking_to_forward`` from ``transformers.modeling_utils``, so loading it
  on transformers >= 4.57 needs our shim;
- ``preprocessing_embed1.py``: ``CosmosEmbed1Processor`` taking ``videos=`` uint8
  (B, T, C, H, W) to ``{"videos": float (B, C, T, R, R) in 0..1}`` and ``text=`` to
  BERT ids through a tiny WordPiece vocab.

The weights are set, not random, where it matters: the vision tower sees each
frame's mean R, G and B, and the words "red", "green", "blue" embed to the same
directions, so a red clip really matches the text "red" (a wrong channel order or
a (T, C) mix-up in our wiring breaks that). The rest is seeded noise.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from safetensors.torch import save_file

VOCAB = (
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "red",
    "green",
    "blue",
    "a",
    "video",
    "of",
    "person",
    "riding",
    "bike",
    "the",
    "dog",
)
COLOUR_WORDS = ("red", "green", "blue")  # word i embeds to vision channel i (R, G, B)
WIDTH = 8  # feature width of both towers
PATCH = 16
MAX_TXT_LEN = 16
NUM_VIDEO_FRAMES = 8

CONFIGURATION_PY = """
from transformers import PretrainedConfig


class CosmosEmbed1Config(PretrainedConfig):
    model_type = "cosmos-embed1"

    def __init__(self, embed_dim=768, num_video_frames=8, resolution=224, max_txt_len=128,
                 vocab_size=16, width=8, patch_size=16, chunk_size=4, normalize_embeddings=True,
                 **kwargs):
        self.embed_dim = embed_dim
        self.num_video_frames = num_video_frames
        self.resolution = resolution
        self.max_txt_len = max_txt_len
        self.vocab_size = vocab_size
        self.width = width
        self.patch_size = patch_size
        self.chunk_size = chunk_size
        self.normalize_embeddings = normalize_embeddings
        super().__init__(**kwargs)
"""

MODELING_PY = """
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import ModelOutput
from transformers.modeling_utils import apply_chunking_to_forward

from .configuration_embed1 import CosmosEmbed1Config


@dataclass
class VideoEmbedderOutput(ModelOutput):
    visual_proj: Optional[torch.FloatTensor] = None


@dataclass
class TextEmbedderOutput(ModelOutput):
    text_proj: Optional[torch.FloatTensor] = None


class CosmosEmbed1(PreTrainedModel):
    config_class = CosmosEmbed1Config

    def __init__(self, config):
        super().__init__(config)
        self.patch_embed = nn.Conv2d(3, config.width, config.patch_size, stride=config.patch_size)
        self.vision_proj = nn.Linear(config.width, config.embed_dim)
        self.word_embeddings = nn.Embedding(config.vocab_size, config.width)
        self.text_proj = nn.Linear(config.width, config.embed_dim)
        self.logit_scale = nn.Parameter(torch.zeros(()))
        self.post_init()

    def _finish(self, x):
        return F.normalize(x, dim=-1) if self.config.normalize_embeddings else x

    def get_video_embeddings(self, videos):
        b, c, t, h, w = videos.shape  # (B, C, T, H, W)
        frames = videos.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        per_frame = self.patch_embed(frames).flatten(2).mean(-1)  # (B*T, width)
        pooled = per_frame.reshape(b, t, -1).mean(1)  # (B, width)
        return VideoEmbedderOutput(visual_proj=self._finish(self.vision_proj(pooled)))

    def _project_tokens(self, tokens):
        return self.text_proj(tokens)  # (B, chunk, width) -> (B, chunk, D)

    def get_text_embeddings(self, input_ids, attention_mask):
        tokens = self.word_embeddings(input_ids)  # (B, L, width)
        projected = apply_chunking_to_forward(self._project_tokens, self.config.chunk_size, 1, tokens)
        mask = attention_mask.unsqueeze(-1).to(projected.dtype)  # (B, L, 1)
        pooled = (projected * mask).sum(1) / mask.sum(1).clamp(min=1)  # (B, D)
        return TextEmbedderOutput(text_proj=self._finish(pooled))
"""

PREPROCESSING_PY = """
import numpy as np
import torch
import torch.nn.functional as F
from transformers import BatchFeature
from transformers.processing_utils import ProcessorMixin


class CosmosEmbed1Processor(ProcessorMixin):
    def __init__(self, tokenizer=None, resolution=224, num_video_frames=8, max_txt_len=128, **kwargs):
        self.resolution = resolution
        self.num_video_frames = num_video_frames
        self.max_txt_len = max_txt_len
        super().__init__(tokenizer, **kwargs)

    def __call__(self, text=None, videos=None, return_tensors="pt", **kwargs):
        out = {}
        if videos is not None:
            v = torch.as_tensor(np.asarray(videos))  # (B, T, C, H, W) uint8
            b, t, c, h, w = v.shape
            r = self.resolution
            frames = v.reshape(b * t, c, h, w).float() / 255.0
            frames = F.interpolate(frames, size=(r, r), mode="bilinear", align_corners=False)
            out["videos"] = frames.reshape(b, t, c, r, r).permute(0, 2, 1, 3, 4).contiguous()
        if text is not None:
            out.update(self.tokenizer(text, padding="max_length", truncation=True,
                                      max_length=self.max_txt_len, return_tensors="pt"))
        return BatchFeature(out, tensor_type=return_tensors)
"""

REMOTE_CODE = {
    "configuration_embed1.py": CONFIGURATION_PY,
    "modeling_embed1.py": MODELING_PY,
    "preprocessing_embed1.py": PREPROCESSING_PY,
}
SHARD_NAMES = ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")


def _weights(embed_dim: int, seed: int) -> dict[str, dict[str, torch.Tensor]]:
    """The tiny model's tensors, by shard, in the modeling file's key names."""
    g = torch.Generator().manual_seed(seed)
    patch = torch.zeros(WIDTH, 3, PATCH, PATCH)
    for c in range(3):  # channel c = mean of colour c over the patch
        patch[c, c] = 1.0 / (PATCH * PATCH)
    patch[3:] = 0.05 * torch.randn(WIDTH - 3, 3, PATCH, PATCH, generator=g)
    patch_bias = torch.cat([torch.zeros(3), 0.01 * torch.randn(WIDTH - 3, generator=g)])
    proj = torch.randn(embed_dim, WIDTH, generator=g) / math.sqrt(WIDTH)  # (D, width)

    words = torch.randn(len(VOCAB), WIDTH, generator=g)
    for special in ("[PAD]", "[CLS]", "[SEP]"):  # carry no meaning into the masked mean
        words[VOCAB.index(special)] = 0.0
    for c, word in enumerate(COLOUR_WORDS):
        words[VOCAB.index(word)] = torch.nn.functional.one_hot(torch.tensor(c), WIDTH).float()

    vision = {
        "patch_embed.weight": patch,
        "patch_embed.bias": patch_bias,
        "vision_proj.weight": proj,
        "vision_proj.bias": torch.zeros(embed_dim),
    }
    text = {
        "word_embeddings.weight": words,
        "text_proj.weight": proj.clone(),  # same directions as the vision side
        "text_proj.bias": torch.zeros(embed_dim),
        "logit_scale": torch.tensor(math.log(50.0)),  # not 100: tells the learned scale from the reference one
    }
    return {SHARD_NAMES[0]: vision, SHARD_NAMES[1]: text}


def _write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=2) + "\n")


def build_cosmos_snapshot(
    root: Path,
    *,
    repo_id: str = "nvidia/Cosmos-Embed1-336p",
    revision: str = "0e8a28f",
    embed_dim: int = 768,
    resolution: int = 336,
    normalize_embeddings: bool = True,
    seed: int = 0,
) -> Path:
    """Write the tiny snapshot to ``root/repo_id/revision`` and return that directory."""
    snap = root / repo_id / revision
    snap.mkdir(parents=True, exist_ok=True)
    for name, source in REMOTE_CODE.items():
        (snap / name).write_text(source.lstrip())

    _write_json(
        snap / "config.json",
        {
            "architectures": ["CosmosEmbed1"],
            "auto_map": {
                "AutoConfig": "configuration_embed1.CosmosEmbed1Config",
                "AutoModel": "modeling_embed1.CosmosEmbed1",
            },
            "model_type": "cosmos-embed1",
            "embed_dim": embed_dim,
            "num_video_frames": NUM_VIDEO_FRAMES,
            "resolution": resolution,
            "max_txt_len": MAX_TXT_LEN,
            "vocab_size": len(VOCAB),
            "width": WIDTH,
            "patch_size": PATCH,
            "chunk_size": 4,
            "normalize_embeddings": normalize_embeddings,
        },
    )
    _write_json(
        snap / "processor_config.json",
        {
            "processor_class": "CosmosEmbed1Processor",
            "auto_map": {"AutoProcessor": "preprocessing_embed1.CosmosEmbed1Processor"},
            "resolution": resolution,
            "num_video_frames": NUM_VIDEO_FRAMES,
            "max_txt_len": MAX_TXT_LEN,
        },
    )
    (snap / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    _write_json(
        snap / "tokenizer_config.json",
        {
            "tokenizer_class": "BertTokenizer",
            "do_lower_case": True,
            "model_max_length": MAX_TXT_LEN,
        },
    )

    weight_map: dict[str, str] = {}
    total = 0
    for shard, tensors in _weights(embed_dim, seed).items():
        save_file(tensors, str(snap / shard), metadata={"format": "pt"})
        weight_map.update({key: shard for key in tensors})
        total += sum(t.numel() * t.element_size() for t in tensors.values())
    _write_json(snap / "model.safetensors.index.json", {"metadata": {"total_size": total}, "weight_map": weight_map})
    return snap
