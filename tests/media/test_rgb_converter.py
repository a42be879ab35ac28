"""One libswscale context per pass (`RgbConverter`) gives the bytes a fresh context per
frame gives, also when size or pixel format change between pictures."""

from __future__ import annotations

import av
import numpy as np

from video_assets.media.decode import Scaling, upright
from video_assets.media.pyav_pictures import RgbConverter

PICTURES = [(48, 64, "yuv420p"), (120, 160, "yuv420p"), (48, 64, "yuv444p"), (120, 160, "yuv420p10le")]


def test_one_context_matches_a_fresh_one_per_picture_as_pictures_change() -> None:
    rng = np.random.default_rng(0)
    converter = RgbConverter(Scaling(), threads=1)
    for height, width, pix_fmt in PICTURES:
        rgb = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt)
        assert np.array_equal(converter.rgb(frame), frame.to_ndarray(format="rgb24"))
        fresh = frame.to_ndarray(format="rgb24", height=30, width=40, interpolation="BICUBIC")
        assert np.array_equal(converter.rgb(frame, (30, 40)), fresh)


def test_upright_turns_whole_pixels() -> None:
    rgb = np.random.default_rng(1).integers(0, 255, (37, 53, 3), dtype=np.uint8)
    for rotation in (90, 180, 270):
        turned = upright(rgb, rotation)
        assert np.array_equal(turned, np.rot90(rgb, k=-(rotation // 90))) and turned.flags.c_contiguous
