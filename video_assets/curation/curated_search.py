"""`search --where` over the curation columns too (e.g. "filter_keep = true": search within the kept clips).

The index cannot run those terms as SQL: the filter goes through the clips engine
(`clip_list.split_clip_ids`: its index part as SQL, the rest over Arrow by `where_eval`,
the very code `clips --where` runs), and the search gets the resulting clips as a set
of ids (`index.search.ClipIdSet`), the smaller side of the split, as a LanceDB prefilter.
A filter on index columns alone stays plain SQL, as before.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import lancedb

from video_assets.curation.clip_list import split_clip_ids
from video_assets.curation.where_eval import split
from video_assets.index.filters import parse_where
from video_assets.index.search import ClipIdSet, SearchRequest


def reads_curation(where: str | None) -> bool:
    """Whether a `--where` reads a curation column (or reason(...)), so the index alone cannot run it."""
    return where is not None and split(parse_where(where, curation=True))[1] is not None


def curated_request(
    db: lancedb.DBConnection, model: str, request: SearchRequest, data_dir: Path
) -> SearchRequest | None:
    """`request` with its curation filter resolved to clip ids; None when no clip matches (nothing to
    search). A request whose filter reads no curation column is returned as it is."""
    if not reads_curation(request.where):
        return request
    assert request.where is not None
    matching, others, _ = split_clip_ids(db, model, request.where, data_dir)
    if len(matching) == 0:
        return None
    if len(others) == 0:  # every clip matches: no filter left
        return replace(request, where=None)
    if len(matching) <= len(others):
        clip_set = ClipIdSet(tuple(matching.to_pylist()))
    else:
        clip_set = ClipIdSet(tuple(others.to_pylist()), negated=True)
    return replace(request, where=None, clip_set=clip_set)
