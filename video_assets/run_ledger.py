"""What `run` does with the ledger around each partition run, and the lines it prints.

Before a partition runs, its failed videos are pending again (they are being
retried); after it, every video of the partition is done (its landings are all
there), failed with the reason its own step gave, or failed with the run's error.
A run killed or interrupted before this point leaves them pending: retried next time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from video_assets.ledger import VideoAccount, VideoLedger
from video_assets.media.probe import sha256_file
from video_assets.video_registry import VideoRecord, VideoRegistry

if TYPE_CHECKING:
    from video_assets.runner import PartitionOutcome


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


def reason_of(account: VideoAccount | VideoRecord) -> str:
    """The recorded failure without the file name in front (the line it goes on names the file)."""
    error = account.error or account.status
    return error.removeprefix(f"{account.abs_path}: ")


def video_line(account: VideoAccount) -> str:
    """``ok: 3 of 4 clips indexed; 1 dropped`` or ``FAILED: <reason>``, for one video."""
    if account.status != "done":
        return f"FAILED: {reason_of(account)}"
    planned = account.planned if account.planned is not None else account.indexed_clips
    line = f"ok: {account.indexed_clips} of {planned} clips indexed"
    if len(account.indexed) > 1:
        line += " (" + ", ".join(f"{m} {n}" for m, n in sorted(account.indexed.items())) + ")"
    if account.drops:
        line += f"; {len(account.drops)} dropped"
    return line


def partition_lines(outcome: PartitionOutcome, n: int, total: int) -> list[str]:
    """The progress lines of one partition: one per video, then each dropped clip's reason."""
    head = f"[{n}/{total}] {outcome.key} ({outcome.seconds:.1f} s)"
    if len(outcome.videos) == 1:
        account = outcome.videos[0]
        lines = [f"{head} {account.rel_path}: {video_line(account)}"]
    else:
        lines = [head] + [f"    {a.rel_path}: {video_line(a)}" for a in outcome.videos]
    for account in outcome.videos:
        for clip_id, reason in sorted(account.drops.items()):
            lines.append(f"    dropped clip {clip_id} of {account.rel_path}: {reason}")
    if not outcome.success:
        # A step error that is some video's recorded reason was printed on that video's line.
        said = [a.error for a in outcome.videos if a.error]
        lines += [f"    {err}" for err in outcome.errors if not any(reason in err for reason in said)]
    return lines


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
