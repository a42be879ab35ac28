"""A `--like-file` query is framed as the pipeline frames: same pixel budget, backend and
threads, also for the clips it re-extracts at a higher fps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from video_assets.curation.query import embed_file
from video_assets.media.clipping import ClipSpan
from video_assets.media.decode import DecodeOptions
from video_assets.media.frames import FramePolicy, FrameSignature, extract_clip_frames
from video_assets.media.synthetic import make_video
from video_assets.models.fingerprint import FingerprintEmbedder
from video_assets.settings.config import FrameSettings, Settings


class _RecordingFingerprint(FingerprintEmbedder):
    """The fingerprint embedder, remembering the frames it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[np.ndarray] = []

    def prepare(self, frames: np.ndarray) -> torch.Tensor:
        self.seen.append(frames)
        return super().prepare(frames)


def test_query_file_is_reextracted_within_the_pixel_budget(tmp_path: Path) -> None:
    # 3 s at 2 fps gives 7 frames, fewer than the fingerprint's 8: re-extracted at 4 fps.
    video = make_video(tmp_path / "query.mp4", duration_s=3.0, fps=12.0, size=(160, 120))
    frames = FrameSettings(max_pixels=64 * 64, num_threads=1)
    embedder = _RecordingFingerprint()
    vectors = embed_file(Settings(data_dir=tmp_path / "data", frames=frames), embedder, video)
    assert vectors.shape == (1, embedder.spec.dim)
    (seen,) = embedder.seen
    assert seen.shape == (13, 55, 73, 3)  # 120x160 within 4096 pixels, 4:3 kept
    pipeline = extract_clip_frames(
        video,
        ClipSpan(0.0, 3.0),
        FrameSignature(FramePolicy.SEQUENCE, 4.0),
        options=DecodeOptions(backend=frames.backend, num_threads=frames.num_threads, max_pixels=frames.max_pixels),
    )
    np.testing.assert_array_equal(seen, pipeline.frames)


def test_a_query_file_embeds_to_the_vectors_the_pipeline_indexed_under_jpeg_storage(
    tmp_path: Path, dagster_home
) -> None:
    from tests.pipeline.conftest import settings_for
    from video_assets.app.runner import run_folder
    from video_assets.index.connection import connect, open_clip_table

    folder = tmp_path / "videos"
    video = make_video(folder / "a.mp4", duration_s=4.0, fps=12.0, size=(160, 120), seed=4, pattern="moving")
    # JPEG frames and float16 tensors (the defaults keep float16): the query takes both round trips too.
    settings = settings_for(folder, tmp_path / "data", frames=FrameSettings(storage="jpeg", jpeg_quality=60))
    assert run_folder(settings, progress=lambda _: None).complete
    rows = open_clip_table(connect(settings.paths.lancedb_uri), "fingerprint").to_arrow().sort_by("span_start_s")
    indexed = np.asarray(rows.column("vector").to_pylist(), dtype=np.float32)
    queried = embed_file(settings, FingerprintEmbedder(), video)
    assert queried.shape == indexed.shape == (2, FingerprintEmbedder.spec.dim)
    np.testing.assert_allclose(queried, indexed, atol=1e-5)
