"""A fake Hugging Face hub over real HTTP, so the real `snapshot_download` transfers files.

It serves what huggingface_hub 2.4 asks for when it downloads a pinned commit into a
`local_dir`: the recursive tree listing (`/api/models/{repo}/tree/{rev}`) and the file
itself (`HEAD`/`GET /{repo}/resolve/{rev}/{path}`), from the in-memory repos of
`test_hub.make_repos()`. Every file is served as an LFS file (sha256 etag), as
`test_hub.FakeApi.list_repo_tree` describes it, so `verify_repo_checksums` agrees.

`cut` makes one transfer stop midway: the server sends the headers of the whole
file and `cut.sent_bytes` of its body, then calls `cut.then()` (which kills the
downloading process) before it closes the connection. The kill thus lands while
huggingface_hub is inside its transfer, with part of the file written.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_TREE = re.compile(r"/api/models/(?P<repo>[^/]+/[^/]+)/tree/(?P<rev>[0-9a-f]{40})(/.*)?")
_RESOLVE = re.compile(r"/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[0-9a-f]{40})/(?P<path>.+)")


@dataclass
class Cut:
    path: str  # repo file whose transfer is cut
    sent_bytes: int  # how much of its body goes out first
    then: Callable[[], None]  # called after those bytes, before the connection closes


@dataclass
class FakeHub:
    url: str
    cut: Cut | None = None
    served: list[str] | None = None  # paths whose whole body went out


def _handler(files_of: Callable[[str, str], dict[str, bytes] | None], hub: FakeHub) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet test output
            pass

        def _send(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if body:
                self.wfile.write(body)

        def _file(self) -> tuple[str, str, bytes] | None:
            match = _RESOLVE.fullmatch(self.path.split("?")[0])
            files = files_of(match["repo"], match["rev"]) if match else None
            if match is None or files is None or match["path"] not in files:
                self._send(404, {"Content-Length": "0", "X-Error-Code": "EntryNotFound"})
                return None
            return match["rev"], match["path"], files[match["path"]]

        def _file_headers(self, rev: str, data: bytes) -> dict[str, str]:
            sha = hashlib.sha256(data).hexdigest()
            return {
                "Content-Length": str(len(data)),
                "ETag": f'"{sha}"',
                "X-Linked-Etag": f'"{sha}"',
                "X-Linked-Size": str(len(data)),
                "X-Repo-Commit": rev,
            }

        def do_HEAD(self) -> None:
            found = self._file()
            if found is not None:
                self._send(200, self._file_headers(found[0], found[2]))

        def do_GET(self) -> None:
            tree = _TREE.fullmatch(self.path.split("?")[0])
            if tree is not None:
                files = files_of(tree["repo"], tree["rev"]) or {}
                listing = [
                    {
                        "type": "file",
                        "path": path,
                        "size": len(data),
                        "oid": "0" * 40,
                        "lfs": {
                            "oid": hashlib.sha256(data).hexdigest(),
                            "size": len(data),
                            "pointerSize": 134,
                        },
                    }
                    for path, data in files.items()
                ]
                body = json.dumps(listing).encode()
                self._send(200, {"Content-Type": "application/json", "Content-Length": str(len(body))}, body)
                return
            if not self.path.split("?")[0].count("/resolve/"):
                self._send(404, {"Content-Length": "0"})  # e.g. huggingface_hub's agent-harness list
                return
            found = self._file()
            if found is None:
                return
            rev, path, data = found
            cut = hub.cut
            if cut is not None and cut.path == path:
                self._send(200, self._file_headers(rev, data), data[: cut.sent_bytes])
                self.wfile.flush()
                cut.then()
                self.close_connection = True
                return
            self._send(200, self._file_headers(rev, data), data)
            if hub.served is not None:
                hub.served.append(path)

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A client killed mid-request resets its connections: expected here, not a server fault.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


@contextmanager
def serve(files_of: Callable[[str, str], dict[str, bytes] | None]) -> Iterator[FakeHub]:
    """A running fake hub on 127.0.0.1; `files_of(repo_id, commit)` gives a commit's files."""
    hub = FakeHub(url="", served=[])
    server = _Server(("127.0.0.1", 0), _handler(files_of, hub))
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="fake-hub", daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
