"""The table `video-assets models list` prints: every registered embedder, one row of at most 100 columns.

Present weights show their size on disk; absent ones what a download fetches (the pinned
approximate size, models/pins.py) or "unknown"; the weights-free fingerprint says it needs none.
Where each repo lives is in `--json` (`models`: paths, sources, missing files).
"""

from __future__ import annotations

from collections.abc import Iterable

from video_assets.models.hub import ModelHub, human_size
from video_assets.models.registered_embedder import RegisteredEmbedder
from video_assets.models.weights import WeightSpec

WIDTH = 100
COLUMNS = ("model", "status", "size", "weights")


def download_size(spec: WeightSpec) -> str:
    """ "~2.2 GiB" (what a download fetches) when every repo's size is pinned, else "unknown"."""
    sizes = [repo.download_bytes for repo in spec.repos]
    if any(size is None for size in sizes):
        return "unknown"
    return f"~{human_size(sum(s for s in sizes if s is not None))}"


def model_row(entry: RegisteredEmbedder, hub: ModelHub) -> dict[str, str]:
    """One embedder's row: name, weight status, size (on disk or to download), repos at their pins."""
    spec = entry.weights
    if spec is None:
        return {"model": entry.spec.name, "status": "builtin", "size": "-", "weights": "no weights needed"}
    status = hub.status(spec)
    if status.state == "present":
        size = human_size(status.size_bytes)
    elif status.state == "partial":
        size = f"{human_size(status.size_bytes)} of {download_size(spec)}"
    else:
        size = download_size(spec)
    first = spec.repos[0]
    repos = f"{first.repo_id}@{first.revision}" + (" (gated)" if first.gated else "")
    if len(spec.repos) > 1:  # e.g. InternVideo2's tokenizer repo; all of them in --json
        repos += f" +{len(spec.repos) - 1}"
    return {"model": entry.spec.name, "status": status.state, "size": size, "weights": repos}


def table_lines(rows: Iterable[dict[str, str]], width: int = WIDTH) -> list[str]:
    """A header and one line per row, columns padded to their widest cell; the last column is cut with
    "…" where a line would pass `width`."""
    rows = list(rows)
    widths = {k: max(len(k), *(len(r[k]) for r in rows)) for k in COLUMNS[:-1]}
    lines = []
    for row in [dict(zip(COLUMNS, COLUMNS)), *rows]:
        line = "  ".join(row[k].ljust(w) for k, w in widths.items()) + "  " + row[COLUMNS[-1]]
        lines.append(line if len(line) <= width else line[: width - 1] + "…")
    lines.append("size: on disk where present, else what a download fetches (~: from the model card)")
    return lines
