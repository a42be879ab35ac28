"""The JSON API under the browse page: one function per endpoint, each a plain dict from the query string.

Every answer comes from the functions the CLI uses: `clips` from `curation.clip_query.query_clips`
(`video-assets clips`), `search` from `query.search` (`video-assets search`), `duplicates` from
`curation.dup_read` (what `video-assets duplicates` prints, read without recomputing), `videos` from
the registry `run` keeps. Bad input raises the CLI's own errors; server.py turns them into 4xx.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from video_assets.app.browse.media import media_urls, open_registry
from video_assets.app.report import reason_of
from video_assets.catalog.registry import VideoRecord
from video_assets.curation.clip_query import query_clips
from video_assets.curation.dup_read import groups, read_duplicates, result_info
from video_assets.curation.query import default_model, search
from video_assets.index.search import SearchRequest
from video_assets.settings.config import Settings

Params = Mapping[str, str]
PAGE = 60  # clips per page by default: a screenful of thumbnails
MAX_PAGE = 1000  # as `clips --limit`
CLUSTER_SAMPLE = 8  # clips shown per cluster; the rest through the filter `cluster_id = N`


def text_param(params: Params, name: str) -> str | None:
    """A text parameter; absent or blank is None (an empty filter box means no filter)."""
    value = params.get(name)
    return value if value is not None and value.strip() else None


def int_param(params: Params, name: str, default: int, low: int = 0, high: int = 10**9) -> int:
    value = params.get(name)
    if value is None or not value.strip():
        return default
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer in {low}..{high}, got {value!r}") from None
    if not low <= number <= high:
        raise ValueError(f"{name} must be an integer in {low}..{high}, got {number}")
    return number


def with_media(row: dict[str, Any]) -> dict[str, Any]:
    """The row plus the URLs of its thumbnail strip and source video."""
    return {**row, **media_urls(row["video_id"], row["clip_id"])}


def info(settings: Settings, params: Params) -> dict[str, Any]:
    """GET /api/info: the data dir, its enabled models (and which have a text tower), and the videos per status."""
    from video_assets.models.embedder_registry import enabled_embedders
    from video_assets.models.hub import ModelHub

    enabled = enabled_embedders(settings.enabled_models, ModelHub(settings.paths.model_dir))
    return {
        "data_dir": str(settings.data_dir),
        "models": [{"name": e.spec.name, "has_text": e.spec.has_text} for e in enabled],
        "default_model": default_model(settings, needs_text=False),
        "videos": open_registry(settings).counts(),
    }


def clips(settings: Settings, params: Params) -> dict[str, Any]:
    """GET /api/clips?where=&model=&limit=&offset=: one page, as `video-assets clips --json`, plus notes."""
    answer = query_clips(
        settings,
        where=text_param(params, "where"),
        model=text_param(params, "model"),
        limit=int_param(params, "limit", PAGE, 1, MAX_PAGE),
        offset=int_param(params, "offset", 0),
    )
    listing = asdict(answer.listing)
    listing["rows"] = [with_media(row) for row in listing["rows"]]
    return {**listing, "notes": answer.notes, "shown_texts": answer.shown_texts}


def search_clips(settings: Settings, params: Params) -> dict[str, Any]:
    """GET /api/search?like=<clip_id> or ?q=<text>, with k=, offset=, where=, model=: as `video-assets search`."""
    text, like = params.get("q"), text_param(params, "like")
    model = text_param(params, "model") or default_model(settings, needs_text=text is not None)
    request = SearchRequest(
        k=int_param(params, "k", PAGE, 1, MAX_PAGE),
        where=text_param(params, "where"),
        offset=int_param(params, "offset", 0),
    )
    hits = search(settings, request=request, text=text, like_clip=like, model=model)
    return {"model": model, "q": text, "like": like, "hits": [with_media(asdict(hit)) for hit in hits]}


def duplicates(settings: Settings, params: Params) -> dict[str, Any]:
    """GET /api/duplicates?model=&limit=&offset=: the stored groups, largest first, kept clip first in each."""
    model = text_param(params, "model") or default_model(settings, needs_text=False)
    table = read_duplicates(settings.paths.curation_dir, model)
    found = groups(table)
    limit, offset = int_param(params, "limit", 50, 1, MAX_PAGE), int_param(params, "offset", 0)
    page = [
        {"group": g.group, "size": len(g.clips), "clips": [with_media(c) for c in g.clips]}
        for g in found[offset : offset + limit]
    ]
    return {**result_info(table), "model": model, "total": len(found), "offset": offset, "groups": page}


def clusters(settings: Settings, params: Params) -> dict[str, Any]:
    """GET /api/clusters?model=&limit=&offset=: the duplicate finder's clusters, largest first, a few clips of
    each (every clip of one: /api/clips?where=cluster_id = N)."""
    model = text_param(params, "model") or default_model(settings, needs_text=False)
    table = read_duplicates(settings.paths.curation_dir, model)
    table = table.filter(pc.is_valid(table.column("cluster_id")))
    sizes = table.group_by("cluster_id").aggregate([("clip_id", "count")]).to_pylist()
    ordered = sorted(sizes, key=lambda s: (-s["clip_id_count"], s["cluster_id"]))
    limit, offset = int_param(params, "limit", 20, 1, MAX_PAGE), int_param(params, "offset", 0)
    page = ordered[offset : offset + limit]
    wanted = pa.array([s["cluster_id"] for s in page], table.schema.field("cluster_id").type)
    members = table.filter(pc.is_in(table.column("cluster_id"), value_set=wanted))
    members = members.sort_by(
        [("cluster_id", "ascending"), ("source_path", "ascending"), ("span_start_s", "ascending")]
    )
    sample: dict[int, list[dict[str, Any]]] = {}
    for row in members.to_pylist():
        shown = sample.setdefault(row["cluster_id"], [])
        if len(shown) < CLUSTER_SAMPLE:
            shown.append(with_media(row))
    out = [{"cluster_id": s["cluster_id"], "size": s["clip_id_count"], "clips": sample[s["cluster_id"]]} for s in page]
    return {"model": model, "total": len(ordered), "offset": offset, "clusters": out}


def videos(settings: Settings, params: Params) -> dict[str, Any]:
    """GET /api/videos?status=done|failed|pending|missing&limit=&offset=: a page of the registry, each
    not-done video with its reason (as `run` prints it) and its file."""
    status = text_param(params, "status")
    registry = open_registry(settings)
    records = registry.page(
        status, limit=int_param(params, "limit", 100, 1, MAX_PAGE), offset=int_param(params, "offset", 0)
    )
    counts = registry.counts()
    return {
        "status": status,
        "counts": counts,
        "total": counts[status] if status else sum(counts.values()),
        "offset": int_param(params, "offset", 0),
        "videos": [
            {
                "video_id": v.video_id,
                "path": v.abs_path,
                "rel_path": v.rel_path,
                "status": v.status,
                "reason": _reason(v),
                "partition_key": v.partition_key,
            }
            for v in records
        ],
    }


def _reason(video: VideoRecord) -> str | None:
    """Why a video is not done, in the words of `run`'s summary."""
    if video.status == "pending":
        return "not yet in every enabled model's index (run again)"
    return reason_of(video) if video.status != "done" else None
