"""Scene analysis scales its tiny frames its own, cheaper way (`scenes.ANALYSIS_SCALING`);
every other read, the frames stage's included, keeps the models' bicubic scaling."""

from __future__ import annotations

import av
import numpy as np
import pytest

from video_assets.media.decode import Scaling
from video_assets.media.decoders import available_backends, open_decoder
from video_assets.media.scenes import ANALYSIS_SCALING

SIZE = (27, 48)


def _scaled(frames: list[av.VideoFrame], scaling: Scaling) -> np.ndarray:
    """libswscale called directly, as the backends should call it."""
    return np.stack(
        [
            f.to_ndarray(format="rgb24", height=SIZE[0], width=SIZE[1], interpolation=scaling.interpolation)
            for f in frames
        ]
    )


def _read(path, backend: str, **kwargs) -> np.ndarray:
    with open_decoder(path, backend=backend) as decoder:
        return np.stack([rgb for _, rgb in decoder.read(np.arange(len(decoder.index)), **kwargs)])


@pytest.mark.parametrize("backend", available_backends())
def test_only_scene_analysis_scales_another_way(synthetic_video, backend):
    path = synthetic_video(duration_s=1.0, size=(96, 72), seed=4)
    if backend == "pyav":  # PyAV scales the decoded YUV pictures
        with av.open(str(path)) as container:
            pictures = list(container.decode(video=0))
    else:  # decord decodes to RGB at native size; we scale that
        pictures = [av.VideoFrame.from_ndarray(rgb, format="rgb24") for rgb in _read(path, backend)]
    models = _read(path, backend, size=SIZE)  # what `frames.extract_frames` asks for
    analysis = _read(path, backend, size=SIZE, scaling=ANALYSIS_SCALING)
    np.testing.assert_array_equal(models, _scaled(pictures, Scaling("BICUBIC")))
    np.testing.assert_array_equal(analysis, _scaled(pictures, ANALYSIS_SCALING))
    assert not np.array_equal(models, analysis)


@pytest.mark.parametrize("backend", available_backends())
def test_the_adaptive_detector_sees_the_default_pictures_on_one_thread(synthetic_video, backend):
    from video_assets.media.scene_detectors import ONE_THREAD_BICUBIC

    path = synthetic_video(duration_s=1.0, size=(642, 362), seed=5)  # odd size, several scaler slices
    np.testing.assert_array_equal(
        _read(path, backend, size=SIZE, scaling=ONE_THREAD_BICUBIC), _read(path, backend, size=SIZE)
    )
