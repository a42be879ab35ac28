"""AVIs whose stamps are in decode order, from many real encoder configurations: the frames a
sparse read serves (pictures left out by the display order read off the headers,
`ReorderedSkipping`) are bit-identical to those of a full in-order decode that holds every
picture, labelled the same way, and pictures are still left out where the order is followed.

Every case is encoded here (PyAV's libx264 and mpeg4; libxvid through the ffmpeg CLI and
real footage only when present) at 96x64 or 160x120, 1-3 s. The damaged cases are those
each fix of the header readers came from: a lost H.264 reference (frame_num gap), packed
MPEG-4 chunks lost (a B-VOP timed outside its references, a stream ending on a placeholder
that decodes nothing), garbage inside a packed P-VOP and over the middle of the file.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from video_assets.media import decode_pyav
from video_assets.media.clipping import ClipSpan
from video_assets.media.decoders import open_decoder
from video_assets.media.frames import FramePolicy, FrameSignature, extract_frames
from video_assets.media.mpeg4_vops import vop_types
from video_assets.media.pyav_pictures import frame_to_rgb
from video_assets.media.synthetic import MovingScene
from video_assets.media.synthetic_codecs import make_garbage_middle, make_mpeg4_avi, not_coded_vop

SIZE, FPS = (96, 64), 30
FOOTAGE = Path("/tmp/video_assets_bench/footage")  # benchmarks/real_footage.py puts it here

# libx264 in AVI: name -> (encoder options, whether the order is followed and pictures left out).
X264 = {
    "bf1": ({"bf": "1"}, True),
    "bf2": ({"bf": "2"}, True),
    "bf3": ({"bf": "3"}, True),
    "bf8": ({"bf": "8"}, True),
    "bf16_badapt2": ({"bf": "16", "x264-params": "b-adapt=2"}, True),
    "pyramid_none": ({"bf": "3", "x264-params": "b-pyramid=none"}, True),
    "pyramid_strict": ({"bf": "3", "x264-params": "b-pyramid=strict"}, True),
    "pyramid_normal": ({"bf": "5", "x264-params": "b-pyramid=normal:b-adapt=0"}, True),
    "refs1": ({"bf": "3", "x264-params": "ref=1"}, True),
    "refs4": ({"bf": "3", "x264-params": "ref=4"}, True),
    "refs8_weightp2": ({"bf": "3", "x264-params": "ref=8:weightp=2"}, True),
    "weightb_off": ({"bf": "3", "x264-params": "weightb=0"}, True),
    "weightb_on": ({"bf": "3", "x264-params": "weightb=1"}, True),
    "open_gop": ({"bf": "3", "x264-params": "open-gop=1:keyint=5"}, True),  # order count wraps, no IDR
    "scenecut": ({"bf": "3", "x264-params": "scenecut=80:keyint=30:min-keyint=5"}, True),
    "keyint_short": ({"bf": "3", "x264-params": "keyint=5:min-keyint=1"}, True),
    "keyint_infinite": ({"bf": "3", "x264-params": "keyint=infinite"}, True),
    "intra_refresh": ({"bf": "3", "x264-params": "intra-refresh=1:keyint=10"}, True),
    "no_deblock": ({"bf": "3", "x264-params": "no-deblock=1"}, True),
    "constrained_intra": ({"bf": "3", "x264-params": "constrained-intra=1"}, True),
    "cavlc": ({"bf": "3", "x264-params": "cabac=0"}, True),
    "main": ({"bf": "3", "profile": "main"}, True),
    "high_cqm": ({"bf": "3", "profile": "high", "x264-params": "cqm=jvt"}, True),
    "slices4": ({"bf": "3", "x264-params": "slices=4"}, True),
    "sliced_threads": ({"bf": "3", "x264-params": "sliced-threads=1:threads=4"}, True),
    "aud_repeat_headers": ({"bf": "3", "x264-params": "aud=1:repeat-headers=1:keyint=10"}, True),
    "pulldown": ({"bf": "3", "x264-params": "pulldown=32"}, True),
    # Other SPS shapes (High 10, 4:2:2, 4:4:4 with scaling lists, 4:0:0 with weighted prediction).
    "high10_pyramid": ({"bf": "3", "pix_fmt": "yuv420p10le", "x264-params": "b-pyramid=normal"}, True),
    "yuv422": ({"bf": "3", "pix_fmt": "yuv422p"}, True),
    "yuv444_cqm": ({"bf": "3", "pix_fmt": "yuv444p", "x264-params": "cqm=jvt"}, True),
    "gray_weighted": ({"bf": "3", "pix_fmt": "gray", "x264-params": "weightp=2:weightb=1:ref=4"}, True),
    "baseline": ({"profile": "baseline"}, False),  # no B-frames: stamps in order
    "poc_type2": ({"bf": "0"}, False),
    "tff": ({"bf": "3", "x264-params": "tff=1"}, False),  # interlaced: field-capable SPS refused
    "bff": ({"bf": "3", "x264-params": "bff=1"}, False),
    "fake_interlaced": ({"bf": "3", "x264-params": "fake-interlaced=1"}, False),
}
# FFmpeg's mpeg4 encoder, unpacked (FFmpeg's AVI demuxer stamps these in display order) and
# DivX-packed (`make_mpeg4_avi`): name -> (B-frames, packed, more encoder options).
MPEG4 = {
    "bf1": (1, False, {}),
    "bf3_qpel_4mv": (3, False, {"flags": "+qpel+mv4"}),
    "packed_bf1": (1, True, {}),
    "packed_bf2": (2, True, {}),
    "packed_bf3": (3, True, {}),
    "packed_qpel": (2, True, {"flags": "+qpel"}),
    "packed_4mv_mpeg_quant": (2, True, {"flags": "+mv4", "mpeg_quant": "1"}),
    "packed_short_gop": (2, True, {"g": "6"}),
}
# libxvid through the ffmpeg CLI (it packs B-frames in AVI, as Xvid does): name -> CLI options.
XVID = {
    "bf1": ["-bf", "1"],
    "bf2": ["-bf", "2"],
    "bf2_gop12": ["-bf", "2", "-g", "12"],
    "bf3_long_gop": ["-bf", "3", "-g", "300"],
    "qpel_gmc": ["-bf", "2", "-flags", "+qpel", "-gmc", "1"],
    "mv4_mpeg_quant_cgop": ["-bf", "2", "-flags", "+mv4+cgop", "-mpeg_quant", "1", "-g", "12"],
    "static_scene": ["-bf", "2"],  # lavfi color source: every VOP after the first is empty
}


def _encode(path: Path, codec: str, options: dict[str, str], frames: int = 60) -> Path:
    """A moving scene encoded by ``codec`` into AVI with PyAV."""
    scene = MovingScene(*SIZE, 1)
    options = {"preset": "veryfast", **options}
    pix_fmt = options.pop("pix_fmt", "yuv420p")
    with av.open(str(path), "w", format="avi") as out:
        stream = out.add_stream(codec, rate=FPS, options=options)
        stream.width, stream.height, stream.pix_fmt = *SIZE, pix_fmt
        stream.codec_context.time_base = Fraction(1, FPS)
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(scene.draw(i / FPS), format="rgb24").reformat(format=pix_fmt)
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def _chunks(path: Path) -> tuple[list[tuple[bytes, bool]], bytes]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        chunks = [(bytes(p), bool(p.is_keyframe)) for p in container.demux(stream) if p.size]
        return chunks, bytes(stream.codec_context.extradata or b"")


def _rewrite(src: Path, dst: Path, edit: Callable[[list[tuple[bytes, bool]]], list[tuple[bytes, bool]]]) -> Path:
    """``src``'s packets, changed by ``edit``, one AVI chunk each (as a muxer that lost or
    damaged some would write them)."""
    chunks, extradata = _chunks(src)
    with av.open(str(src)) as container:
        codec = container.streams.video[0].codec_context.name
    with av.open(str(dst), "w", format="avi") as out:
        stream = out.add_stream(codec, rate=FPS)
        stream.width, stream.height, stream.pix_fmt = *SIZE, "yuv420p"
        stream.codec_context.time_base = Fraction(1, FPS)
        stream.codec_context.extradata = extradata or None
        for k, (data, key) in enumerate(edit(chunks)):
            packet = av.Packet(data)
            packet.pts = packet.dts = k
            packet.time_base, packet.is_keyframe, packet.stream = Fraction(1, FPS), key, stream
            out.mux(packet)
    return dst


def _lose_h264_reference(chunks):
    """A non-IDR reference picture (nal_ref_idc > 0, type 1) dropped mid-stream: a frame_num gap."""
    k = next(k for k, (data, _) in enumerate(chunks) if k > 20 and data[4] & 0x60 and data[4] & 0x1F == 1)
    return chunks[:k] + chunks[k + 1 :]


def _lose_placeholder_and_next(chunks):
    """A packed placeholder and the P+B chunk after it lost: the next B-VOP is timed outside
    the references FFmpeg holds."""
    k = next(k for k, (data, _) in enumerate(chunks) if k > 20 and len(data) <= 7)
    return chunks[:k] + chunks[k + 2 :]


def _end_on_unpacked_p(chunks):
    """The stream cut after a P-VOP with its packed B-VOP removed, then a placeholder that
    decodes nothing: FFmpeg's drain stamps the P with the placeholder's pts."""
    k = max(k for k, (data, _) in enumerate(chunks) if vop_types(data) == ["P", "B"])
    data = chunks[k][0]
    p_only = data[: data.index(b"\x00\x00\x01\xb6", 4)]
    return [*chunks[:k], (p_only, False), (not_coded_vop(k + 1, k, FPS), False)]


def _garbage_in_packed_p(chunks):
    """16 bytes of garbage a third into the P-VOP of the sixth packed P+B chunk: where
    FFmpeg's decoding of the damaged P ends decides whether the B behind it is stored."""
    out = list(chunks)
    k = [k for k, (data, _) in enumerate(chunks) if vop_types(data) == ["P", "B"]][5]
    data = bytearray(chunks[k][0])
    at = data.index(b"\x00\x00\x01\xb6", 4) // 3
    data[at : at + 16] = np.random.default_rng(3).integers(0, 256, 16, dtype=np.uint8).tobytes()
    out[k] = (bytes(data), chunks[k][1])
    return out


