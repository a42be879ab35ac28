"""Videos the way real collections hold them, and ffmpeg's own frame sampling to check against.

- `make_mpeg4_avi`: MPEG-4 Part 2 in AVI as Xvid/DivX write it: B-frames (timestamps
  that start at 1 and come out of order), DivX "packed" B-frames (a P and a B frame in
  one chunk, then a tiny placeholder chunk that gives no picture of its own), and
  dropped frames (a 7-byte "not coded" VOP or a zero-size chunk standing for a repeat
  of the previous picture);
- `make_codec_case`: one of `CODEC_CASES` (MJPEG AVI, VP9 WebM, 10-bit HEVC and H.264,
  17x13, VFR, rotated, one frame, half a second, ...);
- `make_garbage_middle`: random bytes written over the middle of a file (bit rot);
- `ffmpeg_fps_reference`: the pictures ``ffmpeg -vf fps=N`` gives, run through PyAV's
  `av.filter.Graph` (the same libavfilter code the CLI runs).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from video_assets.media.mpeg4_vops import VOP_START
from video_assets.media.pyav_pictures import frame_to_rgb
from video_assets.media.synthetic import MovingScene, index_image, make_video

# DivX 5 user data whose trailing "p" tells FFmpeg's decoder the B-frames are packed.
DIVX_PACKED_USER_DATA = b"\x00\x00\x01\xb2DivX503b1393p"

# make_video arguments (and the suffix) of the codec classes the decode tests cover.
CODEC_CASES: dict[str, tuple[str, dict]] = {
    "h264_mp4": (".mp4", {"codec": "libx264"}),
    "mjpeg_avi": (".avi", {"codec": "mjpeg"}),
    "mpeg4_avi": (".avi", {"codec": "mpeg4"}),
    "vp9_webm": (".webm", {"codec": "libvpx-vp9"}),
    "hevc_10bit": (".mp4", {"codec": "libx265", "pix_fmt": "yuv420p10le"}),
    "h264_10bit": (".mp4", {"codec": "libx264", "pix_fmt": "yuv420p10le"}),
    "h264_avi": (".avi", {"codec": "libx264"}),  # B-frames stamped in decode order
    "odd_17x13": (".mp4", {"codec": "libx264", "pix_fmt": "yuv444p", "size": (17, 13)}),  # 4:2:0 needs even sizes
    "vfr_mkv": (".mkv", {"codec": "libx264", "vfr": True}),
    "rotated_90": (".mp4", {"codec": "libx264", "rotation": 90}),
    "one_frame": (".mp4", {"codec": "libx264", "duration_s": 1 / 30}),
    "half_second": (".mp4", {"codec": "libx264", "duration_s": 0.5}),
}


def make_codec_case(
    name: str,
    dst: str | Path,
    *,
    duration_s: float = 2.0,
    fps: float = 30.0,
    size: tuple[int, int] = (64, 48),
    pattern: str = "index",
    seed: int = 0,
) -> Path:
    """Write ``CODEC_CASES[name]`` to ``dst`` (its suffix is replaced by the case's);
    the case's own settings (e.g. the 17x13 size) win over the arguments."""
    if name not in CODEC_CASES:
        raise ValueError(f"unknown codec case {name!r}; choose one of {sorted(CODEC_CASES)}")
    suffix, kwargs = CODEC_CASES[name]
    settings = {"duration_s": duration_s, "fps": fps, "size": size, "pattern": pattern, "seed": seed, **kwargs}
    return make_video(Path(dst).with_suffix(suffix), **settings)


def _encode_mpeg4(
    pictures: list[np.ndarray], slots: list[int], fps: int, bframes: int, options: dict[str, str]
) -> list[av.Packet]:
    """MPEG-4 Part 2 packets in decode order; picture k is stamped with its slot number."""
    height, width = pictures[0].shape[:2]
    codec = av.CodecContext.create("mpeg4", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base, codec.framerate = Fraction(1, fps), Fraction(fps)
    codec.max_b_frames = bframes
    codec.options = {"qscale": "3", "bf": str(bframes), **options}
    packets = []
    for rgb, slot in zip(pictures, slots):
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        frame.pts = slot
        packets.extend(codec.encode(frame))
    packets.extend(codec.encode(None))
    return packets


def not_coded_vop(slot: int, previous_slot: int, fps: int) -> bytes:
    """A P-VOP with vop_coded = 0 at time ``slot`` / ``fps``: 7 bytes, no picture.

    Bits: start code, vop_coding_type 01 (P), one "1" per second boundary crossed since
    the previous VOP and a "0" (modulo_time_base), marker, vop_time_increment (as many
    bits as FFmpeg's encoder gives a 1/fps time base), marker, vop_coded 0, stuffing.
    """
    increment_bits = max(1, (fps - 1).bit_length())
    seconds = slot // fps - previous_slot // fps
    bits = "01" + "1" * seconds + "0" + "1" + format(slot % fps, f"0{increment_bits}b") + "1" + "0"
    bits += "0" + "1" * ((7 - len(bits)) % 8)  # next_start_code stuffing: a 0, then 1s to the byte
    return VOP_START + int(bits, 2).to_bytes(len(bits) // 8, "big")


def _pack_b_frames(packets: list[av.Packet], fps: int) -> list[tuple[bytes, bool]]:
    """DivX packed bitstream: each reference frame followed by B-frames shares its chunk
    with the first B; the later Bs keep their chunks; a placeholder VOP closes the group."""
    data = [bytes(p) for p in packets]
    first_vop = data[0].index(VOP_START)
    data[0] = data[0][:first_vop] + DIVX_PACKED_USER_DATA + data[0][first_vop:]
    pts = [p.pts for p in packets]
    chunks, k = [], 0
    while k < len(data):
        if k + 1 < len(data) and pts[k + 1] < pts[k]:  # a reference frame shown after the Bs that follow
            ref_pts = pts[k]
            chunks.append((data[k] + data[k + 1], bool(packets[k].is_keyframe)))
            k += 2
            while k < len(data) and pts[k] < ref_pts:
                chunks.append((data[k], False))
                k += 1
            chunks.append((not_coded_vop(ref_pts, ref_pts, fps), False))
        else:
            chunks.append((data[k], bool(packets[k].is_keyframe)))
            k += 1
    return chunks


def make_mpeg4_avi(
    dst: str | Path,
    *,
    duration_s: float = 2.0,
    fps: int = 30,
    size: tuple[int, int] = (64, 48),
    pattern: str = "index",
    seed: int = 0,
    bframes: int = 0,
    packed: bool = False,
    drop_every: int = 0,
    dropped: str = "not_coded",
    encoder_options: dict[str, str] | None = None,
) -> Path:
    """MPEG-4 Part 2 (Xvid/DivX-like) in AVI, ``size`` (W, H), one AVI chunk per frame slot.

    ``bframes``: most B-frames in a row (FFmpeg's AVI demuxer then guesses pts that start
    at 1 and arrive out of order). ``packed``: DivX packed B-frames (needs ``bframes``).
    ``drop_every`` = n >= 2: every n-th slot (n-1, 2n-1, ...) is a dropped frame, written
    as ``dropped`` = "not_coded" (a 7-byte VOP that decodes to no picture) or "empty" (a
    zero-size chunk); its picture is not encoded, so the slot stands for a repeat of the
    previous picture, as encoders that drop frames mean it (B-frame streams do not mix
    with dropped slots here). With ``pattern="index"`` slot k shows the number k (a
    dropped slot shows nothing: its number is never drawn). ``encoder_options``: more
    options of FFmpeg's mpeg4 encoder (e.g. ``{"flags": "+qpel+mv4", "mpeg_quant": "1"}``).
    """
    if packed and not bframes:
        raise ValueError("packed B-frames need bframes > 0")
    if drop_every and (drop_every < 2 or bframes):
        raise ValueError("drop_every must be >= 2 and cannot be combined with bframes")
    if dropped not in ("not_coded", "empty"):
        raise ValueError(f"dropped must be 'not_coded' or 'empty', got {dropped!r}")
    width, height = size
    slots = list(range(max(1, round(duration_s * fps))))
    coded = [s for s in slots if not (drop_every and s % drop_every == drop_every - 1)]
    scene = MovingScene(width, height, seed) if pattern == "moving" else None
    pictures = [index_image(s, width, height) if scene is None else scene.draw(s / fps) for s in coded]
    packets = _encode_mpeg4(pictures, coded, fps, bframes, encoder_options or {})
    if packed:
        chunks = _pack_b_frames(packets, fps)
    else:
        chunks = [(bytes(p), bool(p.is_keyframe)) for p in packets]
        if drop_every:  # no B-frames: decode order is slot order, so slots fit in between
            by_slot = dict(zip(coded, chunks))
            chunks, last_coded = [], 0
            for s in slots:
                if s in by_slot:
                    chunks.append(by_slot[s])
                    last_coded = s
                else:
                    chunks.append((not_coded_vop(s, last_coded, fps) if dropped == "not_coded" else b"", False))
    path = Path(dst)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="avi") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        for slot, (payload, key) in enumerate(chunks):
            packet = av.Packet(payload)
            packet.pts = packet.dts = slot
            packet.time_base, packet.is_keyframe, packet.stream = Fraction(1, fps), key, stream
            out.mux(packet)
    return path


def make_garbage_middle(
    src: str | Path, dst: str | Path, *, at: float = 0.5, length: int = 4096, seed: int = 0
) -> Path:
    """A copy of ``src`` with ``length`` random bytes written over it at ``at`` of its size
    (bit rot inside the media data; the container's index is left as it was)."""
    if not 0 < at < 1:
        raise ValueError(f"at must be in (0, 1), got {at}")
    data = bytearray(Path(src).read_bytes())
    start = int(len(data) * at)
    junk = np.random.default_rng(seed).integers(0, 256, min(length, len(data) - start), dtype=np.uint8)
    data[start : start + len(junk)] = junk.tobytes()
    path = Path(dst)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))
    return path


