"""A PEP 503 package index on 127.0.0.1 serving the wheels of one directory, optionally behind a token.

``with LoopbackIndex(folder, token="t") as index:`` serves ``index.url`` (``.../simple``) until the block ends.
With a token, every request needs HTTP basic auth with that token as the password (any user); the users seen
are recorded in ``index.users``, so a test can tell that the token reached the installer. With
``hashes=True`` each link carries its file's ``#sha256=`` fragment, as public indexes give it.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class LoopbackIndex:
    def __init__(self, folder: Path, token: str | None = None, *, hashes: bool = False) -> None:
        self.folder = folder
        self.token = token
        self.hashes = hashes
        self.users: list[str] = []
        self.requests: list[str] = []
        index = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def do_HEAD(self) -> None:
                self.head_only = True
                self.do_GET()

            def do_GET(self) -> None:
                index.requests.append(self.path)
                if index.token is not None and not index.authorised(self.headers.get("Authorization", "")):
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="loopback"')
                    self.end_headers()
                    return
                path = unquote(self.path.split("?", 1)[0])
                if m := re.fullmatch(r"/simple/([^/]+)/?", path):
                    self.reply(index.page(m.group(1)), "text/html")
                elif m := re.fullmatch(r"/files/([^/]+)", path):
                    file = index.folder / m.group(1)
                    self.reply(file.read_bytes() if file.is_file() else None, "application/octet-stream")
                else:
                    self.reply(None, "text/plain")

            def reply(self, body: bytes | str | None, kind: str) -> None:
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = body.encode() if isinstance(body, str) else body
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if not getattr(self, "head_only", False):
                    self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/simple"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def authorised(self, header: str) -> bool:
        if not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        self.users.append(user)
        return password == self.token

    def page(self, project: str) -> str | None:
        files = [
            p.name for p in sorted(self.folder.iterdir()) if _normalize(p.name.split("-")[0]) == _normalize(project)
        ]
        if not files:
            return None
        links = "".join(f'<a href="/files/{html.escape(f)}{self._fragment(f)}">{html.escape(f)}</a>\n' for f in files)
        return f"<!DOCTYPE html><html><body>\n{links}</body></html>\n"

    def _fragment(self, name: str) -> str:
        return f"#sha256={hashlib.sha256((self.folder / name).read_bytes()).hexdigest()}" if self.hashes else ""

    def __enter__(self) -> LoopbackIndex:
        self.thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.server.shutdown()
        self.server.server_close()
