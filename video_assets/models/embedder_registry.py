"""The embedder registry: every model the graph can run, by name.

An entry declares its spec and pinned weights and knows how to load itself from
a `ModelHub`. Loading is lazy (torch models and transformers are imported only
when a model is used) and cached per process, so a worker that runs many
partitions loads each model once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from video_assets.config import ModelSettings
from video_assets.models.base import Embedder, EmbedderSpec
from video_assets.models.hub import ModelHub
from video_assets.models.runtime import MODEL_CACHE, ModelKey
from video_assets.models.weights import WeightSpec

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


_REGISTRY: dict[str, RegisteredEmbedder] = {}


def register(entry: RegisteredEmbedder) -> None:
    """Add (or replace) an embedder; tests register tiny models this way."""
    _REGISTRY[entry.spec.name] = entry


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def get(name: str) -> RegisteredEmbedder:
    _ensure_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown embedder {name!r}; registered: {', '.join(sorted(_REGISTRY))}") from None


def registered() -> dict[str, RegisteredEmbedder]:
    _ensure_builtins()
    return dict(_REGISTRY)


def enabled_embedders(names: Sequence[str] | None, hub: ModelHub) -> list[RegisteredEmbedder]:
    """The configured embedders; by default those whose weights are present, plus fingerprint."""
    if names is not None:
        return [get(n) for n in names]
    return [e for e in registered().values() if e.weights is None or e.weights_present(hub)]


def default_skipped(hub: ModelHub) -> list[RegisteredEmbedder]:
    """Learned embedders left out of the default set because their weights are absent."""
    return [e for e in registered().values() if not e.weights_present(hub)]


def _ensure_builtins() -> None:
    if "fingerprint" in _REGISTRY:
        return
    from video_assets.models import builtin_embedders

    for entry in builtin_embedders.entries():
        _REGISTRY.setdefault(entry.spec.name, entry)
