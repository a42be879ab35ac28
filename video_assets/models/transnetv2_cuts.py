"""Per-frame transition probabilities from TransNetV2, streamed over a video's 48x27 frames.

The reference's published scheme: the frames are padded with 25 copies of the first frame in
front and copies of the last at the end (25, plus enough to fill the last 50-frame step);
100-frame windows 50 frames apart are run, and each keeps the predictions of its middle 50
frames, so every frame is seen with at least 25 frames of context either side. Here the
windows are cut as frames arrive (memory stays at a batch of windows, not the whole video)
and run `batch_windows` at a time.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator

import numpy as np
import torch

from video_assets.models.transnetv2 import FRAME_HEIGHT, FRAME_WIDTH, TransNetV2, load_transnetv2
from video_assets.models.transnetv2_weights import transnetv2_weights_path

WINDOW = 100  # frames per network call
STEP = 50  # frames between window starts: the frames each window keeps
CONTEXT = 25  # frames either side of the kept ones
THRESHOLD = 0.5  # the reference's cut threshold on the probabilities
FRAME_SHAPE = (FRAME_HEIGHT, FRAME_WIDTH, 3)


def padded_windows(frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """(100, 27, 48, 3) windows of the padded frames, 50 apart, cut as the frames arrive."""
    buffer: list[np.ndarray] = []
    count = 0
    for frame in frames:
        if frame.shape != FRAME_SHAPE or frame.dtype != np.uint8:
            raise ValueError(f"TransNetV2 frames are (27, 48, 3) uint8 RGB, got {frame.shape} {frame.dtype}")
        if not buffer:
            buffer = [frame] * CONTEXT
        buffer.append(frame)
        count += 1
        if len(buffer) == WINDOW:
            yield np.stack(buffer)
            buffer = buffer[STEP:]
    if count == 0:
        return
    buffer.extend([buffer[-1]] * (CONTEXT + STEP - (count % STEP or STEP)))
    while len(buffer) >= WINDOW:
        yield np.stack(buffer[:WINDOW])
        buffer = buffer[STEP:]


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@functools.lru_cache(maxsize=2)
def cached_transnetv2(device: str) -> TransNetV2:
    """The published network on `device`, loaded (and its weights checksummed) once per process."""
    return load_transnetv2(transnetv2_weights_path(), device=device)


def cut_probabilities(
    frames: Iterable[np.ndarray],
    *,
    model: TransNetV2 | None = None,
    device: str | torch.device | None = None,
    batch_windows: int = 8,
) -> np.ndarray:
    """(N,) float32 probability that a transition is at each frame, for an iterable of
    (27, 48, 3) uint8 RGB frames (a (N, 27, 48, 3) array works too). A cut is a probability
    over THRESHOLD. `model` defaults to the published weights on `device` (CUDA when there)."""
    if batch_windows < 1:
        raise ValueError(f"batch_windows must be >= 1, got {batch_windows}")
    if model is None:
        model = cached_transnetv2(str(torch.device(device) if device is not None else default_device()))
    target = next(model.parameters()).device
    kept: list[np.ndarray] = []
    count = 0

    def counted() -> Iterator[np.ndarray]:
        nonlocal count
        for frame in frames:
            count += 1
            yield frame

    def run(batch: list[np.ndarray]) -> None:
        with torch.inference_mode():
            logits = model(torch.from_numpy(np.stack(batch)).to(target))  # (B, 100)
            middle = torch.sigmoid(logits[:, CONTEXT : CONTEXT + STEP])  # (B, 50): the frames each window keeps
            kept.append(middle.reshape(-1).float().cpu().numpy())

    batch: list[np.ndarray] = []
    for window in padded_windows(counted()):
        batch.append(window)
        if len(batch) == batch_windows:
            run(batch)
            batch = []
    if batch:
        run(batch)
    # The end padding filled the last step: its predictions are dropped.
    return np.concatenate(kept)[:count] if kept else np.zeros(0, dtype=np.float32)
