"""NeMo Curator's frame creation for one clip: a model's frames at its rate, re-extracted at
a higher rate when the clip has too few.

The tensors asset and `--like-file` queries both call `create_clip_frames`, so a query
file is framed exactly as indexed clips are: same decoder backend, resolution, pixel
budget and, under `frames.storage = "jpeg"`, the same JPEG round trip the frames asset
applies to what it stores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from video_assets.media.clipping import ClipSpan
from video_assets.media.decode import DecodeOptions
from video_assets.media.frame_codec import decode_jpeg, encode_jpeg
from video_assets.media.frames import FramePolicy, FrameSignature, extract_clip_frames
from video_assets.models.base import EmbedderSpec
from video_assets.models.frame_selection import FrameCreation, ensure_enough_frames
from video_assets.settings.config import FrameSettings


@dataclass(frozen=True)
class FrameRecipe:
    """How one model's frames are made from a clip (resolved.ModelPlan + frames settings)."""

    target_fps: float
    frames_per_clip: int
    max_fps: float  # re-extraction doubles the rate up to this
    frames: FrameSettings  # backend, target_res, max_pixels, storage
    num_threads: int  # decode threads (the model's num_cpus, as the reference uses it)

    @classmethod
    def for_spec(
        cls, spec: EmbedderSpec, frames: FrameSettings, target_fps: float | None = None, num_threads: int = 0
    ) -> FrameRecipe:
        """The recipe of a model with this spec; `target_fps` None = the spec's own rate."""
        return cls(target_fps or spec.target_fps, spec.frames_per_clip, spec.max_fps, frames, num_threads)

    def decode(self, path: str, span: ClipSpan, fps: float) -> np.ndarray:
        """The clip's frames at `fps`, decoded as the frames stage decodes them."""
        return extract_clip_frames(
            path,
            span,
            FrameSignature(FramePolicy.SEQUENCE, fps),
            options=DecodeOptions(
                backend=self.frames.backend,
                num_threads=self.num_threads,
                target_res=self.frames.target_res,
                max_pixels=self.frames.max_pixels,
            ),
        ).frames


def as_stored(frames: np.ndarray, settings: FrameSettings) -> np.ndarray:
    """`frames` as the frames asset gives them back: unchanged when stored raw, through a
    JPEG round trip at `jpeg_quality` when stored as JPEG."""
    if settings.storage == "raw" or len(frames) == 0:
        return frames
    return decode_jpeg(encode_jpeg(frames, quality=settings.jpeg_quality), frames.shape)


@dataclass(frozen=True)
class CreatedFrames:
    made: FrameCreation  # the frames (or None and the skip reason), the rate they were taken at
    initial: int  # frames the clip had at the model's own rate
    recipe: FrameRecipe

    @property
    def skip_reason(self) -> str | None:
        """Why the clip gets no tensor, with the counts a user needs to act on it."""
        if self.made.frames is not None:
            return None
        return (
            f"{self.made.skip_reason}: {self.initial} at {self.recipe.target_fps} fps, fewer than "
            f"{self.recipe.frames_per_clip} even at {self.made.fps} fps"
        )


def create_clip_frames(
    path: str, span: ClipSpan, recipe: FrameRecipe, stored: np.ndarray | None = None
) -> CreatedFrames:
    """Enough frames for the model, or the reason there are not.

    `stored`: the clip's frames at the model's rate from the frames asset, when it has them;
    otherwise they are decoded here (and stored-format round-tripped, as the asset would).
    """
    start = stored if stored is not None else as_stored(recipe.decode(path, span, recipe.target_fps), recipe.frames)
    made = ensure_enough_frames(
        start,
        recipe.frames_per_clip,
        fps=recipe.target_fps,
        max_fps=recipe.max_fps,
        extract_at=lambda fps: recipe.decode(path, span, fps),
    )
    return CreatedFrames(made, len(start), recipe)
