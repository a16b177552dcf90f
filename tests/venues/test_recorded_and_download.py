"""Parsing the venues' recorded answers, and `coinswarm data download` resuming against the fake."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from venue_helpers import T0

from coinswarm.cli.main import main
from coinswarm.errors import InsufficientFundsError, OrderNotFoundError
from coinswarm.marketdata.candle_files import load_candles
from coinswarm.venues import binance, coinbase
from coinswarm.venues.download import download, last_bar
from coinswarm.venues.fake import FakeExchange
from coinswarm.venues.models import VenueOrderStatus

EXCHANGE = Path(__file__).resolve().parents[3] / "shared" / "data" / "exchange"


def recorded(name: str, entry: str, fallback: Any) -> Any:
    """The recorded answer from the reference data beside the project, or the given shape without it."""
    path = EXCHANGE / name
    return json.loads(path.read_text())[entry]["httpResponse"] if path.exists() else fallback


CB_ORDER = {
    "order_id": "01b6e467-b659-432f-9490-c7cefe949564",
    "product_id": "ADA-USDT",
    "side": "SELL",
    "order_configuration": {"market_market_ioc": {"base_size": "10"}},
    "client_order_id": "a0f970a2-05fa-4e1f-9517-f6702c33cfd1",
    "status": "FILLED",
    "filled_size": "10",
    "average_filled_price": "0.392",
    "total_fees": "0.03136",
    "created_time": "2023-11-26T10:19:47.423220Z",
}
CB_FILL = {
    "trade_id": "19fc7eee-f4b4-40a7-8104-033da1db5311",
    "order_id": "01b6e467-b659-432f-9490-c7cefe949564",
    "trade_time": "2023-11-26T10:19:47.504Z",
    "price": "0.392",
    "size": "10",
    "commission": "0.03136",
    "product_id": "ADA-USDT",
    "liquidity_indicator": "TAKER",
    "side": "SELL",
}
BN_ORDER = {
    "symbol": "LTCUSDT",
    "orderId": "3397148653",
    "clientOrderId": "x-R4BD3S825806ed40c861260428a48c",
    "price": "0.00000000",
    "origQty": "0.10000000",
    "executedQty": "0.10000000",
    "cummulativeQuoteQty": "9.08000000",
    "status": "FILLED",
    "type": "MARKET",
    "side": "SELL",
    "time": "1679571174472",
}
BN_TRADE = {
    "symbol": "LTCUSDT",
    "id": "309520010",
    "orderId": "3784695242",
    "price": "69.63000000",
    "qty": "0.20000000",
    "commission": "0.01392600",
    "commissionAsset": "USDT",
    "time": "1698138992358",
    "isBuyer": False,
    "isMaker": False,
}
BN_KLINES = [
    [
        1706630400000,
        "43519.34000000",
        "43936.00000000",
        "43171.00000000",
        "43488.71000000",
        "20.55495000",
        1706633999999,
        "891428.42858070",
        3743,
        "10.91428000",
        "473782.95739920",
        "0",
    ]
]


def test_recorded_coinbase_order_and_fill_parse_as_ccxt_parsed_them() -> None:
    orders = recorded("coinbase_advanced_ccxt_static_excerpt.json", "fetchClosedOrders", {"orders": [CB_ORDER]})
    order = coinbase.parse_order(orders["orders"][0])
    assert (order.status, order.kind, order.side.value) == (VenueOrderStatus.FILLED, "market", "sell")
    assert order.base_size == 10 and order.filled_size == 10 and order.average_price == 0.392 and order.fees == 0.03136
    assert order.created_ts == 1700993987  # ccxt: 1700993987423 ms
    fills = recorded("coinbase_advanced_ccxt_static_excerpt.json", "fetchMyTrades", {"fills": [CB_FILL]})
    fill = coinbase.parse_fill(fills["fills"][0])
    assert (fill.price, fill.size, fill.fee, fill.fee_asset, fill.maker) == (0.392, 10, 0.03136, "USDT", False)
    assert fill.ts == 1700993987 and fill.order_id == order.order_id


def test_recorded_binance_order_trade_and_kline_parse_as_ccxt_parsed_them() -> None:
    order = binance.parse_order(recorded("binance_spot_ccxt_static_excerpt.json", "fetchOrder", BN_ORDER))
    assert order.status is VenueOrderStatus.FILLED and order.average_price == pytest.approx(90.8)
    assert order.filled_size == 0.1 and order.limit_price is None and order.created_ts == 1679571174
    created = recorded(
        "binance_spot_ccxt_static_excerpt.json",
        "createOrder",
        {
            **BN_ORDER,
            "status": "NEW",
            "type": "LIMIT",
            "price": "241.00000000",
            "executedQty": "0",
            "transactTime": "1737635557417",
        },
    )
    resting = binance.parse_order(created)
    assert resting.status is VenueOrderStatus.OPEN and resting.limit_price == 241.0 and resting.filled_size == 0
    trade = binance.parse_trade(recorded("binance_spot_ccxt_static_excerpt.json", "fetchMyTrades", [BN_TRADE])[0])
    assert (trade.side.value, trade.price, trade.size, trade.fee, trade.ts) == (
        "sell",
        69.63,
        0.2,
        0.013926,
        1698138992,
    )
    kline = binance.BinanceClient._candle(
        recorded("binance_spot_ccxt_static_excerpt.json", "fetchOHLCV", BN_KLINES)[0], "BTCUSDT", 3600
    )
    assert (kline.ts, kline.open, kline.high, kline.low, kline.close, kline.volume) == (
        1706630400,
        43519.34,
        43936.0,
        43171.0,
        43488.71,
        20.55495,
    )


@pytest.mark.parametrize(
    ("venue", "status", "body", "error"),
    [
        (
            "binance",
            400,
            {"code": -2010, "msg": "Account has insufficient balance for requested action."},
            InsufficientFundsError,
        ),
        ("binance", 400, {"code": -2013, "msg": "Order does not exist."}, OrderNotFoundError),
        ("coinbase", 404, {"error": "NOT_FOUND", "message": "order not found"}, OrderNotFoundError),
    ],
)
def test_venue_error_bodies_map_onto_the_error_tree(venue: str, status: int, body: Any, error: type) -> None:
    response = httpx.Response(status, json=body)
    classify = binance.classify if venue == "binance" else coinbase.classify
    assert isinstance(classify(response, "GET /x"), error)


def test_download_writes_a_candle_file_and_resumes_after_its_last_date(
    fake: FakeExchange, make_binance, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    client = make_binance()
    out = tmp_path / "BTC_USDT-1m.csv"
    since, middle, until = int(T0) - 3000 * 60, int(T0) - 1200 * 60, int(T0)
    first = download(
        lambda s, e: client.candle_pages("BTCUSDT", 60, s, e), out, timeframe_s=60, since_ts=since, until_ts=middle
    )
    assert first.written == 1800 and first.resumed_after is None
    asked = len(fake.requests)
    seen: list[tuple[int, int]] = []
    second = download(
        lambda s, e: client.candle_pages("BTCUSDT", 60, s, e),
        out,
        timeframe_s=60,
        since_ts=since,
        until_ts=until,
        on_progress=lambda d, t: seen.append((d, t)),
    )
    assert second.resumed_after == middle - 60 and second.written == 1200
    assert all(f"startTime={middle * 1000}" in r.query for r in fake.requests[asked:][:1])  # only what was missing
    assert seen[-1] == (3000, 3000)
    loaded = load_candles(out)
    assert len(loaded.candles) == 3000 and loaded.timeframe_s == 60 and not loaded.gaps


def test_an_interrupted_download_leaves_whole_lines_and_a_half_line_is_cut_before_resuming(tmp_path: Path) -> None:
    from coinswarm.domain.models import Candle

    out = tmp_path / "X_Y-1m.csv"

    def pages(start: int, end: int):  # type: ignore[no-untyped-def]
        yield [
            Candle(symbol="X-Y", ts=t, open=1, high=2, low=0.5, close=1.5, volume=3)
            for t in range(start, start + 600, 60)
        ]
        raise KeyboardInterrupt  # the user presses Ctrl-C between pages

    with pytest.raises(KeyboardInterrupt):
        download(pages, out, timeframe_s=60, since_ts=6000, until_ts=60_000)
    assert out.read_text().endswith("\n") and len(load_candles(out).candles) == 10
    with out.open("a") as f:
        f.write("1970-01-01T03:00:00Z,1.0,2")  # a half line from something else
    assert last_bar(out) == 6000 + 9 * 60
    assert len(load_candles(out).candles) == 10


def test_the_cli_downloads_from_the_fake_and_continues(
    fake: FakeExchange, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "btc.csv"
    day = "2024-05-31T23:00:00Z"
    args = [
        "data",
        "download",
        "BTC-USD",
        "--venue",
        "coinbase",
        "--timeframe",
        "5m",
        "--since",
        day,
        "--until",
        "2024-06-01T00:00:00Z",
        "--out",
        str(out),
        "--base-url",
        fake.url,
        "--no-progress",
    ]
    assert main(args) == 0
    assert "12 candles written" in capsys.readouterr().err
    assert main(args) == 0
    assert "0 candles written (continued)" in capsys.readouterr().err
    assert len(load_candles(out).candles) == 12
    assert main([*args[:-1], "--since", "yesterday"]) == 2
    assert "is not a date" in capsys.readouterr().err
