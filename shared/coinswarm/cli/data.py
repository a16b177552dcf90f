"""`coinswarm data download`: a venue's candle history to a candle CSV, resuming where it stopped."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path

from coinswarm.cli.common import err, fail

HELP = """Download closed candles of SYMBOL from a venue's public market data into a candle CSV
(date,open,high,low,close,volume; ISO-8601 UTC), the form `coinswarm backtest` and `run --replay` read.
Run it again to continue: it reads the file's last date and fetches only what follows."""
EXAMPLES = """examples:
  coinswarm data download BTC-USD --venue coinbase --timeframe 1m --since 2024-01-01
  coinswarm data download BTCUSDT --venue binance --timeframe 1h --since 2023-01-01 --until 2024-01-01 --out btc.csv"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("data", help="download market data from a venue", description="Market data files.")
    data_sub = p.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    d = data_sub.add_parser(
        "download",
        help="download candle history to a CSV (resumable)",
        description=HELP,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d.add_argument("symbol", metavar="SYMBOL", help="BTC-USD (Coinbase) or BTCUSDT / BTC-USDT (Binance)")
    d.add_argument("--venue", choices=["coinbase", "binance"], default="coinbase")
    d.add_argument("--timeframe", default="1m", help="candle size: 1m, 5m, 15m, 1h, 1d ... (default 1m)")
    d.add_argument("--since", required=True, help="first day or time, UTC (2024-01-01 or 2024-01-01T12:00:00Z)")
    d.add_argument("--until", help="end, UTC, exclusive (default: now)")
    d.add_argument("--out", metavar="FILE", help="the CSV to write or continue (default SYMBOL-TIMEFRAME.csv)")
    d.add_argument("--base-url", help="another address for the venue's API (a stand-in such as the fake exchange)")
    d.add_argument("--no-progress", action="store_true", help="no progress bar (it shows only on a terminal)")
    d.set_defaults(func=main)


def parse_when(text: str, what: str) -> int:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        fail(f"{what} {text!r} is not a date; write it like 2024-01-01 or 2024-01-01T12:00:00Z")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def main(args: argparse.Namespace) -> int:
    from coinswarm.backtest.progress import Progress
    from coinswarm.marketdata.candle_files import parse_timeframe
    from coinswarm.venues.errors import VenueError

    try:
        tf = parse_timeframe(args.timeframe)
    except ValueError as exc:
        fail(str(exc))
    since = parse_when(args.since, "--since")
    until = parse_when(args.until, "--until") if args.until else int(time.time())
    if until <= since:
        fail("--until must be after --since")
    flat = args.symbol.upper().replace("/", "-").replace("_", "-")
    venue_symbol = flat.replace("-", "") if args.venue == "binance" else flat
    out = Path(args.out or f"{flat.replace('-', '_')}-{args.timeframe}.csv")
    progress = Progress(max(1, (until - since) // tf), label=f"{venue_symbol} {args.timeframe}")
    if args.no_progress:
        progress.enabled = False
    client = _client(args.venue, args.base_url)
    from coinswarm.venues.download import download

    try:
        with client:
            result = download(
                lambda start, end: client.candle_pages(venue_symbol, tf, start, end),
                out,
                timeframe_s=tf,
                since_ts=since,
                until_ts=until,
                on_progress=lambda done, total: progress.update(done),
            )
    except VenueError as exc:
        fail(f"download stopped ({exc}); run the same command again to continue", code=1)
    except ValueError as exc:
        fail(str(exc))
    progress.close()
    resumed = " (continued)" if result.resumed_after is not None else ""
    err(f"{out}: {result.written:,} candles written{resumed}")
    return 0


def _client(venue: str, base_url: str | None):  # type: ignore[no-untyped-def]
    if venue == "binance":
        from coinswarm.venues.binance import BinanceClient

        return BinanceClient(base_url=base_url or "https://api.binance.com")
    from coinswarm.venues.coinbase import CoinbaseClient

    return CoinbaseClient(base_url=base_url or "https://api.coinbase.com")