def _cut_at_second_keyframe(chunks):
    """The stream cut at its second keyframe (a stream copy from there): it starts with
    the I-VOP of an open GOP and the B-VOPs that refer to the P before it, which FFmpeg drops."""
    k = [k for k, (_, key) in enumerate(chunks) if key][1]
    return chunks[k:]


def _join_60fps(chunks):
    """The stream followed by a packed one encoded at 60 fps (a new VOL header: one more
    bit of vop_time_increment, 60 ticks a second), as a careless join writes it."""
    with tempfile.TemporaryDirectory() as folder:
        other = make_mpeg4_avi(Path(folder) / "60.avi", fps=60, size=SIZE, pattern="moving", bframes=2, packed=True)
        return chunks + _chunks(other)[0]


def _xvid(path: Path, source: list[str], options: list[str]) -> Path:
    command = ["ffmpeg", "-v", "error", "-y", *source, "-an", "-c:v", "libxvid", *options, str(path)]
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    return path


@functools.cache
def _has_libxvid() -> bool:
    if shutil.which("ffmpeg") is None:
        return False
    encoders = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=30)
    return "libxvid" in encoders.stdout


def _build(name: str, root: Path) -> Path:
    """The AVI of case ``name`` ("<family>:<config>") under ``root``; skips when its encoder
    or footage is absent."""
    family, config = name.split(":")
    path = root / f"{family}_{config}.avi"
    if family == "x264":
        return _encode(path, "libx264", X264[config][0])
    if family == "mpeg4":
        bframes, packed, options = MPEG4[config]
        if not packed:
            return _encode(path, "mpeg4", {"bf": str(bframes), "qscale": "3", **options})
        return make_mpeg4_avi(
            path, duration_s=2.0, size=SIZE, pattern="moving", bframes=bframes, packed=True, encoder_options=options
        )
    if family in ("xvid", "footage") and not _has_libxvid():
        if os.environ.get("VIDEO_ASSETS_REQUIRE_FFMPEG") == "1":  # CI installs it: a skip would hide the cases
            pytest.fail("the ffmpeg CLI with libxvid is not installed (VIDEO_ASSETS_REQUIRE_FFMPEG=1)")
        pytest.skip("the ffmpeg CLI with libxvid is not installed")
    if family == "xvid":
        lavfi = "color=c=gray:" if config == "static_scene" else "testsrc2="
        return _xvid(path, ["-f", "lavfi", "-i", f"{lavfi}size=96x64:rate=30:duration=2"], XVID[config])
    return _footage(path, config)


