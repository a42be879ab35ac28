"""Typed settings, one place for every default.

Settings that shape the asset graph (which models, their GPU requests, clip and
frame parameters) are read when the definitions are built: from a JSON file named
by ``VIDEO_ASSETS_SETTINGS`` and/or the ``VIDEO_ASSETS_INPUT_DIR`` /
``VIDEO_ASSETS_DATA_DIR`` variables. Every value in force is written into the
asset metadata, so no switch changes behaviour without a trace.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".flv", ".wmv")


class _Strict(BaseModel):
    # Unknown keys are errors: config that is accepted and ignored is a bug.
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClippingSettings(_Strict):
    method: Literal["fixed_stride", "scene_cut"] = "fixed_stride"
    clip_len_s: float = Field(10.0, gt=0)
    stride_s: float = Field(10.0, gt=0)
    min_clip_len_s: float = Field(2.0, ge=0)
    max_clip_len_s: float = Field(10.0, gt=0)  # scene_cut: longer scenes are split
    scene_threshold: float = Field(0.35, gt=0, lt=1)
    transcode: bool = False  # write each clip as its own H.264 MP4


class FrameSettings(_Strict):
    policies: tuple[Literal["sequence", "middle"], ...] = ("sequence",)
    target_fps: tuple[float, ...] = (2.0,)
    target_res: tuple[int, int] = (-1, -1)  # (H, W); (-1, -1) = native
    backend: Literal["pyav", "decord"] = "pyav"
    num_threads: int = Field(0, ge=0)  # 0 = let the decoder choose
    # How the frames asset stores frames: "raw" RGB arrays (exact; zstd Parquet) or one
    # JPEG per frame (lossy, 2.4-3.4x smaller files at quality 95 on 720p test patterns,
    # see benchmarks/frame_storage.py); readers decode either.
    storage: Literal["raw", "jpeg"] = "raw"
    # Used by storage="jpeg" only. Not an error under "raw": saved settings carry the
    # default, and they are read back on every run.
    jpeg_quality: int = Field(95, ge=1, le=100)

    @field_validator("target_fps")
    @classmethod
    def _positive_fps(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value or any(f <= 0 for f in value):
            raise ValueError(f"target_fps must be positive numbers, got {value}")
        return value


class ModelSettings(_Strict):
    """Per-embedder overrides; None means the embedder's own default (its spec)."""

    target_fps: float | None = Field(None, gt=0)
    # Frames per clip, for embedders that can change it (InternVideo2: its 4-frame checkpoint's
    # positional embedding is interpolated over time at load); others refuse it.
    num_frames: int | None = Field(None, ge=1, le=64)
    gpu_memory_gb: float | None = Field(None, ge=0)
    num_gpus_per_worker: int | None = Field(None, ge=0)
    num_cpus: int | None = Field(None, ge=1)
    batch_size: int | None = Field(None, ge=1)  # None = from the memory cap
    texts_to_verify: tuple[str, ...] = ()
    # "reference": softmax(100 * cos), as NeMo Curator; "model": the model's own learned
    # logit scale (Cosmos-Embed1's logit_scale.exp()).
    text_match_scale: Literal["reference", "model"] = "reference"
    verbose: bool = False
    # Cosmos-Embed1 runs the snapshot's own code: approve a reviewed snapshot whose code
    # hashes are not in our pin table yet by its manifest hash (logged on every load).
    trust_snapshot_sha256: str | None = None


class Settings(_Strict):
    input_dir: Path = Path("videos")
    data_dir: Path = Path("data")
    lancedb_uri: str | None = None  # default: <data_dir>/lancedb
    model_dir: Path | None = None  # default: <data_dir>/models
    videos_per_partition: int = Field(1, ge=1)
    video_extensions: tuple[str, ...] = VIDEO_EXTENSIONS
    clipping: ClippingSettings = ClippingSettings()
    frames: FrameSettings = FrameSettings()
    # None = every registered embedder whose weights are present, plus fingerprint.
    enabled_models: tuple[str, ...] | None = None
    models: dict[str, ModelSettings] = Field(default_factory=dict)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    dtype: Literal["auto", "bf16", "fp16", "fp32"] = "auto"
    tensor_dtype: Literal["float16", "float32"] = "float16"  # model tensors on disk

    @property
    def resolved_lancedb_uri(self) -> str:
        return self.lancedb_uri or str(self.data_dir / "lancedb")

    @property
    def resolved_model_dir(self) -> Path:
        return self.model_dir or self.data_dir / "models"

    def model(self, name: str) -> ModelSettings:
        return self.models.get(name, ModelSettings())

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        data: dict = {}
        if path := env.get("VIDEO_ASSETS_SETTINGS"):
            data = json.loads(Path(path).read_text())
        if value := env.get("VIDEO_ASSETS_INPUT_DIR"):
            data["input_dir"] = value
        if value := env.get("VIDEO_ASSETS_DATA_DIR"):
            data["data_dir"] = value
        return cls.model_validate(data)
