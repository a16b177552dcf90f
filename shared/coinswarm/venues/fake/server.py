"""The fake exchange's HTTP server: stdlib ThreadingHTTPServer on a free loopback port, in a thread.

Faults are applied here, around the venue APIs of `coinbase_api` and `binance_api`: refusals
(429/418/5xx) before the request is carried out; delays, 5xx-after-processing and dropped connections
after. Every request is recorded (`requests`) so tests can check what reached the venue and when.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec

from coinswarm.venues.fake.engine import Engine
from coinswarm.venues.fake.faults import Faults


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Seen:
    """One request as the fake saw it."""

    venue: str
    method: str
    path: str
    query: str
    at: float  # the fake's clock
    outcome: str  # "answered", or the fault applied


class FakeExchange:
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        fee_rate: float = 0.001,
        binance_weight_limit: int = 6000,
        binance_clock_offset_ms: int = 0,
    ) -> None:
        from coinswarm.venues.fake.binance_api import BinanceApi
        from coinswarm.venues.fake.coinbase_api import CoinbaseApi

        self.clock = clock
        self.engine = Engine(clock, fee_rate=fee_rate)
        self.faults = Faults()
        self.requests: list[Seen] = []
        self.coinbase = CoinbaseApi(self)
        self.binance = BinanceApi(self, weight_limit=binance_weight_limit, clock_offset_ms=binance_clock_offset_ms)
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- keys -----------------------------------------------------------------------------------
    def add_coinbase_key(self, name: str, public_key: ec.EllipticCurvePublicKey, *, can_transfer: bool = False) -> None:
        self.coinbase.keys[name] = (public_key, can_transfer)

    def add_binance_key(
        self, api_key: str, secret: str, *, withdrawals: bool = False, universal_transfer: bool = False
    ) -> None:
        self.binance.keys[api_key] = (secret, withdrawals)
        self.binance.universal_transfer[api_key] = universal_transfer

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> FakeExchange:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms delayed-ACK stalls

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                fake._handle(self)

            do_POST = do_GET
            do_DELETE = do_GET

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-exchange", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeExchange:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- one request ----------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        path, query = parts.path, parts.query
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        method = h.command
        api = self.coinbase if path.startswith("/api/v3/brokerage") else self.binance
        now = self.clock()
        self.engine.poll()  # resting stops the market reached since the last request trigger now

        refusal = self.faults.take(method, path, ("rate_limit", "ban", "server_error"))
        if refusal is not None and not (refusal.kind == "server_error" and refusal.process):
            self._seen(api.name, method, path, query, now, refusal.kind)
            if refusal.kind == "server_error":
                self._send(h, Reply(refusal.status, {"error": "INTERNAL", "message": "fake: injected server error"}))
            else:
                status = 418 if refusal.kind == "ban" else 429
                self._send(h, api.throttled(status, refusal.retry_after))
            return
        pre = api.gate(method, path, query, body, h.headers)  # auth, weight: a Reply to refuse, None to go on
        if pre is not None:
            self._seen(api.name, method, path, query, now, f"refused {pre.status}")
            self._send(h, pre)
            return
        try:
            reply = api.route(method, path, query, body, h.headers)
        except Exception as exc:  # a bug in the fake must show, not hang the client
            reply = Reply(500, {"error": "FAKE_BUG", "message": f"{type(exc).__name__}: {exc}"})
        late = self.faults.take(method, path, ("delay", "drop"))
        if refusal is not None:  # a 5xx after the request was carried out
            self._seen(api.name, method, path, query, now, "server_error after processing")
            self._send(h, Reply(refusal.status, {"error": "INTERNAL", "message": "fake: injected server error"}))
            return
        if late is not None and late.kind == "drop":
            self._seen(api.name, method, path, query, now, "drop")
            h.close_connection = True
            with contextlib.suppress(OSError):
                h.connection.shutdown(socket.SHUT_RDWR)
            return
        if late is not None and late.kind == "delay":
            self._seen(api.name, method, path, query, now, "delay")
            self._stop.wait(late.delay_s)
        else:
            self._seen(api.name, method, path, query, now, "answered")
        api.decorate(reply)
        self._send(h, reply)

    def _seen(self, venue: str, method: str, path: str, query: str, at: float, outcome: str) -> None:
        self.requests.append(Seen(venue, method, path, query, at, outcome))

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, reply: Reply) -> None:
        data = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        try:
            h.send_response(reply.status)
            h.send_header("Content-Type", "application/json" if not isinstance(reply.body, bytes) else "text/plain")
            h.send_header("Content-Length", str(len(data)))
            for k, v in reply.headers.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
        except OSError:
            pass  # the client gave up (a timeout): nothing to answer