def _footage(path: Path, config: str) -> Path:
    """Real footage (opencv-doc's Megamind.avi, a film trailer) cut to 2-3 s at 160x120 and
    transcoded to ``config``; skipped when benchmarks/real_footage.py has not fetched it."""
    source = FOOTAGE / "Megamind.avi"
    if not source.is_file():
        pytest.skip(f"real footage not fetched ({source}; run benchmarks/real_footage.py)")
    cut = ["-ss", "3", "-t", "2.5", "-i", str(source), "-vf", "scale=160:120"]
    if config == "xvid_bf3_qpel":
        return _xvid(path, cut, ["-bf", "3", "-flags", "+qpel", "-g", "30"])
    x264 = {"x264_bf3_pyramid": "b-pyramid=normal:ref=4", "x264_bf8_scenecut": "b-adapt=2:scenecut=60"}[config]
    bframes = "8" if "bf8" in config else "3"
    command = ["ffmpeg", "-v", "error", "-y", *cut, "-an", "-c:v", "libx264", "-bf", bframes, "-x264-params", x264]
    subprocess.run([*command, str(path)], check=True, capture_output=True, timeout=60)
    return path


# Damaged (or joined) files: name -> (clean case, the edit, whether the order is still followed).
DAMAGED = {
    "h264_lost_reference": ("x264:pyramid_normal", _lose_h264_reference, False),
    "packed_lost_placeholder_and_p": ("mpeg4:packed_bf2", _lose_placeholder_and_next, False),
    "packed_ends_on_unpacked_p": ("mpeg4:packed_bf2", _end_on_unpacked_p, True),
    "packed_garbage_in_p": ("mpeg4:packed_bf2", _garbage_in_packed_p, True),
    "xvid_garbage_in_packed_p": ("xvid:bf2", _garbage_in_packed_p, True),  # Xvid's P-VOPs overrun on it
    "packed_joined_to_60fps": ("mpeg4:packed_bf2", _join_60fps, True),
    "xvid_cut_at_second_keyframe": ("xvid:bf2_gop12", _cut_at_second_keyframe, True),
}

