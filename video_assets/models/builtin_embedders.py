"""The embedders that ship with video-assets: fingerprint, InternVideo2, Cosmos-Embed1 x3."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch

from video_assets.models.cosmos_embed1 import VARIANTS as COSMOS_VARIANTS
from video_assets.models.cosmos_embed1 import CosmosEmbed1Embedder, CosmosEmbed1Preprocessor
from video_assets.models.fingerprint import FingerprintEmbedder
from video_assets.models.hub import ModelHub
from video_assets.models.internvideo2 import InternVideo2Embedder, prepare_frames, spec_for
from video_assets.models.internvideo2_config import InternVideo2Config
from video_assets.models.registered_embedder import Loader, Preprocessor, RegisteredEmbedder
from video_assets.models.weight_specs import BERT_LARGE_TOKENIZER_REPO, INTERNVIDEO2_REPO, WEIGHT_SPECS
from video_assets.settings.config import ModelSettings


def _load_fingerprint(
    hub: ModelHub, device: torch.device, dtype: torch.dtype, options: ModelSettings
) -> FingerprintEmbedder:
    return FingerprintEmbedder()


def _load_internvideo2(
    hub: ModelHub, device: torch.device, dtype: torch.dtype, options: ModelSettings
) -> InternVideo2Embedder:
    dirs = hub.ensure(WEIGHT_SPECS["internvideo2"])
    checkpoint = dirs[INTERNVIDEO2_REPO.repo_id] / INTERNVIDEO2_REPO.required_files[0]
    vocab = dirs[BERT_LARGE_TOKENIZER_REPO.repo_id] / "vocab.txt"
    return InternVideo2Embedder.from_files(checkpoint, vocab, device=device, dtype=dtype, num_frames=options.num_frames)


def _cosmos_snapshot(hub: ModelHub, name: str) -> Path:
    spec = WEIGHT_SPECS[name]
    return hub.ensure(spec)[spec.repos[0].repo_id]


def _cosmos_loader(name: str) -> Loader:
    def load(hub: ModelHub, device: torch.device, dtype: torch.dtype, options: ModelSettings) -> CosmosEmbed1Embedder:
        return CosmosEmbed1Embedder.from_snapshot(
            _cosmos_snapshot(hub, name),
            name,
            device=device,
            dtype=dtype,
            trust_snapshot_sha256=options.trust_snapshot_sha256,
        )

    return load


def _cosmos_preprocessor(name: str) -> Callable[[ModelHub, ModelSettings], Preprocessor]:
    # Only the (verified) processor: the tensors step must not load the 1B model on the CPU.
    def make(hub: ModelHub, options: ModelSettings) -> CosmosEmbed1Preprocessor:
        return CosmosEmbed1Preprocessor.from_snapshot(
            _cosmos_snapshot(hub, name), name, trust_snapshot_sha256=options.trust_snapshot_sha256
        )

    return make


INTERNVIDEO2_SPEC = spec_for(InternVideo2Config())


def entries() -> list[RegisteredEmbedder]:
    return [
        RegisteredEmbedder(FingerprintEmbedder.spec, None, _load_fingerprint),
        RegisteredEmbedder(
            INTERNVIDEO2_SPEC,
            WEIGHT_SPECS["internvideo2"],
            _load_internvideo2,
            make_preprocessor=lambda hub, options: partial(
                prepare_frames,
                num_frames=options.num_frames or INTERNVIDEO2_SPEC.frames_per_clip,
                size=INTERNVIDEO2_SPEC.resolution,
            ),
            variable_frames=True,  # positional embedding interpolated over T at load
        ),
        *(
            RegisteredEmbedder(spec, WEIGHT_SPECS[name], _cosmos_loader(name), _cosmos_preprocessor(name))
            for name, spec in COSMOS_VARIANTS.items()
        ),
    ]
