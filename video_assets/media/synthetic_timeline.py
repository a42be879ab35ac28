"""Videos whose stored timeline is not the one a player shows, as real tools write them.

- `make_edit_list_cut`: what ``ffmpeg -ss START -i src -c copy dst.mp4`` writes: the packets
  from the keyframe before START, stamped START earlier, so the first ones have negative
  timestamps and the MP4 muxer writes an edit list that hides them (the player starts at START);
- `make_resolution_change`: one H.264 stream whose picture size changes midway (a camera
  switching resolution, streams spliced together), in a streamable container (MPEG-TS).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av

from video_assets.media.synthetic import index_image


def make_edit_list_cut(src: str | Path, dst: str | Path, start_s: float) -> Path:
    """Stream-copy `src` (an MP4) from the keyframe at or before `start_s`, shifted so `start_s` is 0."""
    dst = Path(dst)
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        stream = inp.streams.video[0]
        copy = out.add_stream_from_template(stream)
        shift = round(start_s / stream.time_base)
        packets = [p for p in inp.demux(stream) if p.size and p.pts is not None]
        first = max(i for i, p in enumerate(packets) if p.is_keyframe and p.pts <= shift)
        for packet in packets[first:]:
            packet.pts -= shift
            packet.dts -= shift
            packet.stream = copy
            out.mux(packet)
    return dst


def make_resolution_change(
    dst: str | Path, sizes: Sequence[tuple[int, int]], *, frames_each: int = 12, fps: int = 12
) -> Path:
    """An MPEG-TS of `frames_each` frames per (W, H) in `sizes`, the "index" pattern numbering every frame."""
    dst = Path(dst)
    rate = Fraction(fps)
    with av.open(str(dst), "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height = sizes[0]
        stream.pix_fmt = "yuv420p"
        n = 0
        for width, height in sizes:
            # A new encoder per size: its packets go into the one stream (new SPS/PPS in band).
            encoder = av.CodecContext.create("libx264", "w")
            encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
            encoder.time_base, encoder.framerate = 1 / rate, rate
            for _ in range(frames_each):
                picture = av.VideoFrame.from_ndarray(index_image(n, width, height), format="rgb24")
                picture = picture.reformat(format="yuv420p")
                picture.pts = n
                for packet in encoder.encode(picture):
                    packet.stream = stream
                    out.mux(packet)
                n += 1
            for packet in encoder.encode(None):
                packet.stream = stream
                out.mux(packet)
    return dst
