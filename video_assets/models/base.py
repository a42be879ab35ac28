"""The embedder interface. Asset code talks only to this.

An embedder turns the frames of one clip into model-ready tensors (`prepare`,
NeMo Curator's "frame creation") and batches of those into L2-normalised
vectors (`embed_video`); embedders with a text tower also embed text.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import torch


class TextNotSupportedError(ValueError):
    """Raised when text is asked of an embedder that has no text tower."""

    def __init__(self, name: str) -> None:
        self.name = name  # the embedder, or the enabled ones joined by ", " (query.default_model)
        super().__init__(
            f"embedder {name!r} has no text tower: search it by example clip or file "
            "(--like-clip / --like-file), or pick a model with text (e.g. --model internvideo2)"
        )


@dataclass(frozen=True)
class EmbedderSpec:
    """What an embedder declares about itself (registry entry and asset metadata)."""

    name: str
    frames_per_clip: int
    resolution: tuple[int, int]  # (H, W) of the model input
    dim: int
    has_text: bool
    model_id: str  # hub repo id, or "builtin" for weights-free embedders
    revision: str  # pinned hub revision, or the algorithm version
    target_fps: float = 2.0
    max_fps: float = 20.0  # re-extraction doubles fps up to this (NeMo Curator's cap)
    gpu_memory_gb: float = 0.0
    num_gpus_per_worker: float = 0.0
    num_cpus: int = 1


class Embedder(ABC):
    """A loaded model. Subclasses hold their weights on `self.device` in `self.dtype`."""

    spec: EmbedderSpec
    device: torch.device = torch.device("cpu")
    dtype: torch.dtype = torch.float32

    @abstractmethod
    def prepare(self, frames: np.ndarray) -> torch.Tensor:
        """Frames of one clip, RGB uint8 (N, H, W, 3) with N >= frames_per_clip,
        to the model input of that clip (no batch dim). Frame choice happens here."""

    @abstractmethod
    def embed_video(self, batch: torch.Tensor) -> torch.Tensor:
        """A batch of prepared tensors (B, ...) to unit vectors (B, dim), float32 on CPU."""

    def embed_text(self, texts: list[str]) -> torch.Tensor:
        """Texts to unit vectors (len(texts), dim), float32 on CPU."""
        raise TextNotSupportedError(self.spec.name)

    @property
    def logit_scale(self) -> float | None:
        """The model's own learned multiplier for text-match logits, if it has one."""
        return None
