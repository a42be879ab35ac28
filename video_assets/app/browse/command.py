"""`video-assets browse --output DATA [--port 8765] [--host 127.0.0.1]`: serve the browse page until Ctrl-C."""

from __future__ import annotations

import argparse
import ipaddress

from video_assets.cli_options import add_output
from video_assets.config import Settings

DEFAULT_PORT = 8765
DEFAULT_HOST = "127.0.0.1"  # this machine only: the page serves the videos and has no login


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `browse` subcommand to the `video-assets` parser."""
    p = sub.add_parser("browse", help="a local web page over a data directory: clips, search, duplicates, videos")
    add_output(p)
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port of the page (default {DEFAULT_PORT})")
    p.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default {DEFAULT_HOST}, this machine only; the page has no login, so "
        "another address serves every indexed video to whoever reaches it)",
    )
    p.set_defaults(func=cmd_browse)


def cmd_browse(args: argparse.Namespace) -> int:
    from video_assets.option_settings import settings_from_options

    return serve(settings_from_options(args.command, output=args.output), host=args.host, port=args.port)


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
