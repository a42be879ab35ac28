"""Code versions that follow the settings each asset's output depends on.

Dagster marks an asset stale when its code version changes, so a partition made
with other clipping, frame or model settings shows as stale in the UI (and in
automation) instead of silently mixing with new ones. Each asset's version
covers only the settings that change its output; throughput knobs (threads,
batch sizes, memory caps, logging) are left out, so tuning them never asks for
a recompute. Upstream changes reach downstream assets through data versions.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from video_assets.settings.config import SCENE_THRESHOLD, Settings

# ModelSettings fields that change speed or logging, never a stored value.
_MODEL_THROUGHPUT = frozenset({"gpu_memory_gb", "num_gpus_per_worker", "num_cpus", "batch_size", "verbose"})
# ModelSettings fields only the embeddings step reads (text-match scores).
_MODEL_TEXT = frozenset({"texts_to_verify", "text_match_scale"})


def settings_hash(value: Any) -> str:
    """8 hex digits of a stable JSON rendering of `value` (tuples and lists alike)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


# fixed_stride never reads scene_threshold, whose default moved from 0.35 to SCENE_THRESHOLD:
# the new default is hashed as the old one, so a settings file that leaves it unset, or holds
# 0.35 as the runner wrote it, keeps the clips version it had (an explicit SCENE_THRESHOLD moves).
_V1_SCENE_THRESHOLD = 0.35
# Revision of each scene detector's cuts at the same settings; bump one when its output
# changes, so only the videos it split are reopened. builtin 2: flashes are not cuts, area-scaled analysis frames.
# A new detector only adds a key: the versions of the others do not move.
SCENE_DETECTOR_REVISIONS = {"builtin": 2, "adaptive": 1, "transnetv2": 1}


def clips_version(settings: Settings) -> str:
    clipping = settings.clipping
    if clipping.method == "fixed_stride":  # hashed exactly as version 1 did
        fields = clipping.model_dump(mode="json", exclude={"scene_detector"})
        if fields["scene_threshold"] == SCENE_THRESHOLD:
            fields["scene_threshold"] = _V1_SCENE_THRESHOLD
        return f"1-{settings_hash(fields)}"
    unread = {"scene_threshold"} if clipping.scene_detector != "builtin" else set()
    fields = clipping.model_dump(mode="json", exclude=unread)
    return f"1-{settings_hash([fields, SCENE_DETECTOR_REVISIONS[clipping.scene_detector]])}"


def frames_version(settings: Settings, extra_signatures: tuple[str, ...] = ()) -> str:
    """`extra_signatures`: what the frames asset extracts beyond frames.policies x target_fps
    for the models' own rates (stages/resolved.py); without any, the hash is that of the settings alone."""
    fields = settings.frames.model_dump(mode="json", exclude={"num_threads"})
    return f"1-{settings_hash([fields, list(extra_signatures)] if extra_signatures else fields)}"


def tensors_version(settings: Settings, model: str, revision: str) -> str:
    fields = settings.model(model).model_dump(mode="json", exclude=set(_MODEL_THROUGHPUT | _MODEL_TEXT))
    return f"1-{revision}-{settings_hash([fields, settings.tensor_dtype])}"


def embeddings_version(settings: Settings, model: str, revision: str) -> str:
    fields = settings.model(model).model_dump(mode="json", include=set(_MODEL_TEXT))
    return f"1-{revision}-{settings_hash([fields, settings.dtype])}"


def index_version(clips: str, frames: str, tensors: str, embeddings: str) -> str:
    """Everything a model's index rows depend on (the four upstream code versions): the
    ledger's test of "done for these settings".

    A video whose rows were made under another version is not done: the next plain
    `run` redoes it, as the stale marks in the UI say it should.
    """
    return settings_hash([clips, frames, tensors, embeddings])
