"""Cut one clip out of a video as an H.264 MP4 (AAC audio), written atomically."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av

from video_assets.media.clipping import ClipSpan
from video_assets.media.errors import VideoReadError
from video_assets.media.pyav_container import first_frame_rotation, open_container, video_stream

# Clip files are previews and inputs for reviewers: veryfast keeps CPU transcoding cheap,
# CRF controls the quality.
X264_PRESET = "veryfast"


def _even(n: int) -> int:
    return max(2, n - n % 2)


def transcode_clip(
    path: str | Path,
    span: ClipSpan,
    out_path: str | Path,
    *,
    crf: int = 23,
    keep_audio: bool = True,
) -> Path:
    """Write the frames of ``path`` in [span.start_s, span.end_s) to ``out_path`` as H.264 MP4.

    Times are seconds from the video stream's start (as everywhere in `media`). The output
    starts at 0, keeps the source timestamps (so VFR stays VFR), is yuv420p (odd sizes lose
    one row/column, which yuv420p cannot hold), keeps the display rotation as metadata, and
    re-encodes the first audio stream to AAC when ``keep_audio`` and the source has one.
    The file is written under a temporary name and renamed, so a crash leaves no half clip.
    Raises `VideoReadError` when the source cannot be read or the span holds no frame.
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    try:
        _write_clip(str(path), span, tmp, crf=crf, keep_audio=keep_audio)
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return out_path


def _write_clip(path: str, span: ClipSpan, tmp: Path, *, crf: int, keep_audio: bool) -> None:
    # The display matrix must be set before the first packet writes the header.
    with open_container(path) as inp:
        rotation = first_frame_rotation(inp, path)
    with open_container(path) as inp, av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        vin = video_stream(inp, path)
        vin.thread_type = "AUTO"
        tb = vin.time_base
        origin = vin.start_time or 0
        start_pts = origin + int(round(span.start_s / tb))
        end_pts = origin + int(round(span.end_s / tb))
        ain = inp.streams.audio[0] if keep_audio and inp.streams.audio else None
        vout = out.add_stream("libx264", rate=vin.average_rate or vin.guessed_rate or Fraction(30))
        vout.options = {"crf": str(crf), "preset": X264_PRESET}
        vout.width, vout.height = _even(vin.codec_context.width), _even(vin.codec_context.height)
        vout.pix_fmt = "yuv420p"
        vout.codec_context.time_base = tb
        if rotation:
            vout.set_display_rotation(-rotation)  # PyAV takes FFmpeg's counter-clockwise angle
        aout, resampler = None, None
        if ain is not None:
            aout = out.add_stream("aac", rate=ain.codec_context.sample_rate)
            aout.codec_context.layout = ain.codec_context.layout.name
            resampler = av.AudioResampler(
                format="fltp", layout=aout.codec_context.layout.name, rate=aout.codec_context.sample_rate
            )
        try:
            inp.seek(start_pts, stream=vin, backward=True)
        except av.FFmpegError:
            inp.seek(0)  # no usable index: read from the start, frames are filtered by pts below
        streams = [s for s in (vin, ain) if s is not None]
        video_done, audio_samples, wrote_video = False, 0, False
        audio_start_s = float(origin * tb) + span.start_s
        audio_end_s = float(origin * tb) + span.end_s
        for packet in inp.demux(*streams):
            if packet.stream is vin and not video_done:
                for frame in _decode(vin, packet, path):
                    if frame.pts is None or frame.pts < start_pts:
                        continue
                    if frame.pts >= end_pts:
                        video_done = True
                        break
                    out_frame = frame.reformat(width=vout.width, height=vout.height, format="yuv420p")
                    out_frame.pts = frame.pts - start_pts
                    out.mux(vout.encode(out_frame))
                    wrote_video = True
            elif packet.stream is ain and aout is not None:
                for frame in _decode(ain, packet, path):
                    t = float(frame.pts * frame.time_base) if frame.pts is not None else None
                    if t is None or not audio_start_s <= t < audio_end_s:
                        continue
                    for chunk in resampler.resample(frame):
                        chunk.pts, chunk.time_base = audio_samples, Fraction(1, aout.codec_context.sample_rate)
                        audio_samples += chunk.samples
                        out.mux(aout.encode(chunk))
            audio_passed = ain is None or (
                packet.stream is ain and packet.pts is not None and float(packet.pts * ain.time_base) >= audio_end_s
            )
            if video_done and audio_passed:
                break
        if not wrote_video:
            raise VideoReadError(path, f"no frame in clip {span.start_s:.3f}-{span.end_s:.3f} s")
        out.mux(vout.encode(None))
        if aout is not None:
            out.mux(aout.encode(None))


def _decode(stream: av.stream.Stream, packet: av.Packet, path: str) -> list:
    try:
        return stream.decode(packet)
    except av.FFmpegError as err:
        raise VideoReadError(path, f"cannot decode the clip ({err})") from err
