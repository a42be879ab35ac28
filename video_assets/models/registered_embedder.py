"""One entry of the embedder registry: a model's spec, its pinned weights, and how it loads.

Apart from the registry (embedder_registry.py) so the built-in entries (builtin_embedders.py)
can be declared with it while the registry imports them, without a cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from video_assets.models.base import Embedder, EmbedderSpec
from video_assets.models.hub import ModelHub
from video_assets.models.runtime import MODEL_CACHE, ModelKey
from video_assets.models.weights import WeightSpec
from video_assets.settings.config import ModelSettings

Loader = Callable[[ModelHub, torch.device, torch.dtype, ModelSettings], Embedder]
Preprocessor = Callable[[np.ndarray], torch.Tensor]


@dataclass(frozen=True)
class RegisteredEmbedder:
    spec: EmbedderSpec
    weights: WeightSpec | None  # None: weights-free (or test-made) embedder
    load: Loader
    # Frame creation without the model weights (for the CPU-side tensors asset), given the
    # hub and the model's settings; None means "load the model on the CPU and use its prepare".
    make_preprocessor: Callable[[ModelHub, ModelSettings], Preprocessor] | None = None
    # Whether `ModelSettings.num_frames` may change frames_per_clip (the loader and the
    # preprocessor then honour it).
    variable_frames: bool = False

    def spec_for(self, options: ModelSettings | None = None) -> EmbedderSpec:
        """The spec under these settings: frames_per_clip follows `num_frames` where allowed."""
        frames = options.num_frames if options is not None else None
        if frames is None or frames == self.spec.frames_per_clip:
            return self.spec
        if not self.variable_frames:
            raise ValueError(
                f"models.{self.spec.name}.num_frames: {self.spec.name} takes exactly "
                f"{self.spec.frames_per_clip} frames per clip, got {frames}"
            )
        return replace(self.spec, frames_per_clip=frames)

    def load_cached(
        self, hub: ModelHub, device: torch.device, dtype: torch.dtype, options: ModelSettings | None = None
    ) -> Embedder:
        key = self.cache_key(device, dtype, self.weight_dirs(hub), options)
        return MODEL_CACHE.get_or_load(key, lambda: self.load(hub, device, dtype, options or ModelSettings()))

    def weight_dirs(self, hub: ModelHub) -> list:
        return [hub.local_dir(repo) for repo in self.weights.repos] if self.weights else []

    def cache_key(
        self, device: torch.device, dtype: torch.dtype, dirs: Sequence = (), options: ModelSettings | None = None
    ) -> ModelKey:
        """The process-wide cache key of this model: the weight dirs and the frame count are part
        of it (another model_dir or T is another model)."""
        spec = self.spec_for(options)
        return ModelKey.of(f"{spec.name}@{spec.revision}/f{spec.frames_per_clip}", device, dtype, list(dirs))

    def preprocessor(self, hub: ModelHub, options: ModelSettings | None = None) -> Preprocessor:
        if self.make_preprocessor is not None:
            return self.make_preprocessor(hub, options or ModelSettings())
        return self.load_cached(hub, torch.device("cpu"), torch.float32, options).prepare

    def weights_present(self, hub: ModelHub) -> bool:
        return self.weights is None or hub.status(self.weights).state == "present"
