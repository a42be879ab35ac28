from __future__ import annotations

import av
import numpy as np
import pytest

from video_assets.media.probe import probe
from video_assets.media.synthetic import make_near_copy, make_video, read_frame_index


def _decoded(path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


@pytest.mark.parametrize(
    "suffix, codec", [(".mp4", "libx264"), (".mp4", "mpeg4"), (".webm", "libvpx-vp9"), (".avi", "mjpeg")]
)
def test_frame_numbers_survive_every_codec(synthetic_video, suffix, codec):
    path = synthetic_video(suffix, codec=codec, duration_s=1.0, size=(64, 48), pattern="index")
    assert [read_frame_index(f) for f in _decoded(path)] == list(range(30))


def test_seeds_and_scenes_give_distinct_content(synthetic_video):
    a, b = _decoded(synthetic_video(seed=1, duration_s=0.2)), _decoded(synthetic_video(seed=2, duration_s=0.2))
    assert np.abs(a[0].astype(int) - b[0]).mean() > 20
    scenes = _decoded(synthetic_video(seed=1, duration_s=2.0, scene_cuts_s=[1.0]))
    assert np.abs(scenes[29].astype(int) - scenes[30]).mean() > 5 * np.abs(scenes[28].astype(int) - scenes[29]).mean()


def test_near_copy_is_resized_cropped_and_similar(synthetic_video, tmp_path):
    src = synthetic_video(duration_s=1.0, size=(160, 120), seed=4)
    copy = make_near_copy(src, tmp_path / "sub" / "copy.mp4", size=(81, 61), crop=0.1)
    info = probe(copy)
    assert (info.width, info.height, info.num_frames) == (80, 60, 30)  # even sizes for 4:2:0
    original = _decoded(src)[10][12:108, 16:144]  # the same 10 % crop, at full size
    near = av.VideoFrame.from_ndarray(_decoded(copy)[10], format="rgb24").reformat(width=128, height=96)
    assert np.abs(near.to_ndarray().astype(int) - original).mean() < 15


def test_make_video_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        make_video(tmp_path / "x.mp4", pattern="plaid")
    with pytest.raises(ValueError):
        make_video(tmp_path / "x.mp4", rotation=45)
