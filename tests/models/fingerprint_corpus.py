"""A generated near-copy set for the fingerprint: videos, the copies users make, scoring.

Shared by `test_fingerprint_copies.py` and `benchmarks/fingerprint.py`. A video is a
function of continuous time, so speed changes and trims are exact: a copy maps its own
time to the original's (``t * speed``, ``t + cut``) and then edits the pixels. Each
video is a few scenes (cuts off the 10 s clip grid) of a panning 1/f ("pink") textured
gradient with moving shapes, distinct per seed. Clips follow the pipeline: 10 s spans
from 0 (the last one kept from 2 s), frames at 2 fps, doubled while fewer than 8.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import av
import numpy as np
import torch

from video_assets.models.base import Embedder

HEIGHT, WIDTH = 120, 160
CLIP_S, MIN_CLIP_S, FPS, MIN_FRAMES = 10.0, 2.0, 2.0, 8
PAD = 24  # background margin around the view, room for the pan


def pink_noise(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Zero-mean, unit-std noise with a 1/f amplitude spectrum (natural-image statistics)."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    radius = np.hypot(fy, fx)
    radius[0, 0] = 1.0
    spectrum = rng.standard_normal((h, w // 2 + 1)) + 1j * rng.standard_normal((h, w // 2 + 1))
    img = np.fft.irfft2(spectrum / radius, s=(h, w))
    return (img - img.mean()) / img.std()


def textured_gradient(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """(h, w, 3) float: a two-colour gradient at a random angle under pink-noise texture."""
    texture = pink_noise(rng, h, w)[..., None] * rng.uniform(15, 40, 3)
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w]
    ramp = (np.cos(angle) * xx / w + np.sin(angle) * yy / h)[..., None]
    c0, c1 = rng.uniform(30, 220, 3), rng.uniform(30, 220, 3)
    return c0 + (c1 - c0) * ramp + texture


class Scene:
    """A textured gradient panning at constant speed under 3-5 shapes that move and wrap."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.background = textured_gradient(rng, HEIGHT + 2 * PAD, WIDTH + 2 * PAD).astype(np.float32)
        self.pan = rng.uniform(-1.5, 1.5, 2)  # px/s: stays inside PAD for 16 s
        self.shapes = []
        for _ in range(rng.integers(3, 6)):
            colour = rng.uniform(0, 255, 3)
            centre = rng.uniform(0, 1, 2) * (HEIGHT, WIDTH)
            radii = rng.uniform(8, 30), rng.uniform(8, 40)
            velocity = rng.uniform(-6, 6), rng.uniform(-8, 8)  # px/s
            self.shapes.append((colour, centre, radii, velocity, bool(rng.integers(0, 2))))

    def draw(self, t: float) -> np.ndarray:
        """The scene ``t`` seconds after it starts: (H, W, 3) uint8."""
        oy, ox = (np.round(PAD + self.pan * t)).astype(int)
        img = self.background[oy : oy + HEIGHT, ox : ox + WIDTH].copy()
        py, px = np.mgrid[0:HEIGHT, 0:WIDTH]
        for colour, (cy, cx), (ry, rx), (vy, vx), is_rect in self.shapes:
            # Wrap around a frame enlarged by the shape, so shapes re-enter instead of leaving.
            cy = (cy + vy * t + ry) % (HEIGHT + 2 * ry) - ry
            cx = (cx + vx * t + rx) % (WIDTH + 2 * rx) - rx
            dy, dx = py - cy, px - cx
            inside = (np.abs(dy) < ry) & (np.abs(dx) < rx) if is_rect else (dy / ry) ** 2 + (dx / rx) ** 2 < 1
            img[inside] = colour
        return np.clip(img, 0, 255).astype(np.uint8)


class SyntheticVideo:
    """``duration_s`` of scenes 6-14 s long (cuts rarely on the 10 s grid), seeded."""

    def __init__(self, seed: int, duration_s: float = 25.0) -> None:
        rng = np.random.default_rng(1000 + seed)
        self.duration_s = duration_s
        self.starts: list[float] = []
        self.scenes: list[Scene] = []
        start = 0.0
        while start < duration_s:
            self.starts.append(start)
            self.scenes.append(Scene(rng))
            start += float(rng.uniform(6, 14))

    def frames(self, times: np.ndarray) -> np.ndarray:
        """Frames at ``times`` seconds: (N, H, W, 3) uint8."""
        out = np.empty((len(times), HEIGHT, WIDTH, 3), np.uint8)
        for i, t in enumerate(times):
            k = int(np.searchsorted(self.starts, t, side="right")) - 1
            out[i] = self.scenes[max(k, 0)].draw(float(t) - self.starts[max(k, 0)])
        return out


