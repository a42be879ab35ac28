"""Embedding throughput: batch 1 (NeMo Curator's one clip per forward) vs our batched path,
end to end and against the model's forward-only limit.

    .venv/bin/python benchmarks/embedding.py [--models internvideo2,cosmos] [--clips 2] [--batch 2]
        [--cosmos-clips 8] [--cosmos-batch 8] [--device cpu|cuda|cuda:N] [--dtype fp32|bf16|fp16]

Per model and batch size (1 and the batched size):
- end to end: frames decoded from a generated H.264 video (one decode pass over all clips
  at the model's target fps, re-extraction when a clip has too few frames), the model's own
  ``prepare``, then `embed_batches` (stack, copy to the device, forward, back to the CPU);
- forward-only: ``embed_video`` on pre-made tensors already on the device in the model dtype
  (the same clips, the same batch size, no data loading): the limit end to end can reach.
Ratio = end-to-end clips/s / forward-only clips/s (the target is >= 0.8); each figure is the
best of ``--repeats`` / ``--cosmos-repeats`` runs (min wall time), interleaved. The phase
timings say where end-to-end time goes. One untimed warm-up forward per model comes first
(the first call of a 1B model on CPU is ~1.5x slower than the next ones).

Models (random or test weights: this measures speed, not quality):
- internvideo2: `InternVideo2Model` at full size (1B, 224p, 4 frames), random init;
  ``--iv2-size tiny`` is the test-size config for a quick smoke run.
- cosmos: ``--cosmos-snapshot DIR`` loads a real, pinned Cosmos-Embed1 snapshot; without
  it the tiny test snapshot of tests/models/cosmos_fixture.py is built and loaded
  through the same code path. Its numbers are NOT the real model's: its forward is a
  few small layers, so its ratio measures our decode + prepare cost.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import torch

from video_assets.media.clipping import ClipSpan
from video_assets.media.decode import DecodeOptions
from video_assets.media.frames import FramePolicy, FrameSignature, extract_clip_frames, extract_frames
from video_assets.media.synthetic import make_video
from video_assets.models.base import Embedder
from video_assets.models.bert_tokenizer import BertTokenizer
from video_assets.models.cosmos_embed1 import DEFAULT_VARIANT, VARIANTS, CosmosEmbed1Embedder
from video_assets.models.frame_selection import ensure_enough_frames
from video_assets.models.internvideo2 import InternVideo2Embedder, InternVideo2Model
from video_assets.models.internvideo2_config import InternVideo2Config
from video_assets.models.runtime import DeviceUnavailableError, embed_batches, resolve_device, resolve_dtype

BENCH_DIR = Path("/tmp/video_assets_bench")
TESTS_MODELS = Path(__file__).resolve().parents[1] / "tests" / "models"
# Enough WordPiece entries for BertTokenizer; text is not benchmarked.
TINY_VOCAB = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "video", "of", "dog")


@dataclass(frozen=True)
class Loaded:
    label: str  # model name as printed
    embedder: Embedder
    clips: int
    batch: int
    repeats: int  # best of N (min wall time) for each measurement


@dataclass(frozen=True)
class EndToEnd:
    decode_s: float  # extract_frames (+ re-extraction)
    prepare_s: float  # embedder.prepare per clip
    batches_s: float  # embed_batches: stack, copy to device, forward, back to CPU
    in_forward_s: float  # of batches_s, the time inside embed_video (the rest: stacking, copies)
    vectors: torch.Tensor

    @property
    def total_s(self) -> float:
        return self.decode_s + self.prepare_s + self.batches_s


@dataclass(frozen=True)
class Row:
    label: str
    batch: int
    clips: int
    e2e: EndToEnd
    forward_s: float

    @property
    def e2e_cps(self) -> float:
        return self.clips / self.e2e.total_s

    @property
    def forward_cps(self) -> float:
        return self.clips / self.forward_s


def make_input(*, clips: int, clip_s: float, size: tuple[int, int], fps: float) -> tuple[Path, list[ClipSpan]]:
    """A moving-boxes H.264 video of ``clips`` back-to-back clips, cached across runs."""
    width, height = size
    path = BENCH_DIR / f"embed_{width}x{height}_{fps:g}fps_{clips}x{clip_s:g}s.mp4"
    if not path.exists():
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{os.getpid()}.{path.name}")  # rename: a crash leaves no half file
        cuts = [k * clip_s for k in range(1, clips)]  # a new scene per clip, so clips differ
        make_video(tmp, duration_s=clips * clip_s, fps=fps, size=size, seed=7, scene_cuts_s=cuts)
        tmp.rename(path)
    return path, [ClipSpan(k * clip_s, (k + 1) * clip_s) for k in range(clips)]


def build_internvideo2(size: str, device: torch.device, dtype: torch.dtype, workdir: Path) -> InternVideo2Embedder:
    config = InternVideo2Config() if size == "full" else InternVideo2Config.tiny()
    torch.manual_seed(0)
    with device:  # random init straight on the device: no 5 GB fp32 copy through host memory on CUDA
        model = InternVideo2Model(config)
    vocab = workdir / "vocab.txt"
    vocab.write_text("\n".join(TINY_VOCAB) + "\n")
    tokenizer = BertTokenizer.from_vocab(vocab, max_length=config.max_txt_len)
    return InternVideo2Embedder.from_model(model, tokenizer, device=device, dtype=dtype)


def build_cosmos(
    snapshot: Path | None, variant: str, device: torch.device, dtype: torch.dtype, workdir: Path
) -> tuple[CosmosEmbed1Embedder, str]:
    """The real snapshot (verified against the shipped pins), else the tiny test snapshot."""
    if snapshot is not None:
        embedder = CosmosEmbed1Embedder.from_snapshot(snapshot, variant, device=device, dtype=dtype)
        return embedder, variant
    sys.path.insert(0, str(TESTS_MODELS))
    from cosmos_fixture import build_cosmos_snapshot  # test helper, not part of the package

    from video_assets.models.snapshot_pin import record_pins

    spec = VARIANTS[variant]
    snap = build_cosmos_snapshot(
        workdir / "models",
        repo_id=spec.model_id,
        revision=spec.revision,
        embed_dim=spec.dim,
        resolution=spec.resolution[0],
    )
    pins = (record_pins(snap, repo_id=spec.model_id),)  # we wrote this code: pin it as reviewed
    embedder = CosmosEmbed1Embedder.from_snapshot(snap, variant, device=device, dtype=dtype, pins=pins)
    return embedder, f"{variant} (TINY TEST SNAPSHOT)"


def decode_clips(embedder: Embedder, video: Path, spans: Sequence[ClipSpan], backend: str) -> list[np.ndarray]:
    """Frames per clip as the tensors step gets them: one pass at target fps, then doubling."""
    spec = embedder.spec
    signature = FrameSignature(FramePolicy.SEQUENCE, spec.target_fps)
    options = DecodeOptions(backend=backend)
    out = []
    for span, extraction in zip(spans, extract_frames(video, spans, [signature], options=options)):
        if extraction.error:
            raise RuntimeError(f"clip {span}: {extraction.error}")

        def extract_at(fps: float, span: ClipSpan = span) -> np.ndarray:
            return extract_clip_frames(video, span, FrameSignature(FramePolicy.SEQUENCE, fps), options=options).frames

        made = ensure_enough_frames(
            extraction.frames[signature.key].frames,
            spec.frames_per_clip,
            fps=spec.target_fps,
            max_fps=spec.max_fps,
            extract_at=extract_at,
        )
        if made.frames is None:
            raise RuntimeError(f"clip {span}: {made.skip_reason}; use longer clips (--clip-s)")
        out.append(made.frames)
    return out


def end_to_end(embedder: Embedder, video: Path, spans: Sequence[ClipSpan], batch: int, backend: str) -> EndToEnd:
    in_forward = 0.0

    def timed_embed(batch_tensor: torch.Tensor) -> torch.Tensor:
        nonlocal in_forward
        start = time.perf_counter()
        out = embedder.embed_video(batch_tensor)  # returns on the CPU, so CUDA work is finished
        in_forward += time.perf_counter() - start
        return out

    t0 = time.perf_counter()
    frames = decode_clips(embedder, video, spans, backend)
    t1 = time.perf_counter()
    tensors = [embedder.prepare(f) for f in frames]
    t2 = time.perf_counter()
    run = embed_batches(timed_embed, tensors, batch_size=batch, device=embedder.device, dtype=embedder.dtype)
    t3 = time.perf_counter()
    if run.oom_backoffs:
        print(f"  note: {run.oom_backoffs} OOM back-off(s); batches run: {run.batch_sizes}")
    return EndToEnd(t1 - t0, t2 - t1, t3 - t2, in_forward, run.vectors)


def forward_only(embedder: Embedder, premade: torch.Tensor, batch: int) -> float:
    """Seconds of ``embed_video`` over ``premade`` (already on the device), ``batch`` clips at a time."""
    start = time.perf_counter()
    for i in range(0, len(premade), batch):
        embedder.embed_video(premade[i : i + batch])
    return time.perf_counter() - start


def bench_model(loaded: Loaded, video: Path, spans: Sequence[ClipSpan], backend: str) -> list[Row]:
    embedder, clips = loaded.embedder, loaded.clips
    spans = spans[:clips]
    # Pre-made input for forward-only: the same clips, prepared outside the clock.
    premade = torch.stack([embedder.prepare(f) for f in decode_clips(embedder, video, spans, backend)])
    premade = premade.to(device=embedder.device, dtype=embedder.dtype)
    embedder.embed_video(premade[:1])  # warm-up, untimed
    rows = []
    for batch in dict.fromkeys((1, loaded.batch)):
        fwds, e2es = [], []
        for _ in range(loaded.repeats):  # interleaved, so a burst of load hits both kinds alike
            fwds.append(forward_only(embedder, premade, batch))
            e2es.append(end_to_end(embedder, video, spans, batch, backend))
        fwd = min(fwds)
        e2e = min(e2es, key=lambda run: run.total_s)
        rows.append(Row(loaded.label, batch, clips, e2e, fwd))
        print(
            f"  {loaded.label} batch {batch}: e2e {e2e.total_s:.2f} s, forward-only {fwd:.2f} s; "
            f"load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    # Same model, same clips: batching must not change the vectors beyond float noise.
    drift = (rows[0].e2e.vectors - rows[-1].e2e.vectors).abs().max().item()
    print(f"  max |batch 1 - batch {loaded.batch}| over the vectors: {drift:.2e}")
    return rows


def print_table(rows: Sequence[Row], device: torch.device, dtype: torch.dtype) -> None:
    dt = str(dtype).removeprefix("torch.")
    print(
        f"\n{'model':40s} {'device':6s} {'dtype':8s} {'batch':>5s} {'clips':>5s} "
        f"{'e2e clips/s':>11s} {'fwd clips/s':>11s} {'ratio':>6s} {'forward share':>13s}"
    )
    for r in rows:
        ratio, share = r.e2e_cps / r.forward_cps, r.e2e.in_forward_s / r.e2e.total_s
        print(
            f"{r.label:40s} {device.type:6s} {dt:8s} {r.batch:5d} {r.clips:5d} {r.e2e_cps:11.3f} "
            f"{r.forward_cps:11.3f} {ratio:6.3f} {share:13.3f}"
        )
    print(
        "ratio = e2e / forward-only clips/s (two runs); forward share = time inside the model's forward / "
        "e2e time, in the e2e run itself (the same estimate, immune to load changing between runs)"
    )
    print(
        f"\nwhere end-to-end time goes (s)\n{'model':40s} {'batch':>5s} {'decode':>8s} {'prepare':>8s} "
        f"{'batches':>8s} {'(forward)':>9s} {'fwd-only':>8s} {'data path clips/s':>17s}"
    )
    for r in rows:
        data_cps = r.clips / (r.e2e.decode_s + r.e2e.prepare_s)
        print(
            f"{r.label:40s} {r.batch:5d} {r.e2e.decode_s:8.3f} {r.e2e.prepare_s:8.3f} "
            f"{r.e2e.batches_s:8.3f} {r.e2e.in_forward_s:9.3f} {r.forward_s:8.3f} {data_cps:17.2f}"
        )
    print("\nbatched vs batch 1 (clips/s ratio)")
    by_label: dict[str, list[Row]] = {}
    for r in rows:
        by_label.setdefault(r.label, []).append(r)
    for label, group in by_label.items():
        one, batched = group[0], group[-1]
        print(
            f"  {label}: batch {batched.batch} vs 1: end to end {batched.e2e_cps / one.e2e_cps:.2f}x, "
            f"forward-only {batched.forward_cps / one.forward_cps:.2f}x"
        )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="internvideo2,cosmos", help="comma list of internvideo2, cosmos")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--dtype", default="auto", help="fp32, bf16, fp16 or auto (bf16 on CUDA, fp32 on CPU)")
    p.add_argument("--clips", type=int, default=2, help="InternVideo2 clips (1B: ~25 s a clip on 2 CPU cores)")
    p.add_argument("--batch", type=int, default=2, help="InternVideo2 batched size")
    p.add_argument("--iv2-size", choices=("full", "tiny"), default="full")
    p.add_argument("--repeats", type=int, default=1, help="InternVideo2: best of N runs per measurement")
    p.add_argument("--cosmos-clips", type=int, default=8)
    p.add_argument("--cosmos-batch", type=int, default=8)
    p.add_argument("--cosmos-repeats", type=int, default=3, help="Cosmos: best of N runs per measurement")
    p.add_argument("--cosmos-variant", default=DEFAULT_VARIANT, choices=sorted(VARIANTS))
    p.add_argument("--cosmos-snapshot", type=Path, help="a real snapshot dir {model_dir}/{repo_id}/{revision}")
    p.add_argument("--clip-s", type=float, default=5.0, help="clip length; Cosmos needs 8 frames (4 s at 2 fps)")
    p.add_argument("--video-size", default="1280x720", help="WxH of the generated video")
    p.add_argument("--video-fps", type=float, default=30.0)
    p.add_argument("--backend", default="pyav", help="frame decoder backend (pyav, decord)")
    args = p.parse_args(argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = set(args.models) - {"internvideo2", "cosmos"}
    if unknown or not args.models:
        p.error(f"--models: unknown {sorted(unknown)}; use internvideo2 and/or cosmos")
    counts = (args.clips, args.batch, args.repeats, args.cosmos_clips, args.cosmos_batch, args.cosmos_repeats)
    if min(counts) < 1 or args.clip_s <= 0:
        p.error("clip counts, batch sizes and --clip-s must be positive")
    width, _, height = args.video_size.partition("x")
    if not (width.isdigit() and height.isdigit()):
        p.error(f"--video-size must look like 1280x720, got {args.video_size!r}")
    args.video_size = (int(width), int(height))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        device = resolve_device(args.device)
    except DeviceUnavailableError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    dtype = resolve_dtype(args.dtype, device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    print(
        f"{date.today()}  {where}; {os.cpu_count()} CPUs, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads); load average {os.getloadavg()[0]:.1f}"
    )
    clips_needed = max(
        args.clips if "internvideo2" in args.models else 0, args.cosmos_clips if "cosmos" in args.models else 0
    )
    video, spans = make_input(clips=clips_needed, clip_s=args.clip_s, size=args.video_size, fps=args.video_fps)
    print(
        f"input: {video} ({clips_needed} clips of {args.clip_s:g} s, {args.video_size[0]}x{args.video_size[1]} "
        f"{args.video_fps:g} fps H.264); decoder {args.backend}"
    )

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="va_bench_") as tmp:
        if "internvideo2" in args.models:
            t = time.perf_counter()
            iv2 = build_internvideo2(args.iv2_size, device, dtype, Path(tmp))
            took = time.perf_counter() - t
            print(f"built internvideo2 ({args.iv2_size}, random weights) in {took:.1f} s", flush=True)
            loaded = Loaded(f"internvideo2 {args.iv2_size} (random)", iv2, args.clips, args.batch, args.repeats)
            rows += bench_model(loaded, video, spans, args.backend)
            del iv2, loaded  # free the 1B model before loading the next one
        if "cosmos" in args.models:
            cosmos, label = build_cosmos(args.cosmos_snapshot, args.cosmos_variant, device, dtype, Path(tmp))
            loaded = Loaded(label, cosmos, args.cosmos_clips, args.cosmos_batch, args.cosmos_repeats)
            rows += bench_model(loaded, video, spans, args.backend)
    print_table(rows, device, dtype)
    if "cosmos" in args.models and args.cosmos_snapshot is None:
        print(
            "\nNOTE: Cosmos rows are the tiny test snapshot (tests/models/cosmos_fixture.py), "
            "not the real model: its forward is a few small layers."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
