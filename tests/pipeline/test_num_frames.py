"""InternVideo2 at another frame count through the whole graph (tiny official-layout checkpoint)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.pipeline.learned_fixtures import (
    INTERNVIDEO2_TINY,
    internvideo2_tiny_config,
    internvideo2_tiny_entry,
    registered,
)
from video_assets.app.runner import run_folder
from video_assets.index.connection import connect, open_clip_table
from video_assets.media.synthetic import make_video
from video_assets.models.runtime import MODEL_CACHE
from video_assets.settings.config import ClippingSettings, ModelSettings, Settings
from video_assets.stages.parquet_parts import ParquetPart

pytestmark = pytest.mark.slow


def test_a_larger_num_frames_runs_end_to_end(tmp_path: Path, monkeypatch):
    checkpoint_frames = internvideo2_tiny_config().vision.num_frames
    frames = checkpoint_frames * 2
    make_video(tmp_path / "videos" / "walk.mp4", duration_s=4.0, fps=24, size=(64, 48), seed=3)
    settings = Settings(
        input_dir=tmp_path / "videos",
        data_dir=tmp_path / "data",
        enabled_models=(INTERNVIDEO2_TINY,),
        clipping=ClippingSettings(clip_len_s=2.0, stride_s=2.0, min_clip_len_s=0.5),
        models={INTERNVIDEO2_TINY: ModelSettings(num_frames=frames)},
        device="cpu",
        dtype="fp32",
    )
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    entry = internvideo2_tiny_entry()
    cpu = torch.device("cpu")
    with registered([entry], device=cpu, dtype=torch.float32):
        try:
            [outcome] = run_folder(settings, progress=lambda _: None).partitions
        finally:
            MODEL_CACHE.evict(entry.cache_key(cpu, torch.float32, options=settings.model(INTERNVIDEO2_TINY)))
    assert outcome.success, outcome.errors
    assert outcome.metadata[f"{INTERNVIDEO2_TINY}_tensors"]["frames_per_clip"] == frames
    tensors = ParquetPart(
        tmp_path / "data" / "assets" / f"{INTERNVIDEO2_TINY}_tensors" / f"{outcome.key}.parquet", outcome.key
    ).read()
    assert tensors.num_rows == 2 and list(tensors.column("shape")[0].as_py())[0] == frames
    rows = open_clip_table(connect(settings.paths.lancedb_uri), INTERNVIDEO2_TINY).to_arrow().to_pylist()
    vectors = np.array([r["vector"] for r in rows], dtype=np.float32)
    assert len(rows) == 2 and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
