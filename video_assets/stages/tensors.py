"""<model>_tensors: NeMo Curator's "frame creation" — enough frames per clip, model-ready."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import torch

from video_assets.media.frames import FramePolicy, FrameSignature
from video_assets.stages.clips import span_of
from video_assets.stages.frame_creation import FrameRecipe, create_clip_frames
from video_assets.stages.frames import rows_to_clip_frames
from video_assets.stages.parquet_parts import (
    ARRAY_FIELDS,
    RowGroups,
    TableSink,
    array_to_fields,
)

TENSOR_SCHEMA = pa.schema(
    [
        ("clip_id", pa.string()),
        ("video_id", pa.string()),
        ("fps", pa.float64()),  # the fps the frames were finally sampled at
        ("num_frames", pa.int32()),  # frames available before selection
        ("reextracted", pa.bool_()),
        ("skip_reason", pa.string()),  # set (and no tensor) when the clip is skipped
        *ARRAY_FIELDS,
    ]
)


@dataclass
class TensorSummary:
    clips: int = 0
    reextracted: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # clip_id -> reason
    undecoded: set[str] = field(default_factory=set)  # skipped because the frames step dropped them


def stored_tensor(tensor: torch.Tensor, tensor_dtype: str) -> np.ndarray:
    """A prepared tensor as the tensors asset stores it (`tensor_dtype`, float16 by default):
    what the embeddings step reads back, so what a `--like-file` query must embed too."""
    return tensor.detach().cpu().numpy().astype(tensor_dtype)


def build_tensors(
    prepare: Callable[[np.ndarray], torch.Tensor],
    model: str,
    recipe: FrameRecipe,
    clips: pa.Table,
    frames: RowGroups,
    *,
    tensor_dtype: str,
    writer: TableSink,
    log: Callable[[str], None] = lambda _msg: None,
) -> TensorSummary:
    """One row per clip: its prepared tensor, or the reason it was skipped."""
    by_id = {c["clip_id"]: c for c in clips.to_pylist()}
    wanted = FrameSignature(FramePolicy.SEQUENCE, recipe.target_fps).key
    summary = TensorSummary()
    seen: set[str] = set()
    for group in frames.iter_row_groups():
        for clip_id, per_sig in rows_to_clip_frames(group).items():
            clip = by_id[clip_id]
            seen.add(clip_id)
            # The frames asset extracts every model's rate (resolved.py); files written before
            # that may lack it, and the clip is then decoded here.
            stored = per_sig[wanted].frames if wanted in per_sig else None
            created = create_clip_frames(clip["source_path"], span_of(clip), recipe, stored)
            made = created.made
            row = {"clip_id": clip_id, "video_id": clip["video_id"], "fps": made.fps, "reextracted": made.reextracted}
            if made.frames is None:
                reason = created.skip_reason
                summary.skipped[clip_id] = reason
                log(f"{model}: skip clip {clip_id} ({reason})")
                row.update(num_frames=created.initial, skip_reason=reason, shape=None, dtype=None, data=None)
            else:
                if made.reextracted:
                    summary.reextracted.append(clip_id)
                    log(f"{model}: clip {clip_id} re-extracted at {made.fps} fps ({len(made.frames)} frames)")
                tensor = stored_tensor(prepare(made.frames), tensor_dtype)
                row.update(num_frames=len(made.frames), skip_reason=None, **array_to_fields(tensor))
                summary.clips += 1
            writer.write(pa.Table.from_pylist([row], schema=TENSOR_SCHEMA))
    for clip_id in by_id:
        if clip_id not in seen:  # dropped by the frames step (undecodable)
            summary.skipped[clip_id] = "no decoded frames"
            summary.undecoded.add(clip_id)
    return summary
