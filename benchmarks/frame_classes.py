"""Per codec class: ours against ``ffmpeg -vf fps=2`` and against NeMo Curator's decode path.

Used by ``benchmarks/frame_extraction.py --classes``. Each class is one short file made
once under BENCH_DIR by the generators the decode tests use (media/synthetic_codecs.py),
a moving scene (so encoders make real P/B frames), decoded whole as one clip, as NeMo
Curator's ClipFrameExtractionStage decodes a clip: sequence policy, 2 fps, 1 thread.

NeMo Curator's path (nemo_curator/utils/decoder_utils.py, `extract_frames` with the
sequence policy, target_res (-1, -1)), reimplemented here as the baseline: the clip's
bytes in a BytesIO; one container opened to demux every packet's pts (sorted); the
sample times ``arange(first, last + 0.5/fps, 1/fps)`` mapped to the nearest stamp (ties
to the earlier), de-duplicated with counts; a second container decodes from the start
with thread_type 3 (frame + slice) and the thread count asked, numbering pictures in the
order they come out; each wanted picture is converted to rgb24 into a preallocated
(N, H, W, 3) array (repeated per its count); it stops after the last wanted one. No
seek, no skipped frames.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
from bench_inputs import BENCH_DIR, make_720p

from video_assets.media.synthetic import make_video
from video_assets.media.synthetic_codecs import CODEC_CASES, make_codec_case, make_mpeg4_avi

CLASS_DIR = BENCH_DIR / "codec_classes"
SIZE = (640, 360)  # (W, H)
SECONDS = 6.0


def _case(name: str, **overrides) -> Callable[[Path], Path]:
    def make(dst: Path) -> Path:
        args = {"duration_s": SECONDS, "size": SIZE, "pattern": "moving", **overrides}
        return make_codec_case(name, dst, **args)

    return make


def _xvid(**kwargs) -> Callable[[Path], Path]:
    def make(dst: Path) -> Path:
        return make_mpeg4_avi(dst.with_suffix(".avi"), duration_s=SECONDS, size=SIZE, pattern="moving", **kwargs)

    return make


def _h264_720p_5s(dst: Path) -> Path:
    return make_720p("bench_720p_5s_seed0.mp4", 5, "veryfast", video_filter="hue=h=0")


def _low_res_avi(dst: Path) -> Path:
    return make_video(dst.with_suffix(".avi"), duration_s=2.0, size=(160, 120), codec="mpeg4", pattern="moving")


# Every class the decode tests generate (CODEC_CASES and make_mpeg4_avi's variants), at
# 640x360 for 6 s unless the class fixes its size or length, plus two the issue names.
CLASSES: dict[str, Callable[[Path], Path]] = {name: _case(name) for name in CODEC_CASES}
CLASSES.update(
    {
        "xvid_avi": _xvid(),
        "xvid_bframes": _xvid(bframes=2),
        "xvid_packed_b": _xvid(bframes=2, packed=True),
        "xvid_dropped": _xvid(drop_every=5),
        "h264_720p_5s": _h264_720p_5s,
        "low_res_avi_2s": _low_res_avi,
    }
)


def class_input(name: str) -> Path:
    """The file of class ``name``, generated on first use."""
    CLASS_DIR.mkdir(parents=True, exist_ok=True)
    done = next(iter(CLASS_DIR.glob(f"{name}.*")), None)
    if done is not None:
        return done
    return CLASSES[name](CLASS_DIR / f"{name}.mp4")


def nemo_timestamps(data: bytes) -> np.ndarray:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        base = float(stream.time_base)
        stamps = [float(p.pts) * base for p in container.demux(video=0) if p.pts is not None]
    return np.sort(np.array(stamps, dtype=np.float32))


def nemo_sample(stamps: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    samples = np.arange(stamps[0], stamps[-1] + 0.5 / fps, 1.0 / fps, dtype=np.float32)
    right = np.clip(np.searchsorted(stamps, samples), 1, len(stamps) - 1)
    nearest = right - 1
    later = np.abs(samples - stamps[right]) < np.abs(samples - stamps[nearest])
    nearest[later] = right[later]
    nearest[samples >= stamps[-1]] = len(stamps) - 1
    return np.unique(nearest, return_counts=True)


def nemo_extract(path: Path, fps: float = 2.0, threads: int = 1) -> int:
    """NeMo Curator's sequence extraction of one clip (module notes); the frame count."""
    data = path.read_bytes()
    stamps = nemo_timestamps(data)
    ids, counts = nemo_sample(stamps, fps)
    with av.open(io.BytesIO(data)) as container:
        pictures = container.decode(video=0)
        stream = container.streams.video[0]
        stream.thread_type = 3
        stream.thread_count = threads
        out = np.empty((int(counts.sum()), stream.height, stream.width, 3), dtype=np.uint8)
        wanted = iter(zip(ids.tolist(), counts.tolist()))
        next_id, count = next(wanted)
        filled = 0
        for k, picture in enumerate(pictures):
            if k == next_id:
                out[filled : filled + count] = picture.to_ndarray(format="rgb24")
                filled += count
                try:
                    next_id, count = next(wanted)
                except StopIteration:
                    break
    return filled
