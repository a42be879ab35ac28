"""Picture headers read without decoding: MPEG-4 Part 2 VOPs and H.264 slices."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from video_assets.media.h264_headers import RbspBits, Unsupported
from video_assets.media.h264_order import H264Order, nal_units
from video_assets.media.mpeg4_order import Mpeg4Order
from video_assets.media.mpeg4_vops import coded_vops, starts_intra, time_increment_bits, vop_types
from video_assets.media.synthetic_codecs import make_mpeg4_avi, not_coded_vop


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


def _packed_packets(tmp_path) -> tuple[list[bytes], bytes]:
    path = make_mpeg4_avi(tmp_path / "packed.avi", duration_s=1.5, bframes=2, packed=True, pattern="moving")
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [bytes(p) for p in container.demux(stream) if p.size], bytes(stream.codec_context.extradata or b"")


def _packed_order(packets: list[bytes], extradata: bytes) -> Mpeg4Order:
    order = Mpeg4Order(extradata)
    for pts, data in enumerate(packets):
        order.feed(pts, data)
    order.finish()
    return order


def _ffmpeg_stamps(packets: list[bytes], extradata: bytes) -> list[int]:
    codec = av.CodecContext.create("mpeg4", "r")
    codec.extradata, codec.thread_count = extradata, 1
    stamps = []
    for pts, data in enumerate([*packets, None]):
        packet = None if data is None else av.Packet(data)
        if packet is not None:
            packet.pts = packet.dts = pts
        stamps.extend(frame.pts for frame in codec.decode(packet))
    return stamps


def test_a_packed_stream_ending_on_a_placeholder_that_decodes_nothing_stamps_the_last_reference_so(tmp_path) -> None:
    """A P-VOP with no B-VOP packed behind it, then a placeholder (the chunks after it lost):
    FFmpeg's drain shows the P stamped with the placeholder's pts, and so does the order."""
    packets, extradata = _packed_packets(tmp_path)
    packed_p = next(k for k in range(len(packets) - 1, 0, -1) if vop_types(packets[k]) == ["P", "B"])
    p_only = packets[packed_p][: packets[packed_p].index(b"\x00\x00\x01\xb6", 4)]
    packets = [*packets[:packed_p], p_only, not_coded_vop(packed_p + 1, packed_p, 30)]
    order = _packed_order(packets, extradata)
    last = max((v for p in order.packets for v in p.vops if v.position >= 0), key=lambda v: v.position)
    stamps = _ffmpeg_stamps(packets, extradata)
    assert order.valid and stamps[-1] == len(packets) - 1 and last.pts == stamps[-1]


def test_a_b_vop_timed_outside_its_references_a_lost_packed_chunk_is_not_followed(tmp_path) -> None:
    """Packed B-frames with a placeholder and the P+B chunk after it lost (an AVI chunk
    header rotted): the B-VOP of the next chunk is timed after both references FFmpeg holds,
    so FFmpeg drops it with no picture; the order does not follow that and is refused."""
    packets, extradata = _packed_packets(tmp_path)
    assert _packed_order(packets, extradata).valid
    placeholder = next(k for k, data in enumerate(packets) if k > 10 and len(data) <= 7)
    lost = packets[:placeholder] + packets[placeholder + 2 :]
    assert len(_ffmpeg_stamps(lost, extradata)) < len(_ffmpeg_stamps(packets, extradata)) - 2  # a B-VOP dropped
    assert not _packed_order(lost, extradata).valid
