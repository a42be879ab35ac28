"""`models.<name>.num_frames`: honoured where the embedder can change it, refused elsewhere."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from video_assets.models import builtin_embedders
from video_assets.models.embedder_registry import RegisteredEmbedder, get
from video_assets.models.fingerprint import FingerprintEmbedder
from video_assets.models.hub import ModelHub
from video_assets.settings.config import ModelSettings, Settings


def test_fixed_frame_embedders_refuse_another_count():
    entry = get("fingerprint")
    assert entry.spec_for(ModelSettings()) is entry.spec
    assert entry.spec_for(ModelSettings(num_frames=entry.spec.frames_per_clip)) is entry.spec
    with pytest.raises(ValueError, match=r"models\.fingerprint\.num_frames: fingerprint takes exactly"):
        entry.spec_for(ModelSettings(num_frames=entry.spec.frames_per_clip + 1))


def test_the_graph_refuses_a_frame_count_the_model_cannot_take(tmp_path: Path):
    from video_assets.orchestration.definitions import build_definitions

    settings = Settings(
        data_dir=tmp_path, enabled_models=("fingerprint",), models={"fingerprint": ModelSettings(num_frames=3)}
    )
    with pytest.raises(ValueError, match="fingerprint.num_frames"):
        build_definitions(settings)


def test_internvideo2_preprocessing_follows_num_frames(tmp_path: Path):
    entry = get("internvideo2")
    assert entry.spec_for(ModelSettings(num_frames=8)).frames_per_clip == 8
    frames = np.random.default_rng(0).integers(0, 256, (12, 48, 64, 3), dtype=np.uint8)
    hub = ModelHub(tmp_path / "models")  # the preprocessor needs no weights
    default = entry.preprocessor(hub, ModelSettings())(frames)
    eight = entry.preprocessor(hub, ModelSettings(num_frames=8))(frames)
    assert tuple(default.shape) == (entry.spec.frames_per_clip, 3, *entry.spec.resolution)
    assert tuple(eight.shape) == (8, 3, *entry.spec.resolution)


def test_internvideo2_loader_builds_the_model_for_num_frames(tmp_path: Path, monkeypatch):
    calls = []

    class FakeHub:
        def ensure(self, spec):
            return {repo.repo_id: tmp_path for repo in spec.repos}

    def from_files(checkpoint, vocab, **kwargs):
        calls.append(kwargs)
        return "model"

    monkeypatch.setattr(builtin_embedders.InternVideo2Embedder, "from_files", from_files)
    builtin_embedders._load_internvideo2(FakeHub(), torch.device("cpu"), torch.float32, ModelSettings(num_frames=8))
    assert calls[-1]["num_frames"] == 8


def test_each_frame_count_is_its_own_cached_model(tmp_path: Path):
    entry = RegisteredEmbedder(
        replace(FingerprintEmbedder.spec, name="frames-test"),
        None,
        lambda hub, device, dtype, options: FingerprintEmbedder(),
        variable_frames=True,
    )
    hub, cpu = ModelHub(tmp_path / "models"), torch.device("cpu")
    four = entry.load_cached(hub, cpu, torch.float32, ModelSettings(num_frames=4))
    assert entry.load_cached(hub, cpu, torch.float32, ModelSettings(num_frames=4)) is four
    assert entry.load_cached(hub, cpu, torch.float32, ModelSettings(num_frames=9)) is not four
