"""Shuffled AVI stamps (packed B-frames): the decoder holds only the pictures it expects
to be wanted, checks each label against that expectation, and decodes again holding all
when a packet gave no picture; either way it serves what a pass holding every picture serves."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from video_assets.media.decoders import open_decoder
from video_assets.media.pyav_pictures import SortedLabels
from video_assets.media.synthetic_codecs import make_garbage_middle, make_mpeg4_avi


def _read(path, expect: bool, step: int = 7):
    with open_decoder(path, num_threads=1) as decoder:
        decoder.expect_labels = expect
        got = list(decoder.read(np.arange(0, len(decoder.index), step)))
        return got, decoder.stats, list(decoder.errors), dict(decoder.substitutes)


def _same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(i == j and np.array_equal(x, y) for (i, x), (j, y) in zip(a, b))


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    root = tmp_path_factory.mktemp("packed")
    return make_mpeg4_avi(root / "packed.avi", duration_s=3.0, bframes=2, packed=True)


def test_clean_packed_b_frames_decode_once_as_when_holding_all(packed) -> None:
    fast, stats, errors, subs = _read(packed, expect=True)
    slow, _, slow_errors, slow_subs = _read(packed, expect=False)
    assert _same(fast, slow) and errors == slow_errors == [] and subs == slow_subs
    # Once: no second pass; the B-VOPs nobody wants were skipped (`ReorderedSkipping`).
    assert stats.restarts == 0 and stats.frames_decoded < stats.packets_demuxed


def test_a_missing_picture_decodes_again_holding_all(packed, tmp_path) -> None:
    bad = make_garbage_middle(packed, tmp_path / "bad.avi", at=0.5, length=1000)
    fast, stats, errors, subs = _read(bad, expect=True)
    slow, slow_stats, slow_errors, slow_subs = _read(bad, expect=False)
    assert stats.restarts == 1 and slow_stats.restarts == 0  # the expectation failed once
    assert _same(fast, slow) and errors == slow_errors and subs == slow_subs


def _pictures(stamps: list[int]) -> list[av.VideoFrame]:
    frames = []
    for pts in stamps:
        frame = av.VideoFrame(16, 16, "yuv420p")
        frame.pts, frame.time_base = pts, Fraction(1, 30)
        frames.append(frame)
    return frames


def test_labels_hold_only_expected_wanted_pictures() -> None:
    # Pictures come out in presentation order with decode-order stamps (I0 B2 B3 P1 ...).
    stamps = [0, 2, 3, 1, 5, 6, 4, 8, 9, 7]
    labels = SortedLabels(window=4)
    labels.expect(np.arange(10), frozenset({3, 6}))
    out = [pair for frame in _pictures(stamps) for pair in labels.push(frame)] + list(labels.flush())
    assert [label for label, _ in out] == list(range(10)) and not labels.mismatch
    assert [label for label, picture in out if picture is not None] == [3, 6]
    assert [picture.pts for label, picture in out if picture is not None] == [1, 4]


def test_a_picture_missing_from_the_expectation_is_a_mismatch() -> None:
    labels = SortedLabels(window=4)
    labels.expect(np.arange(10), frozenset({3}))
    stamps = [0, 2, 3, 5, 6, 4, 8, 9, 7]  # the picture stamped 1 never came
    out = [pair for frame in _pictures(stamps) for pair in labels.push(frame)] + list(labels.flush())
    assert labels.mismatch
    # Nothing after the first wrong name: a wanted frame's stand-in served from there
    # could not be taken back by the second pass.
    assert [label for label, _ in out] == [0]
