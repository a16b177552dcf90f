"""`coinswarm data download`: a venue's candle history to a candle CSV, resuming where it stopped."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path

from coinswarm.cli.common import err, fail
from coinswarm.venues.download import VENUE_TIMEFRAMES

SUPPORTED = "\n".join(f"  {venue:<9} {' '.join(sizes)}" for venue, sizes in VENUE_TIMEFRAMES.items())
HELP = f"""Download closed candles of SYMBOL from a venue's public market data into a candle CSV
(date,open,high,low,close,volume; ISO-8601 UTC), the form `coinswarm backtest` and `run --replay` read.
Run it again to continue: it reads the file's last date and fetches only what follows. Everything is
checked before anything is written, and a file appears only with its first candles: a venue that
refuses or cannot be reached leaves no file behind.

timeframes each venue serves (--timeframe):
{SUPPORTED}"""
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
    d.add_argument("--timeframe", default="1m", help="candle size, one the venue serves (listed above; default 1m)")
    d.add_argument("--since", required=True, help="first day or time, UTC (2024-01-01 or 2024-01-01T12:00:00Z)")
    d.add_argument("--until", help="end, UTC, exclusive (default: now)")
    d.add_argument(
        "--out",
        metavar="FILE",
        help="the CSV (or .parquet) to write or continue (default SYMBOL-TIMEFRAME.csv); a Parquet file is "
        "downloaded into FILE.csv beside it and converted at the end",
    )
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
    from coinswarm.errors import VenueError

    tf = venue_timeframe(args.venue, args.timeframe)
    since = parse_when(args.since, "--since")
    now = int(time.time())
    until = min(now, parse_when(args.until, "--until")) if args.until else now
    if until <= since:
        fail("--until must be after --since (and --since in the past)")
    if until - since < tf:
        fail(f"no whole {args.timeframe} candle closes between --since and --until: widen the range")
    flat = args.symbol.upper().replace("/", "-").replace("_", "-")
    from coinswarm.adapters.venue_orders import QUIRKS

    venue_symbol = QUIRKS[args.venue].venue_symbol(flat)  # the venue's own spelling (Binance: BTCUSDT)
    target = Path(args.out or f"{flat.replace('-', '_')}-{args.timeframe}.csv")
    out = parquet_work_file(target) if target.name.lower().endswith(".parquet") else target
    from coinswarm.venues.download import check_target, last_bar

    try:
        check_target(out)
        had = last_bar(out)
    except (ValueError, OSError) as exc:
        fail(str(exc))
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
        progress.close()
        fail(f"download stopped ({exc}); {_kept(out, had)}", code=1)
    except ValueError as exc:
        progress.close()
        fail(f"{exc}; {_kept(out, had)}")
    progress.close()
    if result.written == 0 and result.resumed_after is None:
        fail(
            f"{args.venue} has no {args.timeframe} candles of {venue_symbol} between {args.since} and "
            f"{args.until or 'now'}; no file was written (check the symbol's spelling and that it traded then)",
            code=1,
        )
    resumed = " (continued)" if result.resumed_after is not None else ""
    if out != target:
        from coinswarm.marketdata.candle_files import load_candles, write_candles

        write_candles(target, load_candles(out, symbol=flat).candles)
        out.unlink()
    err(f"{target}: {result.written:,} candles written{resumed}")
    return 0


def parquet_work_file(target: Path) -> Path:
    """Where a Parquet download is written first: a CSV beside it that resumes like any download (an
    existing Parquet file is continued by writing it out there first)."""
    work = target.with_name(target.name + ".csv")
    if target.exists() and not work.exists():
        from coinswarm.marketdata.candle_files import CandleFileError, load_candles, write_candles

        try:
            write_candles(work, load_candles(target).candles)
        except (CandleFileError, OSError, RuntimeError) as exc:
            fail(f"{target} cannot be continued: {exc}")
    return work


def venue_timeframe(venue: str, text: str) -> int:
    """The seconds of a --timeframe the venue serves; else a failure that lists what each venue serves."""
    from coinswarm.config.settings import TIMEFRAMES

    sizes = VENUE_TIMEFRAMES[venue]
    if text in sizes:
        return TIMEFRAMES[text]
    elsewhere = [v for v, s in VENUE_TIMEFRAMES.items() if text in s]
    also = f" ({' or '.join(f'--venue {v}' for v in elsewhere)} serves it)" if elsewhere else ""
    each = "; ".join(f"{v}: {', '.join(s)}" for v, s in VENUE_TIMEFRAMES.items())
    fail(f"{venue} does not serve {text!r} candles{also}. Timeframes by venue: {each}. Nothing was written.")


def _kept(out: Path, had: int | None) -> str:
    """What the failure left: the file as it was, what arrived before it, or no file at all."""
    from coinswarm.venues.download import last_bar

    now = last_bar(out) if out.exists() else None
    if now is None:
        return "no file was written; run the same command again once the venue answers"
    if now == had:
        return f"{out} is unchanged; run the same command again to continue"
    return f"{out} keeps the candles that arrived; run the same command again to continue"


def _client(venue: str, base_url: str | None):  # type: ignore[no-untyped-def]
    if venue == "binance":
        from coinswarm.venues.binance import BinanceClient

        return BinanceClient(base_url=base_url or "https://api.binance.com")
    from coinswarm.venues.coinbase import CoinbaseClient

    return CoinbaseClient(base_url=base_url or "https://api.coinbase.com")
