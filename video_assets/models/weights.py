"""What a learned embedder needs from the Hugging Face hub, pinned.

Each embedder with weights declares a `WeightSpec`: one or more hub repos, each
at a pinned revision, with the files to fetch and the files whose presence means
"installed". `video_assets.models.hub` downloads and checks them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HubRepo:
    repo_id: str
    revision: str  # a commit hash: never a branch, so a download is reproducible
    allow_patterns: tuple[str, ...]  # what to download (no notebooks, no examples)
    required_files: tuple[str, ...]  # all present => the repo counts as installed
    gated: bool = False  # a click-through licence on the hub page must be accepted first
    # Patterns left out even when allowed. huggingface_hub's globs let `*` cross `/`, so
    # "*.py" alone would also take examples/*.py; ("*/*",) keeps a download to the top level.
    ignore_patterns: tuple[str, ...] = ()
    download_bytes: int | None = None  # approximate size of a download (models/pins.py); None: not known


@dataclass(frozen=True)
class WeightSpec:
    name: str  # the embedder's registry name
    repos: tuple[HubRepo, ...]
