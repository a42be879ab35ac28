"""Search the clip index by text, by an indexed clip, or by a video file embedded on the fly.

A `--like-clip` search imports neither torch nor a model (named or the default): the
clip's stored vector is the query (what a one-shot CLI search pays is LanceDB's import,
and faiss's when the sidecar answers).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import numpy as np

from video_assets.curation.curated_search import curated_request
from video_assets.index.connection import connect, local_db_dir
from video_assets.index.errors import UnknownClipError
from video_assets.index.search import (
    DEFAULT_REQUEST,
    SearchHit,
    SearchRequest,
    explain_search,
    get_vector,
    search_vector,
)
from video_assets.media.probe import probe
from video_assets.models.embedder_defaults import default_without_text
from video_assets.settings.config import Settings
from video_assets.stages.clips import spans_for

if TYPE_CHECKING:  # torch and the models load only for text and file queries, not --like-clip
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11; annotations only

    from video_assets.models.base import Embedder


def default_model(settings: Settings, *, needs_text: bool) -> str:
    """The embedder a query uses when none is named: the first enabled one that fits it. Without a text
    query the settings tell (models.embedder_defaults), and neither torch nor a model module is imported."""
    light = None if needs_text else default_without_text(settings.enabled_models)
    if light is not None:
        return light
    from video_assets.models.base import TextNotSupportedError
    from video_assets.models.embedder_registry import enabled_embedders
    from video_assets.models.hub import ModelHub

    enabled = enabled_embedders(settings.enabled_models, ModelHub(settings.paths.model_dir))
    for entry in enabled:
        if entry.spec.has_text or not needs_text:
            return entry.spec.name
    raise TextNotSupportedError(", ".join(e.spec.name for e in enabled) or "none enabled")


def load_embedder(settings: Settings, model: str) -> Embedder:
    from video_assets.models.embedder_registry import get
    from video_assets.models.hub import ModelHub
    from video_assets.models.runtime import resolve_device, resolve_dtype

    device = resolve_device(settings.device)
    hub = ModelHub(settings.paths.model_dir)
    return get(model).load_cached(hub, device, resolve_dtype(settings.dtype, device), settings.model(model))


def embed_file(settings: Settings, embedder: Embedder, path: str | Path, *, model: str | None = None) -> np.ndarray:
    """One vector per clip of ``path``, cut and framed exactly as the pipeline does: the same
    clipping, the model's resolved frame recipe (`resolved.ModelPlan.recipe`: rate, decoder,
    resolution, pixel budget, re-extraction), the frames asset's storage round trip and the
    tensors asset's `tensor_dtype`.

    `model` is the name the embedder is registered and configured under (default: its spec name).
    """
    import torch

    from video_assets.models.embedder_registry import get
    from video_assets.stages.frame_creation import create_clip_frames
    from video_assets.stages.resolved import resolve
    from video_assets.stages.tensors import stored_tensor

    info = probe(path)
    name = model or embedder.spec.name
    recipe = resolve(settings, [get(name)]).model(name).recipe
    spans = spans_for(info.path, info.duration_s, settings.clipping) or []
    if not spans:
        raise ValueError(
            f"{path}: no clip to embed: the video lasts {info.duration_s:.2f} s, "
            f"less than the shortest clip ({settings.clipping.min_clip_len_s} s, clipping.min_clip_len_s)"
        )
    prepared = []
    for span in spans:
        try:
            made = create_clip_frames(info.path, span, recipe).made
            if made.frames is not None:  # stored and read back as the tensors asset does (float16)
                stored = stored_tensor(embedder.prepare(made.frames), settings.tensor_dtype)
                prepared.append(torch.from_numpy(stored.astype("float32")))
        except ValueError as err:
            # The query file is what the user must look at: name it, then the clip's span and the reason.
            message = str(err)
            if str(path) not in message and str(info.path) not in message:
                message = f"{path}: clip {span.start_s:.2f}-{span.end_s:.2f} s: {message}"
            raise ValueError(message) from err
    if not prepared:
        raise ValueError(f"{path}: no clip of this file has enough frames for {name} (too few frames)")
    batch = torch.stack(prepared).to(embedder.device, embedder.dtype)
    return embedder.embed_video(batch).numpy()


def existing_index(settings: Settings) -> str:
    """The LanceDB uri, once it is known to exist: search never creates a data or index directory."""
    uri = settings.paths.lancedb_uri
    local = local_db_dir(uri)
    if local is None or local.is_dir():
        return uri
    data_dir = Path(settings.data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(
            f"data directory {data_dir} does not exist: nothing to search; give the one `video-assets run` "
            "wrote with --output (or set VIDEO_ASSETS_DATA_DIR)"
        )
    raise FileNotFoundError(
        f"no clip index at {local}: data directory {data_dir} holds no index yet; "
        f"run `video-assets run --input VIDEOS --output {data_dir}` first"
    )


@dataclass(frozen=True)
class QueryVectors:
    db: object  # lancedb.DBConnection
    model: str
    vectors: list[np.ndarray]  # one per query clip (a file may hold several)
    exclude: list[str]  # the query clip itself, for --like-clip


def query_vectors(
    settings: Settings,
    text: str | None = None,
    like_clip: str | None = None,
    like_file: str | Path | None = None,
    model: str | None = None,
) -> QueryVectors:
    """The query as vectors, with the connection and table to search them in (the query side of
    `search`; `stages.resolved.resolve` is the settings side of the graph)."""
    if sum(x is not None for x in (text, like_clip, like_file)) != 1:
        raise ValueError("give exactly one of: a text query, --like-clip ID, --like-file PATH")
    model = model or default_model(settings, needs_text=text is not None)
    db = connect(existing_index(settings))
    if like_clip is not None:
        try:
            vector = get_vector(db, model, like_clip)
        except UnknownClipError as err:
            raise err.with_hint(
                "clip ids are the clip_id of search results (`video-assets search ... --json`); "
                "--model picks the table searched"
            ) from None
        return QueryVectors(db, model, [vector], [like_clip])
    embedder = load_embedder(settings, model)
    if text is not None:
        if not text.strip():
            raise ValueError("the text query is empty")
        return QueryVectors(db, model, [embedder.embed_text([text])[0].numpy()], [])
    return QueryVectors(db, model, list(embed_file(settings, embedder, like_file, model=model)), [])


class Query(TypedDict, total=False):
    """What `search` and `explain` look for: exactly one of text / like_clip / like_file, and
    the model whose table is searched (None: the default model)."""

    text: str | None
    like_clip: str | None
    like_file: str | Path | None
    model: str | None


def search(settings: Settings, *, request: SearchRequest = DEFAULT_REQUEST, **query: Unpack[Query]) -> list[SearchHit]:
    """The query searched as `request` says (k, filter, knobs). Results best first, cosine
    scores; `--like-clip`'s own clip is never among them."""
    q = query_vectors(settings, **query)
    curated = curated_request(q.db, q.model, _excluding(request, q.exclude), Path(settings.data_dir))
    if curated is None:  # a filter on curation columns that no clip matches
        return []
    request = curated
    # A file may hold several clips: search with each, keep each hit's best score.
    best: dict[str, SearchHit] = {}
    for vector in q.vectors:
        for hit in search_vector(q.db, q.model, vector, request):
            if hit.clip_id not in best or hit.score > best[hit.clip_id].score:
                best[hit.clip_id] = hit
    return sorted(best.values(), key=lambda h: -h.score)[: request.k]


def explain(settings: Settings, *, request: SearchRequest = DEFAULT_REQUEST, **query: Unpack[Query]) -> str:
    """How `search` answers its (first) query vector: the faiss sidecar's steps or LanceDB's plan."""
    q = query_vectors(settings, **query)
    curated = curated_request(q.db, q.model, _excluding(request, q.exclude), Path(settings.data_dir))
    if curated is None:
        return f"the filter {request.where!r} matches no clip of {q.model}: nothing to search"
    return explain_search(q.db, q.model, q.vectors[0], curated)


def _excluding(request: SearchRequest, clip_ids: list[str]) -> SearchRequest:
    return replace(request, exclude_clip_ids=(*request.exclude_clip_ids, *clip_ids)) if clip_ids else request
