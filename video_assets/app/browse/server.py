"""The browse web app: the page, its JSON API and the media files, as one Starlette application.

Handlers are plain (sync) functions: Starlette runs them on its thread pool, so a slow
LanceDB read never blocks another request. A user error (the same exceptions the CLI reports
as one line) answers 4xx with {"error": "<the CLI's message>"}; anything else is a 500 with
a traceback in the server's log.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from video_assets.app.browse import api
from video_assets.app.browse.media import thumbnail_file, video_file
from video_assets.app.user_errors import USER_ERRORS, user_message
from video_assets.settings.config import Settings

STATIC_DIR = Path(__file__).parent / "static"


class JSONAnswer(Response):
    """JSON with dates (created_at) as ISO text and non-ASCII paths as they are."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, default=str, ensure_ascii=False).encode("utf-8")


def error_status(err: Exception) -> int:
    """404 for what is not there (data dir, table, clip, video, file), 403 for a file we may not read, else 400."""
    if isinstance(err, (FileNotFoundError, LookupError)):
        return 404
    if isinstance(err, PermissionError):
        return 403
    return 400


def error_answer(err: Exception) -> JSONAnswer:
    return JSONAnswer({"error": user_message(err)}, status_code=error_status(err))


def json_route(handler: Callable[[Settings, api.Params], dict[str, Any]], settings: Settings) -> Callable:
    def endpoint(request: Request) -> Response:
        try:
            return JSONAnswer(handler(settings, request.query_params))
        except USER_ERRORS as err:
            return error_answer(err)

    return endpoint


def create_app(settings: Settings) -> Starlette:
    """The app over `settings.data_dir` (nothing is checked until a request comes: a missing data dir
    answers 404 with the CLI's message)."""

    def index(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    def video(request: Request) -> Response:
        # FileResponse answers Range requests (206): the <video> element seeks to a clip's span.
        try:
            return FileResponse(video_file(settings, request.path_params["video_id"]))
        except USER_ERRORS as err:
            return error_answer(err)

    def thumb(request: Request) -> Response:
        clip_id = request.path_params["name"].removesuffix(".jpg")
        try:
            path = thumbnail_file(settings, request.path_params["video_id"], clip_id)
        except USER_ERRORS as err:
            return error_answer(err)
        return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})

    def unknown_api(request: Request) -> Response:
        return JSONAnswer({"error": f"no API endpoint {request.url.path}"}, status_code=404)

    routes = [
        Route("/", index),
        Route("/api/info", json_route(api.info, settings)),
        Route("/api/clips", json_route(api.clips, settings)),
        Route("/api/search", json_route(api.search_clips, settings)),
        Route("/api/duplicates", json_route(api.duplicates, settings)),
        Route("/api/clusters", json_route(api.clusters, settings)),
        Route("/api/videos", json_route(api.videos, settings)),
        Route("/api/{rest:path}", unknown_api),
        Route("/media/video/{video_id}", video),
        Route("/media/thumb/{video_id}/{name}", thumb),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    return Starlette(routes=routes)
