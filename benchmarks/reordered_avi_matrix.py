"""Pictures left out in AVIs whose stamps are in decode order, on the main configurations of
tests/media/test_reordered_avi_matrix.py, at 320x240 and 10 s (300 frames), 2 fps sampled;
the moving test scene, and a film trailer (real footage) when real_footage.py fetched it.

For each file: pictures decoded against the pictures in the file, and CPU time of the
sparse read against the same read with no display order (`display_order` returning None:
every picture decoded, the behaviour before the headers were read), measured in the same
run, interleaved, median of ``--repeats``. One decoder thread (CPU time is the fair measure
on a shared VM).

    cd benchmarks && PYTHONPATH=$PWD/.. python reordered_avi_matrix.py --repeats 5
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np

from video_assets.media import decode_pyav
from video_assets.media.decoders import open_decoder
from video_assets.media.synthetic import MovingScene
from video_assets.media.synthetic_codecs import make_mpeg4_avi

SIZE, FPS, SECONDS, SAMPLE_FPS = (320, 240), 30, 10.0, 2.0


FOOTAGE = Path("/tmp/video_assets_bench/footage/Megamind.avi")  # real_footage.py fetches it


def _pictures(footage: bool) -> list[av.VideoFrame]:
    """300 pictures: the moving test scene, or 10 s of the film trailer from 1 s on."""
    if not footage:
        scene = MovingScene(*SIZE, 1)
        return [av.VideoFrame.from_ndarray(scene.draw(i / FPS), format="rgb24") for i in range(int(SECONDS * FPS))]
    with av.open(str(FOOTAGE)) as container:
        frames = (f for f in container.decode(video=0) if f.time is not None and f.time >= 1.0)
        return [f.reformat(width=SIZE[0], height=SIZE[1]) for _, f in zip(range(int(SECONDS * FPS)), frames)]


def _x264(path: Path, params: str, bframes: int, footage: bool = False) -> Path:
    options = {"preset": "veryfast", "bf": str(bframes), "x264-params": params}
    with av.open(str(path), "w", format="avi") as out:
        stream = out.add_stream("libx264", rate=FPS, options=options)
        stream.width, stream.height, stream.pix_fmt = *SIZE, "yuv420p"
        for i, picture in enumerate(_pictures(footage)):
            frame = picture.reformat(format="yuv420p")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def _xvid(path: Path, footage: bool = False) -> Path | None:
    if shutil.which("ffmpeg") is None or (footage and not FOOTAGE.is_file()):
        return None
    size = f"{SIZE[0]}x{SIZE[1]}"
    source = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={FPS}:duration={SECONDS}"]
    if footage:
        source = ["-ss", "1", "-t", str(SECONDS), "-i", str(FOOTAGE), "-an", "-vf", f"scale={size},fps={FPS}"]
    command = ["ffmpeg", "-v", "error", "-y", *source, "-c:v", "libxvid", "-bf", "2", str(path)]
    return path if subprocess.run(command, capture_output=True).returncode == 0 else None


def _packed(path: Path, bframes: int) -> Path:
    return make_mpeg4_avi(path, duration_s=SECONDS, size=SIZE, pattern="moving", bframes=bframes, packed=True)


CASES: dict[str, Callable[[Path], Path | None]] = {
    "x264_bf3": lambda p: _x264(p, "", 3),
    "x264_bf5_pyramid_normal": lambda p: _x264(p, "b-pyramid=normal:b-adapt=0", 5),
    "x264_bf8_badapt2": lambda p: _x264(p, "b-adapt=2", 8),
    "x264_bf3_open_gop_keyint30": lambda p: _x264(p, "open-gop=1:keyint=30", 3),
    "mpeg4_packed_bf2": lambda p: _packed(p, 2),
    "mpeg4_packed_bf3": lambda p: _packed(p, 3),
    "xvid_cli_bf2": _xvid,
    "footage_x264_bf3": lambda p: _x264(p, "", 3, footage=True) if FOOTAGE.is_file() else None,
    "footage_x264_bf5_pyramid_none": lambda p: (
        _x264(p, "b-pyramid=none", 5, footage=True) if FOOTAGE.is_file() else None
    ),
    "footage_xvid_cli_bf2": lambda p: _xvid(p, footage=True),
}


def _read(path: Path, order: bool) -> tuple[float, int, int]:
    """(CPU s, pictures decoded, frames in the file) of one 2 fps sparse read."""
    real = decode_pyav.display_order
    if not order:
        decode_pyav.display_order = lambda codec: None
    try:
        start = time.process_time()
        with open_decoder(path, num_threads=1) as decoder:
            count = len(decoder.index)
            wanted = np.arange(0, count, round(FPS / SAMPLE_FPS))
            for _ in decoder.read(wanted):
                pass
            decoded = decoder.stats.frames_decoded
        return time.process_time() - start, decoded, count
    finally:
        decode_pyav.display_order = real


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print("| file | pictures decoded / in file | before: decoded | CPU ms | before: CPU ms | before/ours CPU |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for name, make in CASES.items():
            path = make(Path(folder) / f"{name}.avi")
            if path is None:
                print(f"| {name} | skipped: no ffmpeg CLI with libxvid, or no footage | | | | |")
                continue
            ours, before = [], []
            for _ in range(args.repeats):  # interleaved: load changes hit both alike
                ours.append(_read(path, order=True))
                before.append(_read(path, order=False))
            cpu, cpu_before = statistics.median(r[0] for r in ours), statistics.median(r[0] for r in before)
            _, decoded, count = ours[0]
            print(
                f"| {name} | {decoded} / {count} | {before[0][1]} | {1000 * cpu:.1f} | {1000 * cpu_before:.1f} "
                f"| **{cpu_before / cpu:.2f}x** |"
            )


if __name__ == "__main__":
    main()
