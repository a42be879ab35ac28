"""Expected failures of a partition as the UI should show them: one line that says why, and the
reason in the step's metadata, with no stack trace (the curator's error, not ours).

Dagster shows a raised exception with its stack and cause chain; a `dg.Failure` raised `from None`
shows its description and metadata. A bad file is not fixed by trying again, so these failures do
not use the asset's retry policy (`allow_retries=False`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from video_assets.orchestration.assets.metadata import rows_table
from video_assets.stages.sources import VideoFailure

# The source_videos table's status columns: every video of the partition, the failed ones too.
STATUS_COLUMNS = {"status": "probed, or failed (this video is left out)", "reason": "why the video failed"}


def video_status_rows(
    probed: Sequence[Mapping[str, Any]], failures: Sequence[VideoFailure], relative: Mapping[str, str]
) -> list[dict[str, Any]]:
    """A row per video of the partition: the probed ones (`probed`: `stages.clip_report.source_rows`)
    with status "probed", then each failed one with its reason (`relative`: video id -> path)."""
    rows = [{**row, "status": "probed", "reason": None} for row in probed]
    for failure in failures:
        rows.append(
            {"path": relative.get(failure.video_id, str(failure.path)), "status": "failed", "reason": failure.reason}
        )
    return rows


def partition_failure(what: str, reasons: Sequence[str], metadata: Mapping[str, Any] | None = None) -> dg.Failure:
    """The Failure to raise (`from None`) when a partition cannot be made from its input: `what` failed
    because of `reasons` (one line each, shown in full in the metadata), e.g. "every video failed to probe"."""
    shown = "; ".join(reasons[:3]) + (f"; and {len(reasons) - 3} more" if len(reasons) > 3 else "")
    return dg.Failure(
        description=f"{what}: {shown}" if shown else what,
        metadata={"status": "failed", "reason": what, "failures": list(reasons), **(metadata or {})},
        allow_retries=False,
    )


def failed_videos_table(failures: Sequence[VideoFailure], relative: Mapping[str, str]) -> dg.TableMetadataValue:
    """The partition's failed videos as the source_videos table's rows (path, status, reason)."""
    rows = video_status_rows([], failures, relative)
    return rows_table(rows, {"path": "file, relative to the input folder", **STATUS_COLUMNS})


def failure_observation(asset_key: dg.AssetKey, partition: str, failure: dg.Failure) -> dg.AssetObservation:
    """The failure as an observation of the partition: its page shows this metadata (status, reason,
    the failed videos), where a failed run's own metadata is only in the run's logs."""
    return dg.AssetObservation(
        asset_key=asset_key, partition=partition, description=failure.description, metadata=failure.metadata
    )
