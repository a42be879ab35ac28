"""Pictures no wanted frame needs are left out (not sent, or skipped by the codec), and the
frames served are bit-identical to those of a pass that decodes every picture.

Files: MPEG-4 Part 2 in AVI as Xvid/DivX write it (P-only, B-frames, packed B-frames,
not-coded frames) and H.264 in AVI (B-frames stamped in decode order); keyframes every
12 frames (FFmpeg's MPEG-4 default) so that whole GOPs lie between wanted frames.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from video_assets.media.decoders import open_decoder
from video_assets.media.pyav_reordered import display_order
from video_assets.media.synthetic import make_video
from video_assets.media.synthetic_codecs import make_mpeg4_avi

CASES = {
    "xvid_p_only": dict(),
    "xvid_bframes": dict(bframes=2),
    "xvid_packed_b": dict(bframes=2, packed=True),
    "divx_packed_3b_25fps": dict(bframes=3, packed=True, fps=25),
    "xvid_not_coded": dict(drop_every=5),
}
# H.264 in AVI (stamps in decode order, B-frames in x264's pyramid): one IDR, and one every 24 frames.
H264_CASES = {"h264_avi": dict(), "h264_avi_idr_every_24": dict(gop=24)}


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("left_out")
    cache = {}

    def get(name: str):
        if name not in cache:
            if name in H264_CASES:
                cache[name] = make_video(root / f"{name}.avi", duration_s=4.0, size=(96, 64), **H264_CASES[name])
            else:
                cache[name] = make_mpeg4_avi(root / f"{name}.avi", duration_s=4.0, pattern="moving", **CASES[name])
        return cache[name]

    return get


def _read(path, wanted: np.ndarray | None = None, threads: int = 1):
    with open_decoder(path, num_threads=threads) as decoder:
        wanted = np.arange(len(decoder.index)) if wanted is None else wanted
        got = dict(decoder.read(wanted))
        return got, decoder.stats, dict(decoder.substitutes), list(decoder.errors)


@pytest.mark.parametrize("name", sorted(CASES) + sorted(H264_CASES))
@pytest.mark.parametrize("step", [15, 7])
@pytest.mark.parametrize("threads", [1, 0])  # 0: FFmpeg's frame threads, pictures come out later
def test_sparse_frames_equal_a_full_decodes_and_fewer_pictures_are_decoded(made, name, step, threads):
    path = made(name)
    full, full_stats, full_subs, full_errors = _read(path)
    wanted = np.arange(0, len(full), step)
    sparse, stats, subs, errors = _read(path, wanted, threads)
    assert sorted(sparse) == wanted.tolist() and errors == full_errors == []
    for i in wanted.tolist():
        assert np.array_equal(sparse[i], full[i]), i
    assert subs == {i: full_subs[i] for i in wanted.tolist() if i in full_subs}
    assert stats.restarts == 0
    assert stats.frames_decoded < full_stats.frames_decoded  # pictures were left out


def test_a_keyframe_flag_that_lies_decodes_again_sending_every_packet(made):
    """An index that calls P-VOPs keyframes (FFmpeg's AVI demuxer flags MPEG-4 from the
    bitstream, other paths may not): packets before a false keyframe are needed, so the
    pass starts again from the first packet and sends every one."""
    path = made("xvid_p_only")
    full, _, _, _ = _read(path)
    wanted = np.array([0, 22, 30, 46])
    with open_decoder(path, num_threads=1) as decoder:
        keyframes = decoder.index.keyframes.copy()
        keyframes[[20, 44]] = True
        decoder.index = dataclasses.replace(decoder.index, keyframes=keyframes)
        sparse = dict(decoder.read(wanted))
        assert decoder.stats.restarts == 1 and decoder.errors == []  # the P-VOP at 20 was no place to start
    for i in wanted.tolist():
        assert np.array_equal(sparse[i], full[i]), i


@pytest.mark.parametrize("name", ["xvid_packed_b", "h264_avi"])
def test_a_display_order_that_is_wrong_is_caught_and_the_pass_decodes_again_holding_all(made, name):
    """Two reference pictures swapped in the order read off the headers: the first picture
    out of its place ends the skipping, and the pass starts again decoding every picture."""
    path = made(name)
    full, _, _, _ = _read(path)
    wanted = np.arange(0, len(full), 7)
    with open_decoder(path, num_threads=1) as decoder:
        pictures = [
            p
            for packet in decoder.picture_order.packets
            for p in (getattr(packet, "vops", None) or [packet])
            if p is not None and not p.skippable and p.position > 40
        ]
        pictures[0].position, pictures[1].position = pictures[1].position, pictures[0].position
        sparse = dict(decoder.read(wanted))
        assert decoder.stats.restarts == 1 and decoder.errors == []
    for i in wanted.tolist():
        assert np.array_equal(sparse[i], full[i]), i


def test_a_packed_avi_cut_inside_a_keyframes_vol_header_still_decodes(made, tmp_path):
    """A download cut off a few bytes into a keyframe chunk (VOS, then a VOL header cut short):
    the header readers of the index demux must not fail the file, which decoded before they
    existed; the order is not followed and every picture is decoded."""
    data = made("xvid_packed_b").read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: data.rfind(b"\x00\x00\x01\xb0") + 20])  # 20 bytes: inside the VOL header
    full, _, _, _ = _read(cut)
    assert len(full) > 40
    with open_decoder(cut, num_threads=1) as decoder:
        assert decoder.picture_order is None
        sparse = dict(decoder.read(np.arange(0, len(full), 7)))
    for i, picture in sparse.items():
        assert np.array_equal(picture, full[i]), i


def test_codec_headers_cut_short_give_no_display_order():
    """Extradata holding a VOL header cut short (a damaged or hand-made AVI stream header):
    no order to follow, not an exception out of the decoder's constructor."""
    codec = SimpleNamespace(name="mpeg4", has_b_frames=1, extradata=b"\x00\x00\x01\xb0\x01\x00\x00\x01\x20\x00")
    assert display_order(codec) is None
