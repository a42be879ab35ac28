"""Cosmos-Embed1 (224p / 336p / 448p), run through its own pinned code.

The official modelling code ships only inside the hub repos, and the parts that
decide the numbers (temporal encoding, pooling of the query outputs, the
processor's resize and normalisation) are published nowhere else, so a
re-implementation could not be checked. We run the model's own code through
transformers' ``AutoModel`` / ``AutoProcessor`` with ``trust_remote_code=True``,
but only from a snapshot that `snapshot_pin.verify_snapshot` accepts. Frame creation
(`CosmosEmbed1Preprocessor`) needs only the processor, so the CPU-side tensors step
never loads the model. See docs/cosmos_embed1.md for the choice and the differences
from NeMo Curator.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from video_assets.models import pins
from video_assets.models.base import Embedder, EmbedderSpec
from video_assets.models.frame_selection import select_uniform
from video_assets.models.snapshot_pin import (
    DEFAULT_PINS,
    Pin,
    VerifiedSnapshot,
    verify_snapshot,
)
from video_assets.models.transformers_compat import install_remote_code_shims

logger = logging.getLogger(__name__)

FRAMES_PER_CLIP = 8  # the processor's num_video_frames; the model is tuned for 8 frames


def _variant(resolution: int, dim: int) -> EmbedderSpec:
    pin = pins.COSMOS_EMBED1[f"{resolution}p"]
    return EmbedderSpec(
        name=f"cosmos_embed1_{resolution}p",
        frames_per_clip=FRAMES_PER_CLIP,
        resolution=(resolution, resolution),
        dim=dim,
        has_text=True,
        model_id=pin.repo_id,
        revision=pin.revision,
        target_fps=2.0,
        gpu_memory_gb=20.0,
        num_gpus_per_worker=1,
        num_cpus=3,
    )


# Repos and revisions from the pin table (models/pins.py).
VARIANTS: dict[str, EmbedderSpec] = {
    spec.name: spec
    for spec in (
        _variant(224, 256),
        _variant(336, 768),
        _variant(448, 768),
    )
}
DEFAULT_VARIANT = "cosmos_embed1_336p"


class NonFiniteEmbeddingError(FloatingPointError):
    """The model returned NaN or inf (e.g. an overflow in half precision)."""


def variant_spec(variant: str) -> EmbedderSpec:
    try:
        return VARIANTS[variant]
    except KeyError:
        raise ValueError(f"unknown Cosmos-Embed1 variant {variant!r}; choose one of {', '.join(VARIANTS)}") from None


def _as_hw(resolution: Any) -> tuple[int, int] | None:
    """A config's resolution (int, or [H, W]) as (H, W); None when the config has none."""
    if resolution is None:
        return None
    if isinstance(resolution, int):
        return (resolution, resolution)
    height, width = resolution
    return (int(height), int(width))


def _refuse_if_other_variant(
    spec: EmbedderSpec, snapshot_dir: Path, found: dict[str, Any], expected: dict[str, Any]
) -> None:
    """Refuse a snapshot whose configs say it is another variant than the one asked for."""
    wrong = [f"{k} {found[k]} (expected {expected[k]})" for k in expected if found[k] != expected[k]]
    if wrong:
        raise ValueError(f"snapshot {snapshot_dir} is not {spec.name}: {', '.join(wrong)}")


def _load_processor(snapshot: VerifiedSnapshot) -> Any:
    """The snapshot's own ``AutoProcessor`` (remote code), from a verified snapshot only."""
    try:
        from transformers import AutoProcessor
    except ImportError as e:
        raise ImportError("Cosmos-Embed1 runs through transformers: pip install 'video-assets[cosmos]'") from e
    install_remote_code_shims()
    return AutoProcessor.from_pretrained(str(snapshot.path), trust_remote_code=True, local_files_only=True)


