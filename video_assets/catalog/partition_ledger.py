"""What `run` (and the failed-run sensor) does with the ledger around each partition run.

Before a partition runs, its failed videos are pending again (they are being
retried); after it, every video of the partition is done (its landings are all
there), failed with the reason its own step gave, or failed with the run's error.
A run killed or interrupted before this point leaves them pending: retried next time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from video_assets.catalog.ledger import VideoAccount, VideoLedger
from video_assets.catalog.registry import VideoRecord, VideoRegistry
from video_assets.media.probe import sha256_file


def open_partition(registry: VideoRegistry, key: str) -> None:
    """A retried video's old failure no longer describes it: pending until this run says."""
    for video in registry.videos_in(key):
        if video.status == "failed":
            registry.mark(video.video_id, "pending")


def close_partition(ledger: VideoLedger, key: str, errors: Sequence[str]) -> list[VideoAccount]:
    """After the run of ``key``: no video of it stays pending without a word.

    Videos the steps already settled (done, or failed with their own reason) keep their
    status; the rest failed with the run's first error (a step failed before the index).
    """
    videos = [v for v in ledger.registry.videos_in(key) if v.status != "missing"]
    for video in videos:
        if video.status == "pending":
            reason = errors[0] if errors else "the run ended without indexing this video (no step reported an error)"
            ledger.registry.mark(video.video_id, "failed", error=reason)
    return ledger.accounts([v.video_id for v in videos])


def rehash_videos(registry: VideoRegistry, progress: Callable[[str], None] = print) -> list[VideoRecord]:
    """Re-read every present video's content hash; changed ones are pending again.

    The cheap check at each scan sees a changed size or mtime only: a file rewritten
    in place with both kept (some sync tools, `touch -r`) needs this.
    """
    changed = []
    videos = [v for v in registry.all() if v.status != "missing" and v.sha256]
    for i, video in enumerate(videos, 1):
        try:
            digest = sha256_file(video.abs_path)
        except OSError as err:
            progress(f"rehash: cannot read {video.abs_path}: {err}")
            continue
        if digest != video.sha256:
            registry.mark_changed(video.video_id, digest)
            changed.append(video)
        if i % 100 == 0:
            progress(f"rehash: {i}/{len(videos)} videos checked")
    return changed
