"""`coinswarm data download` never leaves a file without candles, and offers every timeframe each venue
serves (issue 10, item 16)."""

from __future__ import annotations

from pathlib import Path

import pytest

from coinswarm.cli.main import main
from coinswarm.config.settings import TIMEFRAMES
from coinswarm.domain.models import Candle
from coinswarm.errors import TemporaryVenueError
from coinswarm.marketdata.candle_files import load_candles, parse_timeframe
from coinswarm.venues.binance import INTERVALS
from coinswarm.venues.coinbase_candles import GRANULARITIES
from coinswarm.venues.download import HEADER, VENUE_TIMEFRAMES, download
from coinswarm.venues.fake import FakeExchange
from coinswarm.venues.fake.faults import Fault


def cli(
    out: Path, venue: str, timeframe: str, base_url: str = "http://127.0.0.1:9", symbol: str = "BTC-USD"
) -> list[str]:
    return [
        "data", "download", symbol, "--venue", venue, "--timeframe", timeframe,
        "--since", "2024-05-31T00:00:00Z", "--until", "2024-06-01T00:00:00Z",
        "--out", str(out), "--base-url", base_url, "--no-progress",
    ]  # fmt: skip


def test_a_timeframe_the_venue_does_not_serve_writes_nothing_and_lists_each_venues(tmp_path, capsys) -> None:
    out = tmp_path / "BTC_USD-4h.csv"
    assert main(cli(out, "coinbase", "4h")) == 2
    err = capsys.readouterr().err
    assert "coinbase does not serve '4h' candles (--venue binance serves it)" in err
    assert "coinbase: 1m, 5m, 15m, 30m, 1h, 2h, 6h, 1d; binance: 1m, 3m, 5m" in err and "Nothing was written" in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_a_venue_that_refuses_before_the_first_candle_leaves_no_file(fake: FakeExchange, tmp_path, capsys) -> None:
    fake.faults.add(Fault("server_error", path="/candles", status=400, times=10))
    out = tmp_path / "BTC_USD-1h.csv"
    assert main(cli(out, "coinbase", "1h", fake.url)) == 1
    assert "no file was written" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_range_without_candles_leaves_no_file(fake: FakeExchange, tmp_path, capsys) -> None:
    out = tmp_path / "BTC_USD-1h.csv"
    args = cli(out, "coinbase", "1h", fake.url)
    args[args.index("--since") + 1], args[args.index("--until") + 1] = (
        "2025-01-01",
        "2025-01-02",
    )  # after the fake's now
    assert main(args) == 1
    assert "coinbase has no 1h candles of BTC-USD" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_venue_leaves_no_file_and_a_later_one_keeps_the_first_pages(tmp_path) -> None:
    out = tmp_path / "X_Y-1m.csv"

    def unreachable(start: int, end: int):  # type: ignore[no-untyped-def]
        raise TemporaryVenueError("binance", "cannot connect to 127.0.0.1:9")
        yield []

    with pytest.raises(TemporaryVenueError):
        download(unreachable, out, timeframe_s=60, since_ts=6000, until_ts=60_000)
    assert list(tmp_path.iterdir()) == []

    def one_page_then_unreachable(start: int, end: int):  # type: ignore[no-untyped-def]
        yield [
            Candle(symbol="X-Y", ts=t, open=1, high=2, low=0.5, close=1.5, volume=3)
            for t in range(start, start + 300, 60)
        ]
        raise TemporaryVenueError("binance", "connection reset")

    with pytest.raises(TemporaryVenueError):
        download(one_page_then_unreachable, out, timeframe_s=60, since_ts=6000, until_ts=60_000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["X_Y-1m.csv"], "no .part left behind"
    assert len(load_candles(out).candles) == 5


def test_a_header_only_file_from_an_earlier_failure_gets_its_candles(tmp_path) -> None:
    out = tmp_path / "X_Y-1m.csv"
    out.write_text(HEADER)

    def pages(start: int, end: int):  # type: ignore[no-untyped-def]
        yield [Candle(symbol="X-Y", ts=t, open=1, high=2, low=0.5, close=1.5, volume=3) for t in range(start, end, 60)]

    result = download(pages, out, timeframe_s=60, since_ts=6000, until_ts=6600)
    assert result.written == 10 and out.read_text().count("date,") == 1
    assert len(load_candles(out).candles) == 10


def test_binance_4h_downloads_and_backtests(fake: FakeExchange, tmp_path, capsys) -> None:
    out = tmp_path / "BTC_USDT-4h.csv"
    args = cli(out, "binance", "4h", fake.url, symbol="BTCUSDT")
    args[args.index("--since") + 1] = "2024-04-01"
    assert main(args) == 0
    assert "366 candles written" in capsys.readouterr().err
    assert load_candles(out).timeframe_s == 4 * 3600
    assert main(["backtest", str(out), "--symbol", "BTC-USDT", "--no-progress", "--json"]) == 0


def test_the_offered_timeframes_are_the_venues_own_and_coinswarm_trades_on_them() -> None:
    assert {parse_timeframe(t) for t in VENUE_TIMEFRAMES["binance"]} == set(INTERVALS)
    assert {parse_timeframe(t) for t in VENUE_TIMEFRAMES["coinbase"]} == set(GRANULARITIES)
    for sizes in VENUE_TIMEFRAMES.values():
        assert all(TIMEFRAMES[t] == parse_timeframe(t) for t in sizes)
    assert "4h" in VENUE_TIMEFRAMES["binance"]


def test_the_help_says_which_timeframes_each_venue_serves(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["data", "download", "--help"])
    out = capsys.readouterr().out
    assert "coinbase  1m 5m 15m 30m 1h 2h 6h 1d" in out
    assert "binance   1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w" in out


def test_a_parquet_download_is_converted_continued_and_backtested(fake: FakeExchange, tmp_path, capsys) -> None:
    out = tmp_path / "BTC_USDT-4h.parquet"
    args = cli(out, "binance", "4h", fake.url, symbol="BTCUSDT")
    args[args.index("--since") + 1] = "2024-04-01"
    args += ["--until", "2024-05-01"]
    assert main(args) == 0
    first = load_candles(out)
    assert first.timeframe_s == 4 * 3600 and len(first.candles) == 30 * 6
    assert not (tmp_path / "BTC_USDT-4h.parquet.csv").exists(), "the work file is gone once converted"
    capsys.readouterr()
    assert main(args) == 0  # the same range again: the Parquet file is continued, and nothing is lost
    said = capsys.readouterr().err
    assert "0 candles written (continued)" in said, said
    both = load_candles(out)
    assert list(both.candles) == list(first.candles) and both.missing == 0
    assert not (tmp_path / "BTC_USDT-4h.parquet.csv").exists()
    assert main(["backtest", str(out), "--symbol", "BTC-USDT", "--no-progress", "--json"]) == 0
