"""docs/usage.md's data-frame example, run as written against a real clip table and its Parquet export."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from tests.clip_rows import clip_row
from video_assets.curation.export import export_clips
from video_assets.index.commit import commit_partition
from video_assets.index.connection import connect
from video_assets.index.schema import rows_to_table

for _module in ("pandas", "polars", "duckdb"):
    pytest.importorskip(_module, reason="the dataframes extra")

USAGE = Path(__file__).resolve().parents[2] / "docs" / "usage.md"
DIM = 8


def _readme_block() -> str:
    """The python block under docs/usage.md's "### Data frames"."""
    section = USAGE.read_text().split("### Data frames", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "docs/usage.md's Data frames section has no python block"
    return match.group(1)


def _rows(video: str, count: int, rng: np.random.Generator) -> list[dict]:
    """`count` 2 s clips of `video` with random unit vectors; no clip files nor text matches."""
    vectors = rng.normal(size=(count, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    created = datetime(2024, 5, 1, tzinfo=timezone.utc)
    return [
        clip_row(
            video,
            2.0 * n,
            2.0 * n + 2.0,
            v,
            model_id="video-assets/fingerprint",
            model_revision="test",
            created_at=created,
        )
        for n, v in enumerate(vectors)
    ]


def test_readme_reads_export_and_clip_table_with_pandas_polars_duckdb(tmp_path, monkeypatch):
    rng = np.random.default_rng(7)
    db = connect(str(tmp_path / "data" / "lancedb"))
    written = {}
    for video, count in (("a", 3), ("b", 2)):
        rows = _rows(video, count, rng)
        commit_partition(db, "fingerprint", rows_to_table(rows, DIM), [video])
        written.update({r["clip_id"]: r for r in rows})
    export_clips(db, "fingerprint", tmp_path / "exports" / "fp", fmt="parquet", data_dir=tmp_path / "data")

    monkeypatch.chdir(tmp_path)  # the example's paths are relative to where `run` and `export` ran
    scope: dict = {}
    exec(compile(_readme_block(), str(USAGE), "exec"), scope)

    clips, table, per_video = scope["clips"], scope["table"], scope["per_video"]
    assert sorted(clips["clip_id"]) == sorted(written)
    for clip_id, vector in zip(clips["clip_id"], clips["vector"]):
        np.testing.assert_allclose(np.asarray(vector, np.float32), written[clip_id]["vector"], rtol=0, atol=0)
    assert sorted(table["clip_id"].to_list()) == sorted(written)
    assert table.schema["vector"].shape == (DIM,)  # a fixed-size array in polars, not a list of Python floats
    assert dict(zip(per_video["video_id"], per_video["clips"])) == {"a": 3, "b": 2}