def clip_spans(duration_s: float) -> list[tuple[float, float]]:
    """Fixed-stride 10 s spans from 0; a last span shorter than 2 s is dropped."""
    spans, start = [], 0.0
    while start < duration_s - 1e-9:
        end = min(start + CLIP_S, duration_s)
        if end - start >= MIN_CLIP_S:
            spans.append((start, end))
        start += CLIP_S
    return spans


def clip_times(start: float, end: float) -> np.ndarray:
    """Frame times of one clip at 2 fps, doubled (as the pipeline re-extracts) until >= 8."""
    fps = FPS
    while True:
        times = np.arange(start, end - 1e-9, 1.0 / fps)
        if len(times) >= MIN_FRAMES:
            return times
        fps *= 2


# ---- the copies ------------------------------------------------------------------------

Pixels = Callable[[np.ndarray], np.ndarray]  # (N, H, W, 3) uint8 -> (N, H', W', 3) uint8


@dataclass(frozen=True)
class Copy:
    """A near copy: its time runs at ``speed`` x the original's from ``cut_s`` in, then pixels."""

    pixels: Pixels | None = None
    speed: float = 1.0
    cut_s: float = 0.0

    def duration(self, original: SyntheticVideo) -> float:
        return (original.duration_s - self.cut_s) / self.speed

    def clip_frames(self, original: SyntheticVideo, start: float, end: float) -> np.ndarray:
        frames = original.frames(self.cut_s + clip_times(start, end) * self.speed)
        return frames if self.pixels is None else self.pixels(frames)


def reencode_h264(frames: np.ndarray, crf: int) -> np.ndarray:
    """Round-trip through an in-memory H.264 MP4 at the given CRF (libx264, yuv420p)."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=2)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for frame in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode())
    buf.seek(0)
    with av.open(buf) as src:
        decoded = np.stack([f.to_ndarray(format="rgb24") for f in src.decode(video=0)])
    assert decoded.shape == frames.shape
    return decoded


def resize_swscale(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize with libswscale (bicubic, ffmpeg's default), not with our own pooling."""
    return np.stack(
        [
            av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24").to_ndarray(
                format="rgb24", width=width, height=height
            )
            for f in frames
        ]
    )


def crop(frames: np.ndarray, *, top: float = 0, bottom: float = 0, left: float = 0, right: float = 0) -> np.ndarray:
    """Cut the given fraction of height / width from each side."""
    h, w = frames.shape[1:3]
    return np.ascontiguousarray(frames[:, int(h * top) : h - int(h * bottom), int(w * left) : w - int(w * right)])


def shift_brightness(frames: np.ndarray, delta: int) -> np.ndarray:
    return np.clip(frames.astype(np.int16) + delta, 0, 255).astype(np.uint8)


