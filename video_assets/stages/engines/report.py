"""Where each video was embedded, read back from the embeddings steps' metadata (`run --json`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

EMBEDDINGS_SUFFIX = "_embeddings"


def workers_by_video(partition_metadata: Iterable[Mapping[str, Mapping]]) -> dict[str, dict[str, dict]]:
    """video_id -> model -> {"node", "gpu_ids", "pid"}, from each partition's asset -> metadata."""
    out: dict[str, dict[str, dict]] = {}
    for metadata in partition_metadata:
        for asset, values in metadata.items():
            workers = values.get("workers")
            if not asset.endswith(EMBEDDINGS_SUFFIX) or not isinstance(workers, Mapping):
                continue
            model = asset.removesuffix(EMBEDDINGS_SUFFIX)
            for video_id, worker in workers.items():
                out.setdefault(video_id, {})[model] = dict(worker)
    return out


def videos_per_node(workers: Mapping[str, Mapping[str, Mapping]]) -> dict[str, int]:
    """node -> videos embedded there (a video whose models ran on two nodes counts on both)."""
    counts: Counter[str] = Counter()
    for per_model in workers.values():
        for node in {w["node"] for w in per_model.values()}:
            counts[node] += 1
    return dict(sorted(counts.items()))
