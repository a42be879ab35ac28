"""Tiny learned embedders registered under their own names for pipeline tests.

- ``internvideo2_tiny``: our InternVideo2 loading the checkpoint in tests/data (made by
  the official code at `InternVideo2Config.tiny()` sizes, official key layout).
- ``cosmos_tiny_224p``: Cosmos-Embed1 224p running the remote code of the tiny snapshot
  that tests/models/cosmos_fixture.py writes. Its code is pinned nowhere, so like a real
  unreviewed snapshot it runs only when the settings approve it by manifest hash
  (``ModelSettings.trust_snapshot_sha256``), for frame creation and for loading alike.

Both are wired like the built-in entries: frame creation without loading the model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path

import torch

from tests.models.cosmos_fixture import build_cosmos_snapshot
from video_assets.models import embedder_registry
from video_assets.models.cosmos_embed1 import VARIANTS, CosmosEmbed1Embedder, CosmosEmbed1Preprocessor
from video_assets.models.embedder_registry import RegisteredEmbedder
from video_assets.models.hub import ModelHub
from video_assets.models.internvideo2 import InternVideo2Embedder, prepare_frames, spec_for
from video_assets.models.internvideo2_config import (
    InternVideo2Config,
    InternVideo2TextConfig,
    InternVideo2VisionConfig,
)
from video_assets.models.runtime import MODEL_CACHE
from video_assets.models.snapshot_pin import code_files, manifest_sha256
from video_assets.settings.config import ModelSettings

INTERNVIDEO2_DATA = Path(__file__).resolve().parents[1] / "data" / "internvideo2_tiny"
INTERNVIDEO2_TINY = "internvideo2_tiny"
COSMOS_TINY = "cosmos_tiny_224p"
COSMOS_VARIANT = "cosmos_embed1_224p"  # the cheapest variant: 224 px input, 256-d vectors


def internvideo2_tiny_config() -> InternVideo2Config:
    """The sizes the reference checkpoint was made at, read from its config.json."""
    raw = json.loads((INTERNVIDEO2_DATA / "config.json").read_text())
    return InternVideo2Config(
        vision=InternVideo2VisionConfig(**raw["vision"]),
        text=InternVideo2TextConfig(**raw["text"]),
        embed_dim=raw["embed_dim"],
        max_txt_len=raw["max_txt_len"],
    )


def internvideo2_tiny_entry() -> RegisteredEmbedder:
    config = internvideo2_tiny_config()
    spec = replace(spec_for(config), name=INTERNVIDEO2_TINY)

    def load(hub: ModelHub, device: torch.device, dtype: torch.dtype, options: ModelSettings) -> InternVideo2Embedder:
        checkpoint, vocab = INTERNVIDEO2_DATA / "checkpoint.pt", INTERNVIDEO2_DATA / "vocab.txt"
        return InternVideo2Embedder.from_files(
            checkpoint, vocab, config=config, device=device, dtype=dtype, num_frames=options.num_frames
        )

    return RegisteredEmbedder(
        spec,
        None,
        load,
        make_preprocessor=lambda hub, options: partial(
            prepare_frames, num_frames=options.num_frames or spec.frames_per_clip, size=spec.resolution
        ),
        variable_frames=True,  # as the built-in entry: positional embedding interpolated over T
    )


def build_cosmos_tiny(root: Path) -> Path:
    """The tiny snapshot of `COSMOS_VARIANT` (its repo, revision, resolution, dim) under ``root``."""
    spec = VARIANTS[COSMOS_VARIANT]
    return build_cosmos_snapshot(
        root, repo_id=spec.model_id, revision=spec.revision, embed_dim=spec.dim, resolution=spec.resolution[0]
    )


def snapshot_manifest(snapshot_dir: Path) -> str:
    """What an operator puts in ``trust_snapshot_sha256`` after reviewing the snapshot."""
    return manifest_sha256(code_files(snapshot_dir))


def cosmos_tiny_entry(snapshot_dir: Path) -> RegisteredEmbedder:
    spec = replace(VARIANTS[COSMOS_VARIANT], name=COSMOS_TINY)

    def load(hub: ModelHub, device: torch.device, dtype: torch.dtype, options: ModelSettings) -> CosmosEmbed1Embedder:
        return CosmosEmbed1Embedder.from_snapshot(
            snapshot_dir,
            COSMOS_VARIANT,
            device=device,
            dtype=dtype,
            trust_snapshot_sha256=options.trust_snapshot_sha256,
        )

    def make_preprocessor(hub: ModelHub, options: ModelSettings) -> CosmosEmbed1Preprocessor:
        return CosmosEmbed1Preprocessor.from_snapshot(
            snapshot_dir, COSMOS_VARIANT, trust_snapshot_sha256=options.trust_snapshot_sha256
        )

    return RegisteredEmbedder(spec, None, load, make_preprocessor)


@contextmanager
def registered(
    entries: list[RegisteredEmbedder], *, device: torch.device, dtype: torch.dtype
) -> Iterator[list[RegisteredEmbedder]]:
    """Register ``entries`` for the block; afterwards unregister them and drop the models
    they loaded on ``device``/``dtype`` (weights-free entries are cached by name only, so a
    stale model would otherwise outlive its snapshot)."""
    for entry in entries:
        embedder_registry.register(entry)
    try:
        yield entries
    finally:
        for entry in entries:
            embedder_registry.unregister(entry.spec.name)
            MODEL_CACHE.evict(entry.cache_key(device, dtype))