def ffmpeg_fps_reference(path: str | Path, fps: float, *, rounding: str = "up") -> tuple[list[np.ndarray], list[float]]:
    """Upright RGB pictures and their times (s from the first picture) of ``fps=fps`` run
    through libavfilter, as ``ffmpeg -i path -vf fps=fps`` samples them.

    Pictures reach the filter in the decoder's output order with the stamps FFmpeg's
    best-effort timestamp settles on for files whose pts are shuffled (DivX packed
    B-frames, H.264 in AVI): the sorted pts, from 0. ``rounding="up"`` makes output n show the
    last picture at or before n / fps; the CLI's default ("near") shows the last one
    before (n + 0.5) / fps, half a sample later than NeMo's nearest-frame rule we follow.
    """
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        pictures = [frame for frame in container.decode(stream) if frame.pts is not None]
        time_base = stream.time_base
    if not pictures:
        return [], []
    stamps = sorted(frame.pts for frame in pictures)
    stamps = [stamp - stamps[0] for stamp in stamps]  # the CLI starts at the input's start time
    graph = av.filter.Graph()
    first = pictures[0]
    source = graph.add_buffer(width=first.width, height=first.height, format=first.format.name, time_base=time_base)
    sampler = graph.add("fps", f"fps={fps}:round={rounding}")
    sink = graph.add("buffersink")
    source.link_to(sampler)
    sampler.link_to(sink)
    graph.configure()
    out: list[av.VideoFrame] = []

    def drain() -> None:
        while True:
            try:
                out.append(graph.vpull())
            except (av.BlockingIOError, av.EOFError):
                return

    for frame, stamp in zip(pictures, stamps):
        frame.pts = stamp
        graph.vpush(frame)
        drain()
    graph.vpush(None)
    drain()
    start = out[0].pts if out else 0
    times = [float((f.pts - start) / fps) for f in out]  # fps output time base is 1/fps
    return [frame_to_rgb(f, None) for f in out], times