def mirror(frames: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(frames[:, :, ::-1])


def letterbox(frames: np.ndarray, *, width: int = 214) -> np.ndarray:
    """The 4:3 picture centred in a 16:9 black frame (pillarbox), as players pad it."""
    h, w = frames.shape[1:3]
    out = np.zeros((len(frames), h, width, 3), np.uint8)
    left = (width - w) // 2
    out[:, :, left : left + w] = frames
    return out


def picture_in_picture(
    frames: np.ndarray, *, scale: float = 0.6, top: float = 0.1, left: float = 0.3, background: str = "grey"
) -> np.ndarray:
    """The picture scaled to ``scale`` and placed off-centre at (top, left) fractions of the
    frame, over plain grey or over a blurred, darkened copy of itself (a common re-upload)."""
    h, w = frames.shape[1:3]
    ih, iw = int(h * scale), int(w * scale)
    if background == "grey":
        out = np.full_like(frames, 128)
    else:  # down to 1/8 and back up: a wide blur, as editors fill the frame
        out = (resize_swscale(resize_swscale(frames, h // 8, w // 8), h, w) * 0.7).astype(np.uint8)
    y, x = int(h * top), int(w * left)
    out[:, y : y + ih, x : x + iw] = resize_swscale(frames, ih, iw)
    return out


def overlay_box(frames: np.ndarray) -> np.ndarray:
    """An opaque caption bar with a striped logo over the lower right (~8 % of the frame)."""
    out = frames.copy()
    h, w = frames.shape[1:3]
    out[:, int(h * 0.78) : int(h * 0.93), int(w * 0.5) : int(w * 0.95)] = (240, 240, 240)
    out[:, int(h * 0.80) : int(h * 0.91) : 3, int(w * 0.52) : int(w * 0.62)] = (200, 30, 30)
    return out


COPIES: dict[str, Copy] = {
    # The near copies the first fingerprint already handled.
    "h264_crf40": Copy(lambda f: reencode_h264(f, 40)),
    "resize_96x72": Copy(lambda f: resize_swscale(f, 72, 96)),
    "brighter_25": Copy(lambda f: shift_brightness(f, 25)),
    "darker_30": Copy(lambda f: shift_brightness(f, -30)),
    "crop_8pct_each_side": Copy(lambda f: crop(f, top=0.08, bottom=0.08, left=0.08, right=0.08)),
    "crop_10pct_top_left": Copy(lambda f: crop(f, top=0.10, left=0.10)),
    "letterbox_16x9": Copy(letterbox),
    "crop_resize_brighten_reencode": Copy(
        lambda f: reencode_h264(
            resize_swscale(shift_brightness(crop(f, top=0.06, left=0.08, right=0.02), 20), 72, 96), 36
        )
    ),
    # The ones it missed or found only sometimes.
    "mirror": Copy(mirror),
    "pip60_grey": Copy(lambda f: picture_in_picture(f, background="grey")),
    "pip60_blurred": Copy(lambda f: picture_in_picture(f, background="blurred", top=0.25, left=0.05)),
    "overlay_box": Copy(overlay_box),
    "speed_1.25x": Copy(speed=1.25),
    "speed_0.8x": Copy(speed=0.8),
    "trim_first_30pct": Copy(cut_s=7.5),
    # Several at once, as re-uploads do.
    "mirror_pip_reencode": Copy(lambda f: reencode_h264(picture_in_picture(mirror(f), background="blurred"), 32)),
    "mirror_speed_trim_letterbox": Copy(lambda f: letterbox(mirror(f)), speed=1.25, cut_s=4.0),
}


# ---- scoring -----------------------------------------------------------------------------


def embed_clips(embedder: Embedder, clips: list[np.ndarray]) -> torch.Tensor:
    """Clips (each (N, H, W, 3) uint8) -> (len, dim) through the embedder's prepare + embed."""
    return embedder.embed_video(torch.stack([embedder.prepare(c) for c in clips]))


@dataclass(frozen=True)
class Index:
    """Every clip of every original: vectors (C, dim) and the video each came from."""

    vectors: torch.Tensor
    video_of: np.ndarray  # (C,) int


def build_index(embedder: Embedder, videos: list[SyntheticVideo]) -> Index:
    clips, owners = [], []
    for v, video in enumerate(videos):
        for start, end in clip_spans(video.duration_s):
            clips.append(video.frames(clip_times(start, end)))
            owners.append(v)
    return Index(embed_clips(embedder, clips), np.array(owners))


def copy_clips(copy: Copy, videos: list[SyntheticVideo]) -> tuple[list[np.ndarray], np.ndarray]:
    """The copy of every video, split into clips on its own grid: frames, and the original of each."""
    clips, owners = [], []
    for v, video in enumerate(videos):
        for start, end in clip_spans(copy.duration(video)):
            clips.append(copy.clip_frames(video, start, end))
            owners.append(v)
    return clips, np.array(owners)


@dataclass(frozen=True)
class CopyScores:
    """Per copy clip: the best cosine to a clip of its own original and to any other video."""

    true_best: np.ndarray  # (Q,)
    false_best: np.ndarray  # (Q,)

    @property
    def top1(self) -> float:
        """Share of copy clips whose nearest indexed clip belongs to their original."""
        return float((self.true_best > self.false_best).mean())


def score_copies(index: Index, vectors: torch.Tensor, owners: np.ndarray) -> CopyScores:
    scores = (vectors @ index.vectors.T).numpy()  # (Q, C)
    own = owners[:, None] == index.video_of[None, :]
    return CopyScores(np.where(own, scores, -2.0).max(axis=1), np.where(own, -2.0, scores).max(axis=1))


def unrelated_scores(index: Index) -> np.ndarray:
    """Cosines between clips of different originals (the false pairs within the index)."""
    scores = (index.vectors @ index.vectors.T).numpy()
    return scores[index.video_of[:, None] != index.video_of[None, :]]


def score_corpus(embedder: Embedder, seeds: int, first_seed: int = 0) -> tuple[dict[str, CopyScores], np.ndarray]:
    """Every copy class scored against an index of ``seeds`` videos (seeds from
    ``first_seed``: the tests use 0-7, other ranges are held out), and the unrelated-pair scores."""
    videos = [SyntheticVideo(seed) for seed in range(first_seed, first_seed + seeds)]
    index = build_index(embedder, videos)
    scores = {}
    for name, copy in COPIES.items():
        clips, owners = copy_clips(copy, videos)
        scores[name] = score_copies(index, embed_clips(embedder, clips), owners)
    return scores, unrelated_scores(index)
