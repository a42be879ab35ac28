"""Serve the browse page over a data directory until Ctrl-C (`video-assets browse`, cli/browse.py)."""

from __future__ import annotations

import ipaddress

from video_assets.settings.config import Settings

DEFAULT_PORT = 8765
DEFAULT_HOST = "127.0.0.1"  # this machine only: the page serves the videos and has no login


def serve(settings: Settings, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> int:
    """Serve the page over `settings.data_dir` until interrupted; a missing data dir or registry fails first."""
    import uvicorn

    from video_assets.app.browse.media import open_registry
    from video_assets.app.browse.server import create_app

    open_registry(settings)  # FileNotFoundError with the CLI's message, before a port is taken
    if not _loopback(host):
        print(f"note: listening on {host}: anyone who reaches this address can see and play every indexed video")
    shown = f"[{host}]" if ":" in host else host
    print(f"browse {settings.data_dir} at http://{shown}:{port}/ (press Ctrl-C to stop)", flush=True)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
    return 0


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
