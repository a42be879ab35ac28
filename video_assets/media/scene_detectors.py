"""PySceneDetect's AdaptiveDetector on frames from our decoder (optional extra ``scenes``).

PySceneDetect's own video backends stamp cuts one frame late where pts do not start at 0
(B-frame AVIs); here its detector only sees pictures, numbered in decode order, and a cut
on picture ``k`` is mapped back to our decoder's timestamp of that picture, so the cut
lands where the builtin splitter would put it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from video_assets.media.decode import Scaling
from video_assets.media.decoders import open_decoder
from video_assets.media.errors import VideoReadError

INSTALL_HINT = 'pip install "video-assets[scenes]"'


# The pictures of the default scaling (bicubic, the cuts this detector was measured with),
# without a libswscale thread pool per frame: identical pixels, a fraction of the cost at 27x48.
ONE_THREAD_BICUBIC = Scaling("BICUBIC", threads=1)


class SceneDetectorUnavailable(ImportError):
    """The configured scene detector needs a package that is not installed (or fails to import)."""


def _scenedetect() -> ModuleType:
    """PySceneDetect, imported only when the setting asks for it."""
    try:
        import scenedetect
    except ImportError as exc:
        setting = 'clipping.scene_detector = "adaptive" needs PySceneDetect'
        if exc.name == "scenedetect":
            raise SceneDetectorUnavailable(
                f"{setting}, which is not installed; install it with: {INSTALL_HINT}"
            ) from exc
        # Installed but broken, e.g. its OpenCV (GUI) wheel without libGL.so.1 on the host.
        raise SceneDetectorUnavailable(f"{setting}, which failed to import: {exc} (reinstall: {INSTALL_HINT})") from exc
    return scenedetect


@dataclass(frozen=True)
class AdaptiveCuts:
    times: np.ndarray  # (N,) our decoder's time of each picture, in decode order
    cuts: list[int]  # first picture of each scene after the first, ascending
    # Per cut: the detector's adaptive ratio at that picture, its content change over the mean
    # change of the `window_width` (2) pictures either side; it cuts at >= 3.0 (and a content
    # change >= 15).
    ratios: list[float]
    end_s: float


def adaptive_scene_cuts(
    path: str | Path,
    *,
    analysis_size: tuple[int, int] = (27, 48),
    backend: str = "pyav",
    num_threads: int = 0,
) -> AdaptiveCuts:
    """The cuts PySceneDetect's ``AdaptiveDetector`` (its default settings) finds on our
    decoder's frames of the video at ``path``, scaled to ``analysis_size`` (H, W)."""
    scenedetect = _scenedetect()
    detector = scenedetect.AdaptiveDetector()
    # Only read for the ratios: the cuts are what process_frame returns.
    detector.stats_manager = scenedetect.StatsManager()
    times: list[float] = []
    cuts: list[int] = []
    with open_decoder(path, backend=backend, num_threads=num_threads) as decoder:
        index = decoder.index
        # Only frame counts matter to the detector (min_scene_len is in frames); the rate
        # is what it shows in logs.
        rate = len(index) / index.end_s if index.end_s > 0 else 30.0
        for i, rgb in decoder.read(np.arange(len(index)), size=analysis_size, scaling=ONE_THREAD_BICUBIC):
            timecode = scenedetect.FrameTimecode(len(times), fps=rate)
            times.append(float(index.times[i]))
            bgr = np.ascontiguousarray(rgb[:, :, ::-1])  # the detector converts from BGR
            cuts.extend(cut.frame_num for cut in detector.process_frame(timecode, bgr))
        if not times:
            raise VideoReadError(path, f"no frame could be decoded ({'; '.join(decoder.errors[:3])})")
        cuts.extend(cut.frame_num for cut in detector.post_process(scenedetect.FrameTimecode(len(times) - 1, fps=rate)))
        end_s = index.end_s
    kept = [k for k in sorted(set(cuts)) if 0 < k < len(times)]
    key = detector.get_metrics()[-1]  # "adaptive_ratio (w=2)"
    ratios = [float(detector.stats_manager.get_metrics(k, [key])[0] or 0.0) for k in kept]
    return AdaptiveCuts(np.asarray(times), kept, ratios, float(end_s))


def adaptive_scene_boundaries(
    path: str | Path,
    *,
    analysis_size: tuple[int, int] = (27, 48),
    backend: str = "pyav",
    num_threads: int = 0,
) -> list[tuple[float, float]]:
    """Scenes of the video at ``path`` as (start_s, end_s) found by PySceneDetect's
    ``AdaptiveDetector`` (its default settings), covering the video from 0 to its end.

    Frames are scaled by our decoder to ``analysis_size`` (H, W), as for the builtin
    splitter: on benchmarks/scene_cuts.py the detector found as many cuts there as at the
    ~256 px width PySceneDetect scales to, in less time (benchmarks/RESULTS.md)."""
    found = adaptive_scene_cuts(path, analysis_size=analysis_size, backend=backend, num_threads=num_threads)
    edges = [0.0] + [float(found.times[k]) for k in found.cuts] + [found.end_s]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]
