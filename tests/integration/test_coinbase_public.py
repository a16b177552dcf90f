"""The Coinbase public market data client against a real local HTTP server answering in Coinbase's shapes.

Nothing here reaches the internet: the server listens on 127.0.0.1, and the one test about name
resolution replaces the resolver.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from coinswarm.errors import MarketDataUnavailableError
from coinswarm.marketdata import coinbase_public
from coinswarm.marketdata.coinbase_public import CoinbasePublicMarketData
from coinswarm.venues.coinbase_candles import PAGE_BARS

EXCERPT = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "exchange" / "coinbase_advanced_ccxt_static_excerpt.json"
)
# A copy of the recorded ticker answer, for a checkout without the shared reference data.
TICKER_INLINE: dict[str, Any] = {
    "trades": [
        {
            "trade_id": "635541194",
            "product_id": "BTC-USDC",
            "price": "66363.03",
            "size": "0.03720194",
            "time": "2024-04-24T09:56:38.063595Z",
            "side": "BUY",
            "bid": "",
            "ask": "",
        }
    ],
    "best_bid": "66367.58",
    "best_ask": "66367.59",
}
TRADE_TS = 1_713_952_598  # 2024-04-24T09:56:38Z
SECONDS = {"ONE_MINUTE": 60, "FIVE_MINUTE": 300, "FIFTEEN_MINUTE": 900, "ONE_HOUR": 3600, "ONE_DAY": 86400}
T0 = 1_700_000_000 - 1_700_000_000 % 86400  # 2023-11-14T00:00:00Z
CANDLES_PATH = "/api/v3/brokerage/market/products/BTC-USD/candles"


def ticker_body() -> dict[str, Any]:
    if EXCERPT.exists():
        body: dict[str, Any] = json.loads(EXCERPT.read_text())["fetchTicker"]["httpResponse"]
        return body
    return TICKER_INLINE


def price_at(ts: int) -> float:
    return 100.0 + (ts // 60) % 17


@dataclass
class Venue:
    """What the fake venue answers, and what it was asked."""

    open_bar_ts: int = T0 + 10**7  # the bucket still in progress: served, like Coinbase does
    status: int | None = None
    body: bytes | None = None
    delay_s: float = 0.0
    candle_patch: dict[str, Any] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def candles(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        tf = SECONDS[params["granularity"]]
        start, end, limit = int(params["start"]), int(params["end"]), int(params.get("limit", "350"))
        if limit > 350:
            return 400, {"error": "INVALID_ARGUMENT", "message": "limit must be at most 350"}
        first = -(-start // tf) * tf
        stamps = [ts for ts in range(first, end + 1, tf) if ts <= self.open_bar_ts]  # `end` inclusive
        if len(stamps) > limit:
            return 400, {"error": "INVALID_ARGUMENT", "message": "number of candles requested exceeds the limit"}
        rows = []
        for ts in reversed(stamps):  # newest first, as Coinbase answers
            p = price_at(ts)
            row = {"start": str(ts), "low": str(p - 1), "high": str(p + 1), "open": str(p), "close": str(p + 0.5)}
            row["volume"] = "12.5"
            rows.append(row | self.candle_patch)
        return 200, {"candles": rows}


class Handler(BaseHTTPRequestHandler):
    server: Server

    def do_GET(self) -> None:
        venue = self.server.venue
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query))
        venue.requests.append((url.path, params))
        if venue.delay_s:
            time.sleep(venue.delay_s)
        m = re.fullmatch(r"/api/v3/brokerage/market/products/([A-Z0-9-]+)/(candles|ticker)", url.path)
        if m is None:
            self.reply(404, json.dumps({"error": "NOT_FOUND", "message": "Not Found"}).encode())
        elif venue.status is not None:
            message = "Too many requests" if venue.status == 429 else "Internal error"
            self.reply(venue.status, json.dumps({"error": "ERROR", "message": message}).encode())
        elif venue.body is not None:
            self.reply(200, venue.body, "text/html")
        elif m.group(2) == "ticker":
            self.reply(200, json.dumps(ticker_body()).encode())
        else:
            status, body = venue.candles(params)
            self.reply(status, json.dumps(body).encode())

    def reply(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.venue = Venue()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and left: nothing to report


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    thread = threading.Thread(target=srv.serve_forever, args=(0.02,), name="fake coinbase", daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


@pytest.fixture
def client(server: Server) -> Iterator[CoinbasePublicMarketData]:
    host, port = server.server_address[:2]
    with CoinbasePublicMarketData(f"http://{host!s}:{port}", connect_timeout_s=1.0, read_timeout_s=2.0) as c:
        yield c


def candle_requests(server: Server) -> list[dict[str, str]]:
    return [params for path, params in server.venue.requests if path.endswith("/candles")]


# ------------------------------------------------------------------------------------------- candles


def test_parses_candles_and_sorts_them_oldest_first(server: Server, client: CoinbasePublicMarketData) -> None:
    got = client.fetch_candles("BTC-USD", 60, since_ts=T0, until_ts=T0 + 600)
    assert [c.ts for c in got] == [T0 + 60 * k for k in range(10)]
    first = got[0]
    p = price_at(T0)
    assert (first.symbol, first.timeframe_s) == ("BTC-USD", 60)
    assert (first.open, first.high, first.low, first.close, first.volume) == (p, p + 1, p - 1, p + 0.5, 12.5)
    assert candle_requests(server) == [
        {"start": str(T0), "end": str(T0 + 600), "granularity": "ONE_MINUTE", "limit": "11"}
    ]
    assert client.label.startswith("coinbase live")


def test_drops_the_candle_still_open(server: Server, client: CoinbasePublicMarketData) -> None:
    server.venue.open_bar_ts = T0 + 600  # the venue serves this bucket although it closes at T0 + 660
    got = client.fetch_candles("BTC-USD", 60, since_ts=T0, until_ts=T0 + 630)
    assert got[-1].ts == T0 + 540 and all(c.close_ts <= T0 + 630 for c in got)
    server.venue.open_bar_ts = T0 + 660
    assert client.fetch_candles("BTC-USD", 60, since_ts=T0, until_ts=T0 + 660)[-1].ts == T0 + 600


def test_pages_across_several_requests(server: Server, client: CoinbasePublicMarketData) -> None:
    tf, n = 300, 2 * PAGE_BARS + 100
    got = client.fetch_candles("BTC-USD", tf, since_ts=T0, until_ts=T0 + n * tf)
    assert [c.ts for c in got] == [T0 + tf * k for k in range(n)]
    assert candle_requests(server) == [
        {"start": str(T0), "end": str(T0 + 300 * tf), "granularity": "FIVE_MINUTE", "limit": "301"},
        {"start": str(T0 + 300 * tf), "end": str(T0 + 600 * tf), "granularity": "FIVE_MINUTE", "limit": "301"},
        {"start": str(T0 + 600 * tf), "end": str(T0 + 700 * tf), "granularity": "FIVE_MINUTE", "limit": "101"},
    ]


def test_since_none_fetches_the_most_recent_closed_candles(server: Server, client: CoinbasePublicMarketData) -> None:
    until = T0 + 86400 + 17  # mid-bar
    got = client.fetch_candles("BTC-USD", 60, since_ts=None, until_ts=until)
    assert len(got) == client.recent_limit == 500
    assert got[-1].ts == T0 + 86400 - 60 and got[0].ts == T0 + 86400 - 500 * 60
    assert [int(p["limit"]) for p in candle_requests(server)] == [301, 201]


def test_since_is_rounded_up_to_a_bucket(server: Server, client: CoinbasePublicMarketData) -> None:
    got = client.fetch_candles("BTC-USD", 60, since_ts=T0 + 1, until_ts=T0 + 300)
    assert [c.ts for c in got] == [T0 + 60, T0 + 120, T0 + 180, T0 + 240]
    assert client.fetch_candles("BTC-USD", 60, since_ts=T0 + 300, until_ts=T0 + 300) == []
    assert len(candle_requests(server)) == 1  # the empty range asked nothing


def test_gaps_in_the_answer_stay_gaps(server: Server, client: CoinbasePublicMarketData) -> None:
    server.venue.open_bar_ts = T0 + 240  # no trades after this bucket: the venue sends no candles
    got = client.fetch_candles("BTC-USD", 60, since_ts=T0, until_ts=T0 + 600)
    assert [c.ts for c in got] == [T0, T0 + 60, T0 + 120, T0 + 180, T0 + 240]


def test_an_unsupported_timeframe_is_a_programming_error(client: CoinbasePublicMarketData) -> None:
    with pytest.raises(ValueError, match="not 120 s"):
        client.fetch_candles("BTC-USD", 120, since_ts=T0, until_ts=T0 + 600)


# ------------------------------------------------------------------------------------------- failures


@pytest.mark.parametrize("status", [429, 500, 503])
def test_http_errors_surface_with_status_and_path(
    server: Server, client: CoinbasePublicMarketData, status: int
) -> None:
    server.venue.status = status
    with pytest.raises(MarketDataUnavailableError) as info:
        client.fetch_candles("BTC-USD", 60, since_ts=T0, until_ts=T0 + 600)
    message = str(info.value)
    assert f"HTTP {status}" in message and CANDLES_PATH in message, message
    assert "start=" not in message
    assert info.value.reason == message
    if status == 429:
        assert "rate limited" in message and "Too many requests" in message


def test_an_unknown_path_is_a_404(server: Server, client: CoinbasePublicMarketData) -> None:
    with pytest.raises(MarketDataUnavailableError, match="HTTP 404"):
        client.fetch_candles("BTC/USD", 60, since_ts=T0, until_ts=T0 + 600)


def test_malformed_json_surfaces(server: Server, client: CoinbasePublicMarketData) -> None:
    server.venue.body = b"<html>maintenance</html>"
    with pytest.raises(MarketDataUnavailableError, match=f"not JSON.*{CANDLES_PATH}|{CANDLES_PATH}.*not JSON"):
        client.fetch_candles("BTC-USD", 60, since_ts=T0, until_ts=T0 + 600)
    with pytest.raises(MarketDataUnavailableError, match="not JSON"):
        client.quotes("BTC-USD", TRADE_TS)


def test_json_of_the_wrong_shape_surfaces(server: Server, client: CoinbasePublicMarketData) -> None:
    server.venue.body = b'{"products": []}'
    with pytest.raises(MarketDataUnavailableError, match="without a list of candles"):
        client.fetch_candles("BTC-USD", 60, since_ts=T0, until_ts=T0 + 600)


@pytest.mark.parametrize(
    ("patch", "reason"),
    [({"close": "abc"}, "ValueError"), ({"high": "1"}, "below low"), ({"start": None}, "TypeError")],
)
def test_a_malformed_candle_surfaces(
    server: Server, client: CoinbasePublicMarketData, patch: dict[str, Any], reason: str
) -> None:
    server.venue.candle_patch = patch
    with pytest.raises(MarketDataUnavailableError, match=f"malformed candle for BTC-USD.*{reason}"):
        client.fetch_candles("BTC-USD", 60, since_ts=T0, until_ts=T0 + 600)


def test_a_slow_answer_times_out(server: Server) -> None:
    host, port = server.server_address[:2]
    server.venue.delay_s = 1.0
    with CoinbasePublicMarketData(f"http://{host!s}:{port}", read_timeout_s=0.2) as slow:
        started = time.perf_counter()
        with pytest.raises(MarketDataUnavailableError, match=r"no answer within 0\.2 s"):
            slow.fetch_candles("BTC-USD", 60, since_ts=T0, until_ts=T0 + 600)
        assert time.perf_counter() - started < 1.0


# ------------------------------------------------------------------------------------------- quotes


def test_quotes_the_last_trade(server: Server, client: CoinbasePublicMarketData) -> None:
    (quote,) = client.quotes("BTC-USD", TRADE_TS + 30)
    assert (quote.venue, quote.symbol, quote.price, quote.ts) == ("coinbase", "BTC-USD", 66363.03, TRADE_TS)
    assert server.venue.requests[-1] == ("/api/v3/brokerage/market/products/BTC-USD/ticker", {"limit": "1"})
    # a clock behind the venue's: the quote is never stamped in the future
    assert client.quotes("BTC-USD", TRADE_TS - 5)[0].ts == TRADE_TS - 5


def test_quotes_fall_back_to_the_middle_of_the_book(server: Server, client: CoinbasePublicMarketData) -> None:
    server.venue.body = json.dumps({"trades": [], "best_bid": "99.0", "best_ask": "101.0"}).encode()
    (quote,) = client.quotes("BTC-USD", 1000)
    assert (quote.price, quote.ts) == (100.0, 1000)
    server.venue.body = json.dumps({"trades": [], "best_bid": "", "best_ask": ""}).encode()
    with pytest.raises(MarketDataUnavailableError, match="no price for BTC-USD"):
        client.quotes("BTC-USD", 1000)


# ------------------------------------------------------------------------------------------- probe


def test_probe_passes_when_the_venue_answers(server: Server, client: CoinbasePublicMarketData) -> None:
    client.probe("BTC-USD")
    assert server.venue.requests[-1][0].endswith("/BTC-USD/ticker")


def test_probe_resolves_a_host_name(server: Server) -> None:
    port = server.server_address[1]
    with CoinbasePublicMarketData(f"http://localhost:{port}") as named:
        named.probe("BTC-USD")


@pytest.mark.parametrize(("status", "body"), [(500, None), (None, b"not json")])
def test_probe_fails_on_errors_and_nonsense(
    server: Server, client: CoinbasePublicMarketData, status: int | None, body: bytes | None
) -> None:
    server.venue.status, server.venue.body = status, body
    with pytest.raises(MarketDataUnavailableError):
        client.probe("BTC-USD")


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # nothing listens there any more


def test_probe_against_a_closed_port_fails_fast() -> None:
    with CoinbasePublicMarketData(f"http://127.0.0.1:{closed_port()}") as offline:
        started = time.perf_counter()
        with pytest.raises(MarketDataUnavailableError, match="cannot connect") as info:
            offline.probe("BTC-USD")
        elapsed = time.perf_counter() - started
    assert elapsed < 2.0, f"probe took {elapsed:.2f} s"
    assert "/ticker" in str(info.value)


def test_probe_gives_up_on_a_resolver_that_does_not_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def hanging(*args: Any, **kwargs: Any) -> Any:
        release.wait(10)
        raise socket.gaierror(-3, "Temporary failure in name resolution")

    monkeypatch.setattr(coinbase_public.socket, "getaddrinfo", hanging)
    try:
        with CoinbasePublicMarketData("https://api.example.invalid", connect_timeout_s=0.3) as offline:
            started = time.perf_counter()
            with pytest.raises(MarketDataUnavailableError, match=r"did not resolve within 0\.3 s"):
                offline.probe("BTC-USD")
            assert time.perf_counter() - started < 2.0
    finally:
        release.set()


def test_probe_reports_a_name_that_does_not_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(coinbase_public.socket, "getaddrinfo", failing)
    with (
        CoinbasePublicMarketData("https://api.example.invalid") as offline,
        pytest.raises(MarketDataUnavailableError, match=r"api\.example\.invalid does not resolve"),
    ):
        offline.probe("BTC-USD")
