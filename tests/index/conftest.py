"""Small real clip tables for the index tests.

Vectors lie on the unit circle of the first two axes, at known angles, so the
cosine similarity of two clips is cos(angle difference): tests derive the
expected scores and order from geometry instead of from a previous run.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import lancedb
import numpy as np
import pyarrow as pa
import pytest

from tests import clip_rows
from video_assets.index.connection import connect
from video_assets.index.schema import rows_to_table

DIM = 16
MODEL = "tiny"
CREATED = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def unit_at(angle: float, dim: int = DIM) -> np.ndarray:
    vector = np.zeros(dim, np.float32)
    vector[0], vector[1] = math.cos(angle), math.sin(angle)
    return vector


def clip_row(video_id: str, index: int, *, angle: float | None = None, **overrides: Any) -> dict[str, Any]:
    """Clip `index` of a video on the 10 s grid, at `angle` (default 0.1 index); even clips have a clip file."""
    row = clip_rows.grid_row(
        video_id,
        index,
        unit_at(angle if angle is not None else 0.1 * index),
        model_id="test/tiny",
        partition_key=f"p-{video_id}",
        clip_path=f"/clips/{video_id}/{index}.mp4" if index % 2 == 0 else None,
        created_at=CREATED,
    )
    row.update(overrides)
    return row


def video_table(video_id: str, indices: range | list[int], *, angle0: float = 0.0, **overrides: Any) -> pa.Table:
    rows = [clip_row(video_id, i, angle=angle0 + 0.1 * i, **overrides) for i in indices]
    return rows_to_table(rows, DIM)


def rows_by_clip(db: lancedb.DBConnection, model: str = MODEL) -> dict[str, dict[str, Any]]:
    """Every row of the model's table keyed by clip id (asserts ids are unique)."""
    rows = db.open_table(f"clips_{model}").search().to_arrow().to_pylist()
    by_id = {row["clip_id"]: row for row in rows}
    assert len(by_id) == len(rows), "duplicate clip ids in the table"
    return by_id


@pytest.fixture
def db_uri(tmp_path: Path) -> str:
    return str(tmp_path / "lancedb")


@pytest.fixture
def db(db_uri: str) -> lancedb.DBConnection:
    return connect(db_uri)


class Clips:
    """The helpers above, handed to tests as one fixture (conftest modules are not importable)."""

    dim = DIM
    model = MODEL
    created = CREATED
    unit_at = staticmethod(unit_at)
    row = staticmethod(clip_row)
    video = staticmethod(video_table)
    rows_by_clip = staticmethod(rows_by_clip)


@pytest.fixture
def clips() -> type[Clips]:
    return Clips