def _unit_rows(x: torch.Tensor, dim: int, what: str) -> torch.Tensor:
    """Model output (B, dim) as unit float32 rows on the CPU; refuses NaN/inf and zero rows."""
    x = x.detach().to("cpu", torch.float32)
    if x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"{what} has shape {tuple(x.shape)}, expected (B, {dim})")
    bad = (~torch.isfinite(x)).any(dim=1).nonzero().flatten().tolist()
    if bad:
        raise NonFiniteEmbeddingError(f"{what} is NaN/inf in rows {bad}")
    norms = x.norm(dim=1, keepdim=True)  # (B, 1)
    if (norms == 0).any():
        raise ValueError(f"{what} has all-zero rows; cannot normalise")
    # The card calls the outputs normalised (not verified in the code we could read);
    # in bf16 the norms drift by ~1e-3 anyway, so re-normalise whatever is off.
    if not torch.allclose(norms, torch.ones_like(norms), atol=1e-5):
        x = x / norms
    return x


class CosmosEmbed1Preprocessor:
    """Frame creation for one variant with the snapshot's own processor, without the model.

    The CPU-side tensors step needs only this; the snapshot is verified exactly as for
    the embedder (which delegates its `prepare` here), so no unapproved code runs.
    """

    def __init__(self, spec: EmbedderSpec, processor: Any, snapshot: VerifiedSnapshot) -> None:
        self.spec = spec
        self.processor = processor
        self.snapshot = snapshot

    @classmethod
    def from_snapshot(
        cls,
        snapshot_dir: Path,
        variant: str = DEFAULT_VARIANT,
        *,
        pins: Sequence[Pin] = DEFAULT_PINS,
        trust_snapshot_sha256: str | None = None,
    ) -> CosmosEmbed1Preprocessor:
        """Verify the snapshot (revision, files, code hashes), then load only its processor.

        ``snapshot_dir`` is ``{model_dir}/{repo_id}/{revision}`` as the model hub lays it out.
        """
        spec = variant_spec(variant)
        snapshot = verify_snapshot(
            Path(snapshot_dir),
            repo_id=spec.model_id,
            revision=spec.revision,
            pins=pins,
            trust_snapshot_sha256=trust_snapshot_sha256,
        )
        processor = _load_processor(snapshot)
        config = json.loads((snapshot.path / "processor_config.json").read_text())
        found = {
            "resolution": _as_hw(config.get("resolution")),
            "num_video_frames": config.get("num_video_frames"),
        }
        expected = {"resolution": spec.resolution, "num_video_frames": spec.frames_per_clip}
        _refuse_if_other_variant(spec, snapshot.path, found, expected)
        return cls(spec, processor, snapshot)

    def __call__(self, frames: np.ndarray) -> torch.Tensor:
        """RGB uint8 (N, H, W, 3), N >= 8 -> the processor's (C, T, R, R) float tensor."""
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"expected RGB uint8 frames (N, H, W, 3), got {frames.dtype} {frames.shape}")
        t = self.spec.frames_per_clip
        if len(frames) < t:
            raise ValueError(
                f"{self.spec.name} needs {t} frames per clip, got {len(frames)}; re-extract "
                "at a higher fps first (frame_selection.ensure_enough_frames)"
            )
        clip = select_uniform(frames, t).transpose(0, 3, 1, 2)  # (T, C, H, W)
        out = self.processor(videos=np.ascontiguousarray(clip[None]), return_tensors="pt")
        videos = torch.as_tensor(out["videos"])  # (1, C, T, R, R)
        expected = (1, 3, t, *self.spec.resolution)
        if tuple(videos.shape) != expected:
            raise ValueError(f"processor returned {tuple(videos.shape)}, expected {expected}")
        return videos[0]

    def tokenize(self, texts: list[str]) -> Any:
        """Texts -> the processor's ``input_ids`` / ``attention_mask`` (B, max_txt_len)."""
        return self.processor(text=list(texts), return_tensors="pt")


