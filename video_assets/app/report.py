"""The lines `run` prints for each partition: one per video, then each dropped clip's reason."""

from __future__ import annotations

from video_assets.app.outcome import PartitionOutcome
from video_assets.catalog.ledger import VideoAccount
from video_assets.catalog.registry import VideoRecord


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
