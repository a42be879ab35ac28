"""Where each scene detector cuts a video, frame by frame, with its own score (`probe --scenes`).

The frames are those the clipping stage cuts on (the same decoders, sizes and thresholds as
`clipping.scene_cut_spans`), so the report shows where `scene_cut` clips would start, before
the min/max clip lengths are applied. Scores are each detector's own, not comparable across
detectors:
- builtin: the change score of the cut frame against the frame before it, in [0, 1]
  (colour-histogram distance and mean pixel difference, media/scenes.py); cut over the
  threshold (clipping.scene_threshold, 0.2 by default);
- adaptive: PySceneDetect's adaptive ratio at the cut frame, its content change over the
  mean change of the two frames either side (cut at >= 3.0; capped at 255);
- transnetv2: the highest transition probability of the frames over 0.5 just before the cut
  (the transition the network saw), in (0.5, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from video_assets.media.learned_scenes import (
    LEARNED_THRESHOLD,
    CutProbabilities,
    frame_probabilities,
    scene_start_frames,
)
from video_assets.media.scenes import change_scores
from video_assets.media.scenes import scene_start_frames as builtin_start_frames
from video_assets.settings.config import SCENE_THRESHOLD, SceneDetector

DETECTORS: tuple[str, ...] = get_args(SceneDetector)


@dataclass(frozen=True)
class SceneCut:
    frame: int  # first frame of the new scene, numbered in decode order from 0
    time_s: float  # its time from the first frame
    score: float  # the detector's own score (module docstring)

    def to_dict(self) -> dict[str, float | int]:
        return {"frame": self.frame, "time_s": round(self.time_s, 6), "score": round(self.score, 6)}


def scene_cuts(
    path: str | Path,
    detector: str,
    *,
    threshold: float = SCENE_THRESHOLD,
    cut_probabilities: CutProbabilities | None = None,
    backend: str = "pyav",
) -> list[SceneCut]:
    """The cuts `detector` finds in the video at ``path``. ``threshold``: builtin only;
    ``cut_probabilities``: the network, transnetv2 only (media/ does not import models/)."""
    if detector == "builtin":
        changes = change_scores(path, analysis_size=(27, 48), backend=backend)
        starts = builtin_start_frames(changes, threshold)
        return [SceneCut(k, float(changes.times[k]), float(changes.scores[k])) for k in starts]
    if detector == "adaptive":
        from video_assets.media.scene_detectors import adaptive_scene_cuts

        found = adaptive_scene_cuts(path, backend=backend)
        return [SceneCut(k, float(found.times[k]), r) for k, r in zip(found.cuts, found.ratios, strict=True)]
    if detector == "transnetv2":
        if cut_probabilities is None:
            raise ValueError('detector "transnetv2" needs cut_probabilities (models.transnetv2_cuts.cut_probabilities)')
        scored = frame_probabilities(path, cut_probabilities, backend=backend)
        cuts = []
        for k in scene_start_frames(scored.probabilities):
            first = k - 1  # the run over the threshold that ends at k - 1
            while first > 0 and scored.probabilities[first - 1] > LEARNED_THRESHOLD:
                first -= 1
            cuts.append(SceneCut(k, float(scored.times[k]), float(scored.probabilities[first:k].max())))
        return cuts
    raise ValueError(f"unknown scene detector {detector!r}; choose {', '.join(DETECTORS)}")
