"""A local HTTP server for the framework-free endpoints (`coinswarm serve`, the browser test): each request
becomes an `HttpRequest` for `route(request)`, whose `HttpResponse` is written back. Requests are handled
one at a time (a lock around `route`): the local stores are a single SQLite file, and a rehearsal needs no
more. Bound to 127.0.0.1 by default; the body is read up to `max_body_bytes` (413 past it)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from coinswarm.http.json_http import HttpRequest, HttpResponse

STOP_POLL_S = 0.05  # how often the background server looks for stop()

logger = logging.getLogger(__name__)

Route = Callable[[HttpRequest], HttpResponse]


class LocalServer:
    def __init__(self, route: Route, *, host: str = "127.0.0.1", port: int = 0, max_body_bytes: int = 65_536) -> None:
        self.route = route
        self.max_body_bytes = max_body_bytes
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        assert isinstance(host, str)
        return f"http://{host}:{port}"

    def start(self) -> LocalServer:
        # polled every STOP_POLL_S for stop(): the default half second is what each stop waited
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(STOP_POLL_S,), name="coinswarm-serve", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> HttpResponse:
        request = HttpRequest(method, urlsplit(target).path or "/", headers, body)
        with self.lock:
            try:
                return self.route(request)
            except Exception as exc:
                logger.error("serve: unexpected %s", type(exc).__name__, exc_info=True)
                return HttpResponse(500, {"error": "internal_error", "detail": "see the server's log"})


def _handler(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "coinswarm-serve"

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > server.max_body_bytes:
                reply: HttpResponse = HttpResponse(413, {"error": "body_too_large", "detail": "the body is too large"})
            else:
                body = self.rfile.read(length) if length else b""
                reply = server.answer(self.command, self.path, dict(self.headers.items()), body)
            data = reply.body_bytes()
            self.send_response(reply.status)
            headers: dict[str, Any] = {"Content-Type": "application/json", **reply.headers}
            for k, v in headers.items():
                self.send_header(k, str(v))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _any

        def log_message(self, format: str, *args: Any) -> None:
            logger.info("serve: %s", format % args)

    return Handler


def get_json(url: str, token: str) -> Any:
    """GET `url` with a bearer token (what the status page does), as JSON: a small client for tests and tools."""
    import httpx

    return json.loads(httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10).content)
