"""push_receiver on one machine: the receiver served by the standard library's threading HTTP server.

`serve(handle, port=...)` serves any `HttpRequest -> HttpResponse` function (the tests also serve the
Lambda handler through it, as a Function URL would). `local_receiver(app, secrets)` is the receiver of
a local mesh: it consumes every topic and hands what the stage returns to the in-process bus, so a push
runs the rest of the cycle here. Run it with

    COINSWARM_PUSH_SECRET=... python -m functions.push_receiver.local --port 8787
"""

from __future__ import annotations

import argparse
import os
import re
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from coinswarm.http.json_http import HttpRequest, HttpResponse, error
from coinswarm.http.push_receiver import PushReceiver
from coinswarm.http.push_wire import CONSUMERS, MAX_BODY_BYTES, PUSH_SECRET_ENV
from coinswarm.http.replay_cache import seen_signatures
from coinswarm.http.signing import HmacAuthenticator, rotation
from coinswarm.wiring.bootstrap import App

Handle = Callable[[HttpRequest], HttpResponse]
SOCKET_TIMEOUT_S = 10.0
_DIGITS = re.compile(r"[0-9]{1,18}")


def content_length(values: Sequence[str]) -> int | HttpResponse:
    """The body's length from the request's Content-Length header(s) (none: no body), or the 400 that
    refuses a value that is not one whole number of bytes (negative, not a number, or given twice
    with different values)."""
    if not values:
        return 0
    if len(set(values)) > 1 or not _DIGITS.fullmatch(values[0].strip()):
        return error(
            400,
            "bad_content_length",
            "Content-Length must be one whole number of bytes, at least 0; send the body's length once",
        )
    return int(values[0].strip())


def local_receiver(app: App, secrets: Sequence[str], *, shared_replay_cache: bool = True) -> PushReceiver:
    """Every topic consumed here; outputs run on through the local mesh's in-process bus."""
    from coinswarm.wiring.mesh import LocalMesh
    from functions.local import local_handlers

    mesh = LocalMesh(local_handlers(app))
    seen = seen_signatures(app.clock, app.coordination if shared_replay_cache else None)
    auth = HmacAuthenticator(secrets, app.clock, seen=seen, window_s=app.settings.push.window_s)
    return PushReceiver(auth, app.stages.routes(), CONSUMERS, mesh.bus)


def serve(
    handle: Handle,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    max_body_bytes: int = MAX_BODY_BYTES,
    socket_timeout_s: float = SOCKET_TIMEOUT_S,
) -> ThreadingHTTPServer:
    """Serve `handle` on a daemon thread; `server.server_address` says the port. Stop with shutdown().

    A body is read only as far as a valid Content-Length says, and at most one byte past
    `max_body_bytes` (the handler then refuses it); a connection on which nothing moves for
    `socket_timeout_s` is closed."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = socket_timeout_s  # each read and write on the connection: a silent client is dropped

        def _any(self) -> None:
            length = content_length(self.headers.get_all("Content-Length") or [])
            if self.headers.get("Transfer-Encoding"):
                length = error(411, "length_required", "send the body with a Content-Length, not chunked")
            if isinstance(length, HttpResponse):
                self.close_connection = True  # the body's end is unknown: nothing more is read from it
                self._send(length)
                return
            body = self.rfile.read(min(length, max_body_bytes + 1))
            if length > max_body_bytes:  # one byte over is enough to refuse; do not read the rest
                self.close_connection = True
            path = self.path.split("?", 1)[0]
            self._send(handle(HttpRequest(self.command, path, dict(self.headers.items()), body)))

        def _send(self, reply: HttpResponse) -> None:
            data = reply.body_bytes()
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = _any

        def log_message(self, format: str, *args: object) -> None:
            pass  # the receiver logs what matters; the access log would repeat it on stderr

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name=f"push-receiver-{port}", daemon=True).start()
    return server


def main(argv: Sequence[str] | None = None) -> None:
    from coinswarm.config import load_settings
    from coinswarm.wiring.cloud import container_app

    parser = argparse.ArgumentParser(description="serve the push receiver of a local mesh")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    args = parser.parse_args(argv)
    secrets = rotation(os.environ.get(PUSH_SECRET_ENV, ""))
    if not secrets:
        raise SystemExit(
            "set COINSWARM_PUSH_SECRET (make one: python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    receiver = local_receiver(container_app(load_settings()), secrets)
    server = serve(receiver.handle, host=args.host, port=args.port)
    print(f"push receiver on http://{args.host}:{server.server_address[1]}/ (Ctrl-C stops it)")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
