"""`coinswarm episodes export`: the market memory (one episode per closed trade) as CSV or Parquet."""

from __future__ import annotations

import argparse
from typing import Any

from coinswarm.cli.common import add_config_arg, add_state_arg, fail, open_configured, settings_from

HELP = """Write out the episodes: one per closed trade, with the state at entry (every agent's vote and
reason, the feature values, the market state, the regime) and the outcome (return net of fees,
duration, exit reason, maximum adverse and favourable excursion). See docs/agents-learned.md.

Without --backtest, the episodes come from the history store (the state file of the last run, or the
cloud store the configuration names). With --backtest FILE (repeatable), each candle file is
backtested with the configured committee and its episodes are written instead.
The format follows --out: .csv or .parquet (the `parquet` extra)."""

EXAMPLES = """examples:
  coinswarm episodes export --out episodes.csv
  coinswarm episodes export --symbol ETH-BTC --since 2024-01-01 --out eth.parquet
  coinswarm episodes export --backtest ../shared/data/ohlcv/ETH_BTC-5m.csv.gz --out bt.csv"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("episodes", help="the market memory: export the episodes of closed trades")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    e = verbs.add_parser(
        "export",
        help="write the episodes to a CSV or Parquet file",
        description=HELP,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arg(e)
    add_state_arg(e)
    e.add_argument("--out", required=True, help="the file to write: .csv or .parquet")
    e.add_argument("--symbol", help="only this symbol's episodes")
    e.add_argument("--since", help="only trades closed on or after this UTC date (YYYY-MM-DD)")
    e.add_argument("--backtest", action="append", metavar="FILE", help="backtest this candle file for its episodes")
    e.set_defaults(func=export)


def export(args: argparse.Namespace) -> int:
    from coinswarm.learning.episodes import write_csv, write_parquet

    out: str = args.out
    lower = out.lower()
    if not (lower.endswith(".csv") or lower.endswith(".parquet")):
        fail(f"--out {out}: give a file ending in .csv or .parquet")
    since = _since(args.since)
    settings = settings_from(args)
    episodes = _from_backtests(args.backtest, settings) if args.backtest else _from_store(args, settings)
    chosen = [e for e in episodes if e["exit_ts"] >= since and (args.symbol is None or e["symbol"] == args.symbol)]
    try:
        n = write_parquet(chosen, out) if lower.endswith(".parquet") else write_csv(chosen, out)
    except (OSError, ValueError) as exc:
        fail(f"cannot write {out}: {exc}")
    print(f"{n} episode(s) written to {out}")
    return 0


def _since(text: str | None) -> int:
    if text is None:
        return 0
    from datetime import UTC, datetime

    try:
        return int(datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC).timestamp())
    except ValueError:
        fail(f"--since {text!r}: give a date as YYYY-MM-DD")


def _from_store(args: argparse.Namespace, settings: Any) -> list[dict[str, Any]]:
    opened = open_configured(args, settings)
    try:
        found: list[dict[str, Any]] = opened.history.episodes(symbol=args.symbol)
        return found
    except NotImplementedError as exc:
        fail(str(exc))


def _from_backtests(files: list[str], settings: Any) -> list[dict[str, Any]]:
    from coinswarm.learning.backtest_episodes import backtest_with_episodes
    from coinswarm.marketdata.candle_files import CandleFileError, load_candles

    out: list[dict[str, Any]] = []
    for path in files:
        try:
            loaded = load_candles(path)
        except FileNotFoundError:
            fail(f"no file {path}")
        except (CandleFileError, ValueError) as exc:
            fail(str(exc))
        _, episodes, _ = backtest_with_episodes(loaded.candles, settings)
        out.extend(e.to_json() for e in episodes)
    return out
