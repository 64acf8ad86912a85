"""A loopback static HTTP server with URL mounts and a single-page-app fallback.

This generalises `miniwob.StaticServer` (one folder on a free port): it serves several folders under URL
prefixes, can bind a given port, and can answer every other GET with one HTML file, which is how a
client-side-routed app is served (`/search?q=x`, `/product/16`, `/config` all load the same page, whose
script reads the path). MiniWoB's server is the case `StaticHTTPServer({"/": html_dir})`; it is left as is
because miniwob.py is not this change's to edit, and can switch over in a one-line change.

The stdlib server is enough: it only hands out a few small files per page load (the apps keep their state in
the browser), and it adds no dependency. Threaded, so concurrent episodes' page loads do not queue.
"""

from __future__ import annotations

import mimetypes
import posixpath
import threading
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from halo_cli.core.errors import HaloError

# What a mount may serve; anything else (Python files, expert solutions next to a site) is a 404.
SERVED_SUFFIXES: frozenset[str] = frozenset({".html", ".js", ".mjs", ".css", ".json", ".svg", ".png", ".txt"})
_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".json": "application/json",
          ".css": "text/css", ".svg": "image/svg+xml", ".html": "text/html", ".txt": "text/plain"}


class PortInUseError(HaloError):
    """The port asked for is taken (another server, or a previous run still holding it)."""


class StaticHTTPServer:
    """Serves `mounts` (URL prefix -> folder) on `host:port` (0: a free port) in a daemon thread.

    A GET whose path falls under no mount, or under a mount but names no file there, gets `fallback`'s bytes
    (when given; else 404), with status 200, as single-page apps expect. Paths never escape their folder.
    """

    def __init__(self, mounts: Mapping[str, Path], *, fallback: Path | None = None, host: str = "127.0.0.1",
                 port: int = 0, name: str = "halo-static-http") -> None:
        self._mounts = sorted(((_prefix(p), Path(d).resolve()) for p, d in mounts.items()),
                              key=lambda m: len(m[0]), reverse=True)
        self._fallback = fallback.read_bytes() if fallback is not None else None
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: a page load fetches a handful of files
            server_version = name  # the Server header: says which halo server answers on a port
            sys_version = ""

            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                server._answer(self, send_body=True)

            def do_HEAD(self) -> None:  # noqa: N802
                server._answer(self, send_body=False)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                pass

        try:
            self._httpd = ThreadingHTTPServer((host, port), Handler)
        except OSError as e:
            raise PortInUseError(f"cannot listen on {host}:{port} ({e.strerror or e})") from None
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name=name, daemon=True)
        self._thread.start()

    @property
    def origin(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # -- requests ---------------------------------------------------------------------------------------
    def _resolve(self, url_path: str) -> Path | None:
        path = posixpath.normpath(unquote(url_path))
        for prefix, folder in self._mounts:
            if path == prefix.rstrip("/") or path.startswith(prefix):
                rel = path[len(prefix):].lstrip("/")
                candidate = (folder / rel).resolve()
                if candidate.is_file() and candidate.is_relative_to(folder) \
                        and candidate.suffix in SERVED_SUFFIXES:
                    return candidate
                return None
        return None

    def _answer(self, handler: BaseHTTPRequestHandler, *, send_body: bool) -> None:
        path = urlsplit(handler.path).path or "/"
        file = self._resolve(path)
        if file is not None:
            body = file.read_bytes()
            ctype = _TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        elif self._fallback is not None and not _looks_like_asset(path):
            body, ctype = self._fallback, "text/html"
        else:
            body, ctype = b"not found", "text/plain"
            handler.send_response(HTTPStatus.NOT_FOUND)
            self._finish(handler, body, ctype, send_body)
            return
        handler.send_response(HTTPStatus.OK)
        self._finish(handler, body, ctype, send_body)

    @staticmethod
    def _finish(handler: BaseHTTPRequestHandler, body: bytes, ctype: str, send_body: bool) -> None:
        charset = "; charset=utf-8" if ctype.startswith(("text/", "application/json")) else ""
        handler.send_header("Content-Type", ctype + charset)
        handler.send_header("Content-Length", str(len(body)))
        # Files never change while a server runs; each episode's fresh context starts with an empty cache.
        handler.send_header("Cache-Control", "max-age=3600")
        handler.end_headers()
        if send_body:
            handler.wfile.write(body)


def _prefix(p: str) -> str:
    p = "/" + p.strip("/")
    return p if p == "/" else p + "/"


def _looks_like_asset(path: str) -> bool:
    """A missing `/x/app.js` is a 404, not the app page: a broken import must fail loudly."""
    return posixpath.splitext(path)[1] in SERVED_SUFFIXES - {".html"}
