"""Load an official InternVideo2-Stage2 checkpoint into `InternVideo2Model`, strictly.

Keys map 1:1. The checkpoint also holds training-only tensors; each family is listed
below and dropped on purpose. A video ``pos_embed`` made for another frame count or
resolution is interpolated to the model's grid first, as the official loader does
(`internvideo2_pos_embed`). Any other extra key, any missing key and any shape
difference is an error that names the keys, so a wrong file or config never loads
silently half-way.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors.torch import load_file
from torch import nn

from video_assets.models.internvideo2_pos_embed import resize_pos_embeds

if TYPE_CHECKING:
    from video_assets.models.internvideo2 import InternVideo2Model

logger = logging.getLogger(__name__)

# Training-only keys of the released checkpoint, ignored on purpose:
IGNORED_KEYS = frozenset(
    {
        "vision_encoder.clip_pos_embed",  # pos-embed of the CLIP-distillation decoder
        "vision_encoder.clip_img_pos_embed",
        "temp",  # contrastive temperature; matching uses a fixed 100 instead
        "text_encoder.bert.embeddings.position_ids",  # constant arange buffer, rebuilt per call
    }
)
IGNORED_PREFIXES = (
    "vision_encoder.clip_decoder.",  # distillation heads towards the CLIP teacher
    "vision_encoder.final_clip_decoder.",
    "text_encoder.cls.predictions.",  # MLM head
    "itm_head.",  # video-text matching head
)


class CheckpointMismatchError(ValueError):
    """The checkpoint does not fit the model built from the config."""


@dataclass(frozen=True)
class LoadReport:
    container: str  # "model", "module" or "bare"
    loaded: int  # tensors copied into the model
    ignored: tuple[str, ...]  # training-only keys dropped on purpose
    interpolated: tuple[str, ...] = ()  # pos-embeds resized to the model's (T, H, W) grid


def is_ignored(key: str) -> bool:
    return key in IGNORED_KEYS or key.startswith(IGNORED_PREFIXES)


def read_state_dict(path: Path) -> tuple[dict[str, torch.Tensor], str]:
    """The tensors of a .pt/.pth (container ``model``, ``module`` or bare) or a .safetensors file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"InternVideo2 checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        return load_file(str(path)), "bare"
    # mmap keeps a 1B checkpoint out of RAM until its tensors are used; only the zip format
    # (torch >= 1.6) supports it.
    mmap = zipfile.is_zipfile(path)
    obj = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    if not isinstance(obj, Mapping):
        raise CheckpointMismatchError(f"{path}: expected a dict of tensors, got {type(obj).__name__}")
    for container in ("model", "module"):
        if container in obj and isinstance(obj[container], Mapping):
            return dict(obj[container]), container
    return dict(obj), "bare"


def _short(keys: list[str], limit: int = 20) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def check_state_dict(state_dict: Mapping[str, torch.Tensor], model: nn.Module) -> list[str]:
    """Raise `CheckpointMismatchError` on missing, unexpected or mis-shaped keys;
    return the ignored training-only keys."""
    expected = model.state_dict()
    ignored = sorted(k for k in state_dict if is_ignored(k))
    unexpected = sorted(k for k in state_dict if k not in expected and not is_ignored(k))
    missing = sorted(k for k in expected if k not in state_dict)
    mis_shaped = [
        f"{key}: checkpoint {tuple(state_dict[key].shape)}, model {tuple(expected[key].shape)}"
        for key in sorted(set(expected) & set(state_dict))
        if tuple(expected[key].shape) != tuple(state_dict[key].shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing keys: {_short(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_short(unexpected)}")
    if mis_shaped:
        problems.append(f"wrong shapes: {_short(mis_shaped, limit=10)}")
    if problems:
        raise CheckpointMismatchError(
            "checkpoint does not match the InternVideo2 config (is it the right file, and does "
            "the config match its sizes?): " + "; ".join(problems)
        )
    return ignored


def load_internvideo2_checkpoint(path: Path, model: InternVideo2Model, *, assign: bool = False) -> LoadReport:
    """Load ``path`` into ``model`` strictly, after resizing video pos-embeds made for
    another grid. ``assign=True`` adopts the checkpoint tensors (use it for a model built
    on the meta device, then move it with ``.to``)."""
    state_dict, container = read_state_dict(path)
    # Only keys the model has are resized: training-only ones (clip_pos_embed) are dropped below.
    model_shapes = {k: v.shape for k, v in model.state_dict().items()}
    vision = model.vision_encoder.cfg
    interpolated = resize_pos_embeds(state_dict, model_shapes, vision)
    if interpolated:
        logger.info(
            "%s: interpolated %s to %d frames at %dpx",
            path,
            ", ".join(interpolated),
            vision.num_frames,
            vision.img_size,
        )
    ignored = check_state_dict(state_dict, model)
    kept = {k: v for k, v in state_dict.items() if not is_ignored(k)}
    model.load_state_dict(kept, strict=True, assign=assign)
    return LoadReport(container=container, loaded=len(kept), ignored=tuple(ignored), interpolated=tuple(interpolated))
