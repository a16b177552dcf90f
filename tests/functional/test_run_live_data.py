"""`coinswarm run` on live data: against a local server that speaks Coinbase's public candle API, and
falling back at once to the synthetic series when Coinbase cannot be reached. No internet involved."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest

from coinswarm.cli.main import main
from coinswarm.marketdata.synthetic import synthetic_candles
from local_http import STOP_POLL_S

GRANULARITY_S = {"ONE_MINUTE": 60, "FIVE_MINUTE": 300}


class FakeCoinbase(BaseHTTPRequestHandler):
    """Candles (newest first, the bar in progress included, as Coinbase answers) and a ticker."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query))
        product = url.path.split("/")[-2]
        if url.path.endswith("/candles"):
            tf = GRANULARITY_S[params["granularity"]]
            now = int(time.time())
            n = 400
            series = synthetic_candles(product, n, seed=3, start_ts=(now // tf) * tf - (n - 1) * tf, timeframe_s=tf)
            start, end = int(params["start"]), int(params["end"])
            rows = [
                {
                    "start": str(c.ts),
                    "low": str(c.low),
                    "high": str(c.high),
                    "open": str(c.open),
                    "close": str(c.close),
                    "volume": str(c.volume),
                }
                for c in reversed(series)
                if start <= c.ts <= end
            ]
            body = {"candles": rows}
        elif url.path.endswith("/ticker"):
            body = {
                "trades": [
                    {
                        "trade_id": "1",
                        "product_id": product,
                        "price": "101.5",
                        "size": "1",
                        "time": "2024-04-24T09:56:38.063595Z",
                        "side": "BUY",
                        "bid": "",
                        "ask": "",
                    }
                ],
                "best_bid": "101.4",
                "best_ask": "101.6",
            }
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_coinbase() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeCoinbase)
    thread = threading.Thread(target=server.serve_forever, args=(STOP_POLL_S,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_live_paper_cycle_on_coinbase_shaped_data(fake_coinbase, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COINSWARM_MARKET__COINBASE_URL", fake_coinbase)
    state = tmp_path / "live.db"
    assert main(["run", "--cycles", "1", "--state", str(state)]) == 0
    out = capsys.readouterr().out
    assert "SYNTHETIC" not in out.split("\n")[0]
    assert "coinbase" in out.lower()
    lines = [line for line in out.splitlines() if " | " in line]
    assert [line.split()[2] for line in lines] == ["BTC-USD", "ETH-USD", "SOL-USD"]
    # 300 warm-up candles were fetched and scored: every agent but arbitrage is warm and voting
    assert all("trend --" not in line for line in lines)
    assert main(["ledger", "verify", "--state", str(state)]) == 0


def test_unreachable_coinbase_falls_back_to_synthetic_and_says_so(tmp_path, monkeypatch, capsys) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COINSWARM_MARKET__COINBASE_URL", f"http://127.0.0.1:{closed}")
    assert main(["run", "--cycles", "3"]) == 0
    out = capsys.readouterr().out
    assert "SYNTHETIC series (seed 7), not market data" in out
    assert "note: Coinbase unreachable" in out
    assert "state .coinswarm/synthetic.db (fresh)" in out


def test_coinbase_only_refuses_to_fall_back(tmp_path, monkeypatch, capsys) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COINSWARM_MARKET__COINBASE_URL", f"http://127.0.0.1:{closed}")
    monkeypatch.setenv("COINSWARM_MARKET__SOURCE", "coinbase")
    assert main(["run", "--cycles", "1"]) == 2
    assert "allows no fallback" in capsys.readouterr().err
