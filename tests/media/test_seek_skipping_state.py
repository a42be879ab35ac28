"""A seek keeps the decoder's ``skip_frame``: the pass must not forget that it left it at NONREF.

MP4 H.264 with B-frames (the common input): a wanted frame, a gap long enough to seek, then a dense
run of wanted frames starting at a keyframe. The packets after the first wanted frame are unwanted
(NONREF set) when the pass seeks; the run's B-frames are wanted and must decode, not be skipped and
served by a neighbour as a stand-in (silently wrong frames).
"""

from __future__ import annotations

import numpy as np

from video_assets.media.decoders import open_decoder
from video_assets.media.synthetic import make_video


def test_wanted_b_frames_after_a_seek_are_decoded(tmp_path) -> None:
    path = make_video(tmp_path / "gop60.mp4", duration_s=8.0, size=(96, 64), gop=60)
    with open_decoder(path, num_threads=1) as decoder:
        full = dict(decoder.read(np.arange(len(decoder.index))))
        key = np.flatnonzero(decoder.index.keyframes).tolist()[2]
    wanted = np.array([0, *range(key, key + 12)])
    with open_decoder(path, num_threads=1) as decoder:
        sparse = dict(decoder.read(wanted))
        assert decoder.stats.seeks == 1
        assert dict(decoder.substitutes) == {} and decoder.errors == []
    assert [i for i in wanted.tolist() if not np.array_equal(sparse[i], full[i])] == []