CLEAN = (
    [f"x264:{c}" for c in X264]
    + [f"mpeg4:{c}" for c in MPEG4]
    + [f"xvid:{c}" for c in XVID]
    + ["footage:xvid_bf3_qpel", "footage:x264_bf3_pyramid", "footage:x264_bf8_scenecut"]
)
FOLLOWED = {f"x264:{c}" for c, (_, followed) in X264.items() if followed}
FOLLOWED |= {f"mpeg4:{c}" for c, (_, packed, _) in MPEG4.items() if packed}
FOLLOWED |= {f"xvid:{c}" for c in XVID} | {c for c in CLEAN if c.startswith("footage:")}


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Callable[[str], Path]:
    root = tmp_path_factory.mktemp("avi_matrix")
    cache: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in cache:
            if name in DAMAGED:
                clean, damage, _ = DAMAGED[name]
                cache[name] = _rewrite(get(clean), root / f"{name}.avi", damage)
            else:
                cache[name] = _build(name, root)
        return cache[name]

    return get


def _read(path: Path, wanted: np.ndarray | None = None, threads: int = 1, expect: bool = True):
    """Frames served for ``wanted`` (all: None); ``expect`` False is the full decode holding
    every picture, labelled by the sorted stamps (no order, nothing skipped)."""
    with open_decoder(path, num_threads=threads) as decoder:
        decoder.expect_labels = expect
        wanted = np.arange(len(decoder.index)) if wanted is None else wanted
        got = dict(decoder.read(wanted))
        followed = decoder.picture_order is not None
        return got, decoder.stats, dict(decoder.substitutes), list(decoder.errors), followed


