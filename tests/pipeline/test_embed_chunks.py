"""embed_partition carries a batch size that fell after an out-of-memory error into the next
chunk of clips, instead of starting every chunk at the size that did not fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch

from video_assets.media.clipping import ClipSpan
from video_assets.models.fingerprint import FingerprintEmbedder
from video_assets.stages import embeddings as embeddings_stage
from video_assets.stages.clips import CLIP_SCHEMA, clip_row
from video_assets.stages.parquet_parts import ParquetPart, StreamingParquetWriter, array_to_fields, fields_to_array
from video_assets.stages.tensors import TENSOR_SCHEMA


class WallAt(FingerprintEmbedder):
    """The real fingerprint, on a device that holds at most `limit` clips per forward pass."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit, self.batches = limit, []

    def embed_video(self, batch: torch.Tensor) -> torch.Tensor:
        self.batches.append(batch.shape[0])
        if batch.shape[0] > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return super().embed_video(batch)


def test_the_smaller_batch_after_an_oom_is_kept_for_later_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embeddings_stage, "CHUNK_CLIPS", 6)  # 3 chunks of 6 clips instead of 256-clip chunks
    rng = np.random.default_rng(0)
    model = WallAt(limit=3)
    clips, rows = [], []
    for i in range(18):
        clip = clip_row("v", "v", "/videos/v.mp4", i, ClipSpan(float(i), i + 1.0))
        clips.append(clip)
        frames = rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
        tensor = model.prepare(frames).numpy()
        rows.append(
            {
                "clip_id": clip["clip_id"],
                "video_id": "v",
                "fps": 2.0,
                "num_frames": 8,
                "reextracted": False,
                "skip_reason": None,
                **array_to_fields(tensor),
            }
        )
    with StreamingParquetWriter(tmp_path / "t.parquet", TENSOR_SCHEMA) as writer:
        writer.write(pa.Table.from_pylist(rows, schema=TENSOR_SCHEMA))
        tensors = ParquetPart(writer.commit(), "v")
    table, report = embeddings_stage.embed_partition(
        model, tensors, pa.Table.from_pylist(clips, schema=CLIP_SCHEMA), batch_size=8
    )
    assert table.num_rows == 18
    # First chunk: 6 fails, then 3 + 3. Later chunks start at 3: no further OOM (before,
    # each chunk started at 6 again: 3 back-offs).
    assert report.oom_backoffs == 1 and model.batches == [6, 3, 3, 3, 3, 3, 3]
    assert report.batch_size == 3
    # The vectors are the model's own, in clip order.
    stacked = torch.stack([torch.from_numpy(fields_to_array(r).copy()) for r in rows])
    expected = FingerprintEmbedder().embed_video(stacked).numpy()
    got = np.asarray(table.column("vector").to_pylist(), dtype=np.float32)
    assert table.column("clip_id").to_pylist() == [c["clip_id"] for c in clips]
    np.testing.assert_allclose(got, expected, atol=1e-5)
