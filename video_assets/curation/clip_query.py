"""One page of clips by condition, with the notes that explain an empty or partial answer.

What `video-assets clips` prints and `browse` answers (GET /api/clips): the filter is checked
before any table is opened, the model defaults to the first enabled one, and the notes say
why a filter on curation columns or on `text_score(...)` may match nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from video_assets.curation.clip_list import ClipListing, list_clips, scored_texts
from video_assets.curation.filter_read import FILTER_TERMS
from video_assets.curation.query import default_model, existing_index
from video_assets.curation.where_eval import curation_names
from video_assets.index.connection import connect
from video_assets.index.filters import parse_where, text_score_texts
from video_assets.settings.config import Settings


@dataclass(frozen=True)
class ClipsAnswer:
    listing: ClipListing
    notes: list[str]  # why the filter may match fewer clips than the user expects
    shown_texts: list[str]  # the texts the filter scores with text_score(...), to show beside each clip


def query_clips(
    settings: Settings, *, where: str | None = None, model: str | None = None, limit: int = 100, offset: int = 0
) -> ClipsAnswer:
    """The clips of `model` (default: the first enabled one) that match `where`, one page of them."""
    node = parse_where(where, curation=True) if where is not None else None  # reported before a table opens
    model = model or default_model(settings, needs_text=False)
    db = connect(existing_index(settings))
    listing = list_clips(db, model, where=where, limit=limit, offset=offset, data_dir=settings.data_dir)
    notes = curation_notes(listing, where)
    if listing.unscored_texts:
        known = scored_texts(db, model)
        notes.append(
            f"no clip of {model} has a score for {', '.join(map(repr, listing.unscored_texts))}; "
            f"its scored texts (texts_to_verify): {', '.join(map(repr, known)) or 'none'}"
        )
    return ClipsAnswer(listing, notes, text_score_texts(node) if node is not None else [])


def curation_notes(listing: ClipListing, where: str | None) -> list[str]:
    """Why a filter on curation columns may match nothing: the file it reads is not there yet."""
    info = listing.curation
    if info is None or where is None:
        return []
    used = curation_names(parse_where(where, curation=True))
    model, notes = listing.model, []
    if not info.duplicates and used - FILTER_TERMS:
        notes.append(
            f"no duplicates for {model} yet: dup_group, dup_keep, sim_to_kept, group_size and cluster_id "
            f"are null (run `video-assets duplicates --model {model}`)"
        )
    if not info.filters and used & FILTER_TERMS:
        notes.append(
            f"no clip filters for {model} yet: filter_keep, motion and reason(...) are null "
            f"(materialize {model}_clip_filters)"
        )
    elif info.without_filters and used & FILTER_TERMS:
        notes.append(
            f"{info.without_filters} clip(s) have no filter result yet: filter_keep, motion and reason(...) are "
            f"null for them, so this filter cannot decide on them (run `video-assets filters --model {model}`)"
        )
    return notes