def _in_output_order(path: Path) -> list[np.ndarray]:
    """Every picture FFmpeg gives, in the order it gives them (presentation order)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_count = 1
        return [frame_to_rgb(frame, None) for frame in container.decode(stream)]


def _wanted(count: int, step: int) -> np.ndarray:
    return np.array(sorted(set(range(step // 2, count, step)) | {count - 1}))


@pytest.mark.parametrize("name", CLEAN)
def test_sparse_reads_equal_a_full_decode_and_leave_pictures_out(made, name) -> None:
    path = made(name)
    full, full_stats, full_subs, full_errors, followed = _read(path, expect=False)
    assert followed == (name in FOLLOWED)
    # The full decode itself: the k-th picture FFmpeg shows is frame k.
    pictures = _in_output_order(path)
    assert len(pictures) == len(full) and all(np.array_equal(pictures[i], full[i]) for i in full)
    for step, threads in [(4, 1), (11, 1), (29, 1), (11, 0)]:  # 0: FFmpeg's frame threads
        wanted = _wanted(len(full), step)
        got, stats, subs, errors, _ = _read(path, wanted, threads)
        assert sorted(got) == wanted.tolist() and errors == full_errors == []
        assert [i for i in wanted.tolist() if not np.array_equal(got[i], full[i])] == [], (step, threads)
        assert subs == {i: full_subs[i] for i in wanted.tolist() if i in full_subs}
        assert stats.restarts == 0
        if name in FOLLOWED and threads == 1 and step >= 11:
            assert stats.frames_decoded < full_stats.frames_decoded  # pictures were left out


@pytest.mark.parametrize("name", sorted(DAMAGED))
def test_damaged_streams_serve_what_a_full_decode_serves(made, name) -> None:
    """No crash, the order refused where FFmpeg leaves it, and the frames and stand-ins of a
    full decode; errors only from pictures a sparse read decodes too. One decoder thread: on
    damaged data FFmpeg's frame threads conceal differently from run to run, full decode too."""
    path = made(name)
    full, _, full_subs, full_errors, followed = _read(path, expect=False)
    assert followed == DAMAGED[name][2]
    for step in (2, 3, 5, 7, 11, 15):
        wanted = _wanted(len(full), step)
        got, _, subs, errors, _ = _read(path, wanted)
        assert [i for i in wanted.tolist() if not np.array_equal(got[i], full[i])] == [], step
        assert subs == {i: full_subs[i] for i in wanted.tolist() if i in full_subs}, step
        assert set(errors) <= set(full_errors)


@pytest.mark.parametrize("name", ["packed_garbage_over_middle", "truncated_h264", "truncated_packed"])
def test_rot_and_truncation_serve_what_a_full_decode_serves(made, tmp_path, name) -> None:
    if name == "packed_garbage_over_middle":
        path = make_garbage_middle(made("mpeg4:packed_bf2"), tmp_path / "rot.avi", at=0.6, length=200, seed=260)
    else:
        clean = made("x264:bf3" if name == "truncated_h264" else "mpeg4:packed_bf3")
        path = tmp_path / "cut.avi"
        path.write_bytes(clean.read_bytes()[:-7])  # the last chunk (and the index) cut short
    full, _, full_subs, full_errors, _ = _read(path, expect=False)
    for step in (3, 7, 15):
        wanted = _wanted(len(full), step)
        got, _, subs, errors, _ = _read(path, wanted)
        assert [i for i in wanted.tolist() if not np.array_equal(got[i], full[i])] == [], step
        assert subs == {i: full_subs[i] for i in wanted.tolist() if i in full_subs}, step
        assert set(errors) <= set(full_errors)


SIGNATURES = [
    FrameSignature(FramePolicy.SEQUENCE, 2.0),
    FrameSignature(FramePolicy.SEQUENCE, 0.5),  # sparse: one frame in a clip
    FrameSignature(FramePolicy.SEQUENCE, 7.5),
    FrameSignature(FramePolicy.MIDDLE, 1.0),
]


@pytest.mark.parametrize("name", ["x264:bf3", "x264:pyramid_normal", "mpeg4:packed_bf3", "xvid:bf2"])
def test_clip_extraction_equals_one_without_leaving_pictures_out(made, monkeypatch, name) -> None:
    path = made(name)
    spans = [ClipSpan(0.0, 0.6), ClipSpan(0.7, 1.3), ClipSpan(1.4, 1.9)]
    fast = extract_frames(path, spans, SIGNATURES)
    monkeypatch.setattr(decode_pyav, "display_order", lambda codec: None)  # no order: nothing skipped
    slow = extract_frames(path, spans, SIGNATURES)
    for a, b in zip(fast, slow):
        assert a.error is None and b.error is None and a.frames.keys() == b.frames.keys()
        for key in a.frames:
            assert np.array_equal(a.frames[key].frames, b.frames[key].frames), key
            assert np.array_equal(a.frames[key].timestamps, b.frames[key].timestamps), key
