"""Picture headers read without decoding: MPEG-4 Part 2 VOPs and H.264 slices."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from video_assets.media.h264_headers import RbspBits, Unsupported
from video_assets.media.h264_order import H264Order, nal_units
from video_assets.media.mpeg4_vops import coded_vops, starts_intra, time_increment_bits, vop_types
from video_assets.media.synthetic_codecs import not_coded_vop


def _bits(text: str) -> RbspBits:
    text += "0" * (-len(text) % 8)
    return RbspBits(int(text, 2).to_bytes(len(text) // 8, "big"))


def test_exp_golomb_codes_read_as_the_standard_tables() -> None:
    bits = _bits("1" + "010" + "011" + "00100" + "00111" + "011" + "010")
    assert [bits.ue(), bits.ue(), bits.ue(), bits.ue(), bits.ue()] == [0, 1, 2, 3, 6]
    assert [bits.se(), bits.se()] == [-1, 1]


def test_emulation_prevention_bytes_are_removed_and_a_short_header_is_refused() -> None:
    bits = RbspBits(b"\x00\x00\x03\x01")
    assert bits.u(24) == 1
    with pytest.raises(Unsupported):
        bits.u(9)


def test_vop_headers_give_type_coded_flag_and_keyframes() -> None:
    # The VOL headers FFmpeg's encoder writes at 30 fps (vop_time_increment_resolution 30:
    # 5 bits), without and with B-frames (vol_control_parameters set).
    assert time_increment_bits(bytes.fromhex("0000012000c48d8800f514042d1443")) == 5
    assert time_increment_bits(bytes.fromhex("0000012008d48d0800f514042d14103f")) == 5
    placeholder = not_coded_vop(7, 6, 30)
    assert coded_vops(placeholder, 5) == [("P", False, 0)]
    intra_then_b = b"\x00\x00\x01\xb6\x10\xff" + b"\x00\x00\x01\xb6\x90\xff"
    assert vop_types(intra_then_b) == ["I", "B"] and starts_intra(intra_then_b)
    assert not starts_intra(placeholder) and time_increment_bits(placeholder) is None


def test_h264_nal_units_split_on_start_codes_and_length_prefixed_packets_are_not_followed() -> None:
    assert nal_units(b"\x00\x00\x00\x01\x67ab\x00\x00\x01\x68c") == [(0x67, b"ab"), (0x68, b"c")]
    order = H264Order()
    order.feed(0, b"\x00\x00\x00\x05\x65abcde")  # AVCC: a length, not a start code
    assert not order.valid


def _x264_packets(frames: int) -> list[bytes]:
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = 64, 48, "yuv420p"
    codec.time_base, codec.framerate = Fraction(1, 30), Fraction(30)
    codec.options = {"preset": "veryfast", "bf": "3"}
    packets = []
    for i in range(frames):
        frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 8 * i, dtype=np.uint8), format="rgb24")
        frame.pts = i
        packets.extend(bytes(p) for p in codec.encode(frame.reformat(format="yuv420p")))
    return packets + [bytes(p) for p in codec.encode(None)]


def test_a_lost_h264_reference_picture_a_frame_num_gap_is_not_followed() -> None:
    """A reference picture missing (an AVI chunk the demuxer lost): FFmpeg fills the
    frame_num gap from the picture decoded before, so skipping a non-reference picture
    would change the pictures after it; the order is refused, every picture decoded."""
    packets = _x264_packets(24)
    whole = H264Order()
    for pts, data in enumerate(packets):
        whole.feed(pts, data)
    whole.finish()
    assert whole.valid
    p_slices = [k for k, data in enumerate(packets) if k > 4 and data[4] & 0x7F == 0x41]  # nal_ref_idc 2, type 1
    lost = H264Order()
    for pts, data in enumerate(packets):
        if pts != p_slices[0]:
            lost.feed(pts, data)
    lost.finish()
    assert not lost.valid
