"""One search result, whichever path (LanceDB or the faiss sidecar) answered."""

from __future__ import annotations

from dataclasses import dataclass

# The clip table columns a hit is built from (plus LanceDB's `_distance` on the LanceDB path); a search
# reads only these, and the sidecar keeps a copy of them.
HIT_COLUMNS = ("clip_id", "video_id", "source_path", "span_start_s", "span_end_s", "clip_path", "text_match")


@dataclass(frozen=True)
class SearchHit:
    clip_id: str
    video_id: str
    source_path: str
    span_start_s: float
    span_end_s: float
    clip_path: str | None
    score: float  # cosine similarity in [-1, 1], higher is closer
    text_match: str | None


def hit_from_row(row: dict, score: float) -> SearchHit:
    """A hit from a row holding `HIT_COLUMNS`."""
    return SearchHit(**{name: row[name] for name in HIT_COLUMNS}, score=float(score))
