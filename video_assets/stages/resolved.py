"""Settings resolved once: every path, and per model every value the graph runs with.

`resolve(settings)` is the one place where a model's spec meets its `models.<name>`
overrides, where the data paths are derived and where the frame signatures the
frames asset extracts are fixed. Definitions, the `run` command, queries and removal
all read from it, so the asset that writes a value and the command that reads it
can never disagree.

Nothing is resolved again at run time and the Dagster launchpad has no pipeline
settings to edit: a run uses the settings file its code location was loaded with
(`VIDEO_ASSETS_SETTINGS`). Change the file and reload the code location; the code
versions then mark what the change makes stale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from video_assets.media.frames import FramePolicy, FrameSignature
from video_assets.models.base import EmbedderSpec
from video_assets.models.embedder_registry import RegisteredEmbedder, enabled_embedders
from video_assets.models.hub import ModelHub
from video_assets.settings.config import ModelSettings, Settings
from video_assets.settings.data_paths import DataPaths
from video_assets.settings.versions import (
    clips_version,
    embeddings_version,
    frames_version,
    index_version,
    tensors_version,
)
from video_assets.stages.frame_creation import FrameRecipe
from video_assets.stages.frames import signatures


@dataclass(frozen=True)
class ModelPlan:
    """One embedder under the settings: what its three assets run with."""

    entry: RegisteredEmbedder
    spec: EmbedderSpec  # frames_per_clip follows models.<name>.num_frames where the model allows it
    options: ModelSettings  # models.<name> as given: texts_to_verify, batch_size, verbose, ...
    target_fps: float
    num_gpus_per_worker: float  # fractions share a GPU (docs/scale.md says how each launcher honours them)
    num_cpus: int  # CPU request and the decode threads of re-extraction
    gpu_memory_gb: float | None  # the CUDA allocator cap; None = no cap
    recipe: FrameRecipe  # how its frames are made from a clip (tensors asset and --like-file)
    tensors_version: str
    embeddings_version: str
    index_version: str  # everything the model's index rows depend on: the ledger's "done" test

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def frame_signature(self) -> FrameSignature:
        """The frames this model's tensors start from (re-extraction may add more)."""
        return FrameSignature(FramePolicy.SEQUENCE, self.target_fps)

    @property
    def pool(self) -> str | None:
        """The Dagster pool its embedding step runs in: one slot per GPU share."""
        return "gpu" if self.num_gpus_per_worker > 0 else None


@dataclass(frozen=True)
class Resolved:
    settings: Settings
    paths: DataPaths
    # What the frames asset extracts: frames.policies x frames.target_fps, plus each model's
    # sequence rate, so no model decodes its clips a second time.
    frame_signatures: tuple[FrameSignature, ...]
    clips_version: str
    frames_version: str
    models: tuple[ModelPlan, ...]

    @property
    def model_names(self) -> list[str]:
        return [m.name for m in self.models]

    def model(self, name: str) -> ModelPlan:
        for plan in self.models:
            if plan.name == name:
                return plan
        raise KeyError(f"model {name!r} is not enabled; enabled: {', '.join(self.model_names) or 'none'}")

    @property
    def required_index_versions(self) -> dict[str, str]:
        """model -> index version of every enabled model: what makes a video done."""
        return {m.name: m.index_version for m in self.models}


def resolve(settings: Settings, embedders: Sequence[RegisteredEmbedder] | None = None) -> Resolved:
    """Everything the graph runs with. `embedders`: the enabled ones (default: from the settings
    and the weights present under the model dir)."""
    paths = settings.paths
    if embedders is None:
        embedders = enabled_embedders(settings.enabled_models, ModelHub(paths.model_dir))
    # The frames asset extracts what the settings name plus every model's own rate, so the frames
    # version (part of each model's index version) is known before the plans are made.
    configured = signatures(settings.frames)
    model_rates = [FrameSignature(FramePolicy.SEQUENCE, _target_fps(settings, e)) for e in embedders]
    extra = [sig for sig in dict.fromkeys(model_rates) if sig not in configured]
    clips_v = clips_version(settings)
    frames_v = frames_version(settings, tuple(s.key for s in extra))
    plans = tuple(_plan_model(settings, entry, clips_v, frames_v) for entry in embedders)
    return Resolved(settings, paths, tuple(configured + extra), clips_v, frames_v, plans)


def _target_fps(settings: Settings, entry: RegisteredEmbedder) -> float:
    return settings.model(entry.spec.name).target_fps or entry.spec.target_fps


def _plan_model(settings: Settings, entry: RegisteredEmbedder, clips_v: str, frames_v: str) -> ModelPlan:
    name = entry.spec.name
    options = settings.model(name)
    spec = entry.spec_for(options)
    target_fps = _target_fps(settings, entry)
    num_cpus = options.num_cpus or spec.num_cpus
    tensors_v = tensors_version(settings, name, spec.revision)
    embeddings_v = embeddings_version(settings, name, spec.revision)
    return ModelPlan(
        entry=entry,
        spec=spec,
        options=options,
        target_fps=target_fps,
        num_gpus_per_worker=spec.num_gpus_per_worker
        if options.num_gpus_per_worker is None
        else options.num_gpus_per_worker,
        num_cpus=num_cpus,
        gpu_memory_gb=(spec.gpu_memory_gb if options.gpu_memory_gb is None else options.gpu_memory_gb) or None,
        recipe=FrameRecipe.for_spec(spec, settings.frames, target_fps, num_threads=num_cpus),
        tensors_version=tensors_v,
        embeddings_version=embeddings_v,
        index_version=index_version(clips_v, frames_v, tensors_v, embeddings_v),
    )


def gpus_requested(num_gpus_per_worker: float) -> int:
    """Whole GPUs a Kubernetes pod asks for: the device plugin counts devices (or time-sliced
    replicas), never fractions, so a share rounds up to one."""
    return math.ceil(num_gpus_per_worker) if num_gpus_per_worker > 0 else 0