class CosmosEmbed1Embedder(Embedder):
    """A loaded Cosmos-Embed1 variant. Build it with `from_snapshot`."""

    def __init__(
        self,
        model: Any,
        preprocessor: CosmosEmbed1Preprocessor,
        *,
        device: torch.device,
        dtype: torch.dtype,
    ) -> None:
        self.spec = preprocessor.spec
        self.model = model
        self.preprocessor = preprocessor
        self.snapshot = preprocessor.snapshot
        self.device = device
        self.dtype = dtype

    @classmethod
    def from_snapshot(
        cls,
        snapshot_dir: Path,
        variant: str = DEFAULT_VARIANT,
        *,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        pins: Sequence[Pin] = DEFAULT_PINS,
        trust_snapshot_sha256: str | None = None,
    ) -> CosmosEmbed1Embedder:
        """Verify the snapshot and load its processor (`CosmosEmbed1Preprocessor`), then its
        own model code and weights.

        ``snapshot_dir`` is ``{model_dir}/{repo_id}/{revision}`` as the model hub lays it out.
        """
        preprocessor = CosmosEmbed1Preprocessor.from_snapshot(
            snapshot_dir, variant, pins=pins, trust_snapshot_sha256=trust_snapshot_sha256
        )
        spec, snapshot = preprocessor.spec, preprocessor.snapshot
        from transformers import AutoModel  # importable: the preprocessor loaded through it

        where = str(snapshot.path)
        model, info = AutoModel.from_pretrained(
            where,
            trust_remote_code=True,
            local_files_only=True,
            dtype=dtype,
            output_loading_info=True,
        )
        # transformers fills missing weights with random values; that must never pass silently.
        missing = sorted(info.get("missing_keys") or [])
        mismatched = sorted(str(k) for k in info.get("mismatched_keys") or [])
        if missing or mismatched:
            raise ValueError(
                f"weights in {where} do not fit the model: missing {missing[:10]}, "
                f"mismatched {mismatched[:10]}; re-download the snapshot"
            )
        if info.get("unexpected_keys"):
            logger.warning(
                "%s: ignored %d checkpoint keys not used by the model", spec.name, len(info["unexpected_keys"])
            )
        # the model config fills defaults (the 336p config.json may omit embed_dim: 768)
        found = {"embed_dim": getattr(model.config, "embed_dim", None)}
        _refuse_if_other_variant(spec, snapshot.path, found, {"embed_dim": spec.dim})

        device = torch.device(device)
        model = model.to(device=device, dtype=dtype).eval()
        logger.info(
            "loaded %s from %s (%s, code approved by %s, manifest %s) on %s in %s",
            spec.name,
            where,
            spec.revision,
            snapshot.approved_by,
            snapshot.manifest_sha256,
            device,
            dtype,
        )
        return cls(model, preprocessor, device=device, dtype=dtype)

    @property
    def logit_scale(self) -> float:
        """The multiplier of text-match logits, ``model.logit_scale.exp()`` (the card's
        ``softmax(logit_scale.exp() * v @ t.T)``); already exponentiated."""
        return float(self.model.logit_scale.detach().float().exp())

    def prepare(self, frames: np.ndarray) -> torch.Tensor:
        """RGB uint8 (N, H, W, 3), N >= 8 -> the processor's (C, T, R, R) float tensor."""
        return self.preprocessor(frames)

    def embed_video(self, batch: torch.Tensor) -> torch.Tensor:
        """(B, C, T, R, R) prepared clips -> unit float32 (B, dim) on the CPU."""
        expected = (3, self.spec.frames_per_clip, *self.spec.resolution)
        if batch.ndim != 5 or tuple(batch.shape[1:]) != expected:
            raise ValueError(f"expected a batch (B, {', '.join(map(str, expected))}), got {tuple(batch.shape)}")
        with torch.inference_mode():
            out = self.model.get_video_embeddings(videos=batch.to(self.device, self.dtype))
        return _unit_rows(out.visual_proj, self.spec.dim, f"{self.spec.name} visual_proj")

    def embed_text(self, texts: list[str]) -> torch.Tensor:
        """Texts -> unit float32 (len(texts), dim) on the CPU."""
        if not texts or not all(isinstance(t, str) for t in texts):
            raise ValueError("embed_text needs a non-empty list of strings")
        tokens = self.preprocessor.tokenize(texts)
        with torch.inference_mode():
            out = self.model.get_text_embeddings(
                input_ids=tokens["input_ids"].to(self.device),
                attention_mask=tokens["attention_mask"].to(self.device),
            )
        return _unit_rows(out.text_proj, self.spec.dim, f"{self.spec.name} text_proj")
