"""`video-assets demo`: sample videos → the whole graph through Dagster → a search that must hit."""

from __future__ import annotations

from pathlib import Path

from video_assets.app.runner import run_folder
from video_assets.app.summary import print_summary
from video_assets.app.summary_hints import skipped_model_lines, skipped_models
from video_assets.catalog.registry import video_id_for
from video_assets.curation.query import search
from video_assets.index.connection import connect, open_clip_table
from video_assets.index.search import SearchRequest
from video_assets.media.synthetic import make_video
from video_assets.media.synthetic_damaged import make_near_copy
from video_assets.settings.config import ClippingSettings, Settings

SAMPLES = (("city.mp4", 11), ("forest.mp4", 22), ("harbour.mp4", 33), ("parade.mp4", 44))
NEAR_COPY = "reuploads/city_small.mp4"


def make_samples(folder: Path) -> None:
    """Four distinct 6 s videos and a re-encoded, resized, lightly cropped copy of the first."""
    for name, seed in SAMPLES:
        if not (folder / name).exists():
            make_video(folder / name, duration_s=6.0, fps=24, size=(192, 144), seed=seed, pattern="moving")
    if not (folder / NEAR_COPY).exists():
        make_near_copy(folder / SAMPLES[0][0], folder / NEAR_COPY, size=(128, 96), crop=0.05, crf=32)


def run_demo(root: Path) -> int:
    root = root.resolve()
    videos, data = root / "videos", root / "data"
    make_samples(videos)
    settings = Settings(
        input_dir=videos,
        data_dir=data,
        clipping=ClippingSettings(clip_len_s=3.0, stride_s=3.0, min_clip_len_s=1.0),
    )
    print(f"sample videos: {videos}")
    summary = run_folder(settings, rerun_all=True)
    print_summary(summary)

    original, copy = video_id_for(SAMPLES[0][0]), video_id_for(NEAR_COPY)
    table = open_clip_table(connect(settings.paths.lancedb_uri), "fingerprint")
    rows = table.to_arrow().select(["clip_id", "video_id", "span_start_s"]).to_pylist()
    assert len({r["clip_id"] for r in rows}) == len(rows), "duplicate clip ids in the index"
    first = min((r for r in rows if r["video_id"] == original), key=lambda r: r["span_start_s"])
    hits = search(settings, like_clip=first["clip_id"], model="fingerprint", request=SearchRequest(k=3))
    print(f"\nsearch: clips like {first['clip_id']} (first clip of {SAMPLES[0][0]}), model fingerprint")
    for rank, hit in enumerate(hits, 1):
        print(
            f"  {rank}. {hit.score:.4f} {hit.video_id} [{hit.span_start_s:.1f}-{hit.span_end_s:.1f}s] {hit.source_path}"
        )
    found = bool(hits) and hits[0].video_id == copy
    print("top hit is the near-copy of the query: " + ("yes" if found else "NO"))
    print(f"index: {settings.paths.lancedb_uri} ({len(rows)} rows in {table.name}, one per clip)")

    for line in skipped_model_lines(skipped_models(settings), data):
        print(line)
    return 0 if found and not summary.failed else 1
