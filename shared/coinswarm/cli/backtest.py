"""`coinswarm backtest FILE [FILE ...]`: replay candle files through the stage code on a simulated clock,
one symbol or several into one account, and report it the way a trader judges a strategy."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from coinswarm.backtest.analysis import Analysis, PriceSeries, analyse
from coinswarm.backtest.engine import BacktestOptions, BacktestResult, run_backtest
from coinswarm.backtest.progress import Progress
from coinswarm.backtest.text_report import analysis_json, text_report
from coinswarm.cli.common import add_config_arg, fail, settings_from
from coinswarm.config.loader import explain
from coinswarm.config.settings import SYMBOL_RE, ExitConfig, Settings
from coinswarm.domain.models import Candle
from coinswarm.marketdata.candle_files import CandleFileError, load_candles, symbol_problem

HELP = """Replay candle files through the same stage code that trades (ingest, scoring, vote, placement,
the ledger) on a simulated clock, with the paper broker and an in-memory store.

One file backtests one symbol. Several files (or a folder of them), one symbol each, backtest the
portfolio the bot really trades: one account, shared cash, the per-symbol and total exposure limits,
the daily loss limit and the protections, each bar's symbols placed in the configured order as a live
cycle places them; candles are aligned by time, and each symbol keeps its own gaps.

Signals are taken at a bar's close and orders fill at the next bar's open, with the fee and slippage
given. A position still open at the end is closed at the last close and counted.

Strategies:
  committee   the configured agents and committee (weights, quorum, threshold), sizing and risk limits
  sma-cross   the long-only reference: buy with all the cash (as backtesting.py's buy() does) when the
              fast SMA crosses above the slow one at a bar's close, sell everything when it crosses
              below; no risk limits

Exits (docs/exits.md): besides its SELL signal, a position is closed by the configuration's [exits]
rules or the flags below, checked on every bar held from its open, high, low and close as freqtrade's
backtesting does: a stop-loss (on by default for the committee), an ROI table, a trailing stop, a
maximum holding time. sma-cross trades on its crosses alone unless exits are configured or given.

The report (docs/backtest-report.md): return, CAGR, annualised return and volatility, Sharpe,
Sortino, Calmar, drawdowns, exposure, trade figures (win rate, best, worst, average, durations, profit
factor, expectancy, SQN), every figure defined as backtesting.py defines it; the strategy against
buy-and-hold (equal weights over a portfolio's symbols); a per-symbol table, an exit-reason table and
a monthly table. --json adds the trade list; --report DIR writes report.html (one self-contained
page with charts), trades.csv and summary.json; --plot FILE.png draws price with trades, equity
against buy-and-hold and the drawdown.

Candle files are CSV (optionally gzipped) or Parquet, with date,open,high,low,close,volume. A bad file
is refused with the line (or row) named; gaps are reported, and agents start afresh after a gap longer
than market.max_bridged_gap candles (--max-gap)."""

EXAMPLES = """examples:
  coinswarm backtest ETH_BTC-5m.csv.gz
  coinswarm backtest ETH_BTC-5m.csv.gz LTC_BTC-5m.csv.gz XMR_BTC-5m.csv.gz --report report/
  coinswarm backtest data/ --json > summary.json          # every candle file in the folder, one account
  coinswarm backtest ETH_BTC-5m.parquet --plot figure.png
  coinswarm backtest BTC_USDT-1d.csv.gz --strategy sma-cross --fast 10 --slow 30 --fee-bps 10 --json
  coinswarm backtest ETH_BTC-5m.csv.gz --plot equity.png
  coinswarm backtest ETH_BTC-5m.csv.gz --strategy sma-cross --stop-loss 2 --roi 0=3,120=1 \
      --trailing-stop 1 --trailing-offset 1.5 --trailing-only-offset"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "backtest",
        help="replay candle files (one symbol or a portfolio) through the stage code; report it as a trader would",
        description=HELP,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arg(p)
    p.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="candle files (CSV, optionally .gz, or Parquet), one symbol each, or folders of them",
    )
    p.add_argument("--strategy", choices=["committee", "sma-cross"], default="committee")
    p.add_argument("--fast", type=int, default=10, help="sma-cross: fast SMA period (default 10)")
    p.add_argument("--slow", type=int, default=20, help="sma-cross: slow SMA period (default 20)")
    p.add_argument("--cash", type=float, help="starting cash (default paper.starting_cash)")
    p.add_argument("--fee-bps", type=float, help="fee per fill in basis points (default paper.fee_bps)")
    p.add_argument("--slippage-bps", type=float, help="slippage in basis points (default paper.slippage_bps)")
    p.add_argument(
        "--max-gap", type=int, help="missing candles agents may see through (default market.max_bridged_gap)"
    )
    add_exit_args(p)
    p.add_argument("--symbol", help="symbol name for a single file (default: from the file name)")
    p.add_argument("--json", action="store_true", help="print one JSON object (the report's figures and trades)")
    p.add_argument("--report", metavar="DIR", help="write report.html, trades.csv and summary.json into DIR")
    p.add_argument("--plot", metavar="FILE.png", help="draw price with trades, equity against buy-and-hold, drawdown")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (it shows only on a terminal)")
    p.set_defaults(func=main)


def add_exit_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("exits", "replace the configuration's [exits] settings (docs/exits.md)")
    stop = g.add_mutually_exclusive_group()
    stop.add_argument("--stop-loss", type=float, metavar="PCT", help="exit PCT %% below the entry price")
    stop.add_argument("--no-stop-loss", action="store_true", help="no stop-loss")
    g.add_argument(
        "--roi",
        metavar="TABLE",
        help="minutes since entry = minimum profit %%, e.g. 0=4,60=2,240=0 (or JSON: '{\"0\": 4}'); '' for none",
    )
    g.add_argument("--trailing-stop", type=float, metavar="PCT", help="trail the highest price by PCT %%")
    g.add_argument("--trailing-offset", type=float, metavar="PCT", help="the profit %% from which PCT trails")
    g.add_argument(
        "--trailing-only-offset", action="store_true", help="no trailing at all before the offset is reached"
    )
    g.add_argument("--max-hold", type=int, metavar="MINUTES", help="exit at the first open this long after entry")
    g.add_argument("--no-exit-on-signal", action="store_true", help="a SELL signal does not exit; only the rules do")


def parse_roi(text: str) -> dict[str, float]:
    """`0=4,60=2` (or `0:4`, or a JSON object) as the [exits] roi table; a clear error when malformed."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            table = json.loads(text)
        except json.JSONDecodeError as exc:
            fail(f"--roi: not a JSON object ({exc.msg}); write it as 0=4,60=2")
        if not isinstance(table, dict):
            fail("--roi: not a JSON object; write it as 0=4,60=2")
        items = [(str(k), v) for k, v in table.items()]
    else:
        items = []
        for part in text.split(","):
            minutes, sep, pct = part.replace(":", "=").partition("=")
            if not sep:
                fail(f"--roi: {part.strip()!r} is not MINUTES=PCT; write the table as 0=4,60=2")
            items.append((minutes.strip(), pct.strip()))
    roi: dict[str, float] = {}
    for minutes, pct in items:
        if not minutes.isdigit():
            fail(f"--roi: {minutes!r} is not a whole number of minutes since entry")
        try:
            roi[minutes] = float(pct)
        except (TypeError, ValueError):
            fail(f"--roi: {pct!r} at {minutes} min is not a profit in percent")
    return roi


def exit_overrides(args: argparse.Namespace, base: Settings) -> dict[str, Any]:
    """The [exits] settings the flags replace, checked as the configuration's would be."""
    given: dict[str, Any] = {}
    if args.stop_loss is not None:
        given["stop_loss_pct"] = args.stop_loss
    if args.no_stop_loss:
        given["stop_loss_pct"] = None
    if args.roi is not None:
        given["roi"] = parse_roi(args.roi)
    if args.trailing_stop is not None:
        given["trailing_stop_pct"] = args.trailing_stop
    if args.trailing_offset is not None:
        given["trailing_offset_pct"] = args.trailing_offset
    if args.trailing_only_offset:
        given["trailing_only_offset_reached"] = True
    if args.max_hold is not None:
        given["max_hold_minutes"] = args.max_hold
    if args.no_exit_on_signal:
        given["exit_on_signal"] = False
    try:
        ExitConfig.model_validate({**base.exits.model_dump(), **given})
    except ValidationError as exc:
        flags = {"stop_loss_pct": "--stop-loss", "trailing_stop_pct": "--trailing-stop"}
        flags |= {"trailing_offset_pct": "--trailing-offset", "max_hold_minutes": "--max-hold", "roi": "--roi"}
        fail(
            "; ".join(
                f"{flags.get(str(e['loc'][0]), 'exits.' + str(e['loc'][0])) if e['loc'] else 'exits'}: {e['msg']}"
                for e in exc.errors()
            )
        )
    return given


def main(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    exits = exit_overrides(args, settings)
    for name in ("cash",):
        if getattr(args, name) is not None and getattr(args, name) <= 0:
            fail(f"--{name} must be above 0")
    for name in ("fee_bps", "slippage_bps"):
        value = getattr(args, name)
        if value is not None and not 0 <= value <= 1000:
            fail(f"--{name.replace('_', '-')} must be between 0 and 1000 basis points")
    if args.strategy == "sma-cross" and not 1 <= args.fast < args.slow:
        fail(f"--fast must be at least 1 and below --slow (got {args.fast} and {args.slow})")
    if args.symbol is not None and not SYMBOL_RE.match(args.symbol):
        fail(f"--symbol {args.symbol[:40]!r} is not a symbol: give BASE-QUOTE in upper case, like BTC-USD")
    series, gaps = load_series(args)
    opts = BacktestOptions(
        strategy=args.strategy,
        fast=args.fast,
        slow=args.slow,
        cash=args.cash,
        fee_bps=args.fee_bps,
        slippage_bps=args.slippage_bps,
        max_gap=args.max_gap,
        exits=exits,
    )
    bars = len({c.ts for candles in series.values() for c in candles}) if len(series) > 1 else len(first(series))
    label = ", ".join(series) if len(series) <= 3 else f"{len(series)} symbols"
    progress = Progress(bars, label=label, enabled=False if args.no_progress else None)
    names = ", ".join(args.files)
    try:
        result = run_backtest(series, settings, opts, label=f"replay of {names}", on_bar=progress.update)
    except ValidationError as exc:  # the settings the options make: said as the loader says it
        fail(explain(exc))
    except ValueError as exc:
        fail(str(exc))
    progress.close()
    analysis = analyse_result(result)
    summary = {**result.to_json(), **analysis_json(analysis)}
    if args.report:
        from coinswarm.backtest.html_report import write_report

        try:
            written = write_report(analysis, args.report, summary)
        except OSError as exc:
            fail(f"--report {args.report}: cannot write there ({exc.strerror or exc})")
        args.report_files = written
    if args.plot:
        from coinswarm.backtest.figure import plot_analysis

        try:
            plot_analysis(analysis, args.plot)
        except ImportError:
            fail("--plot needs matplotlib: pip install 'coinswarm[plot]'")
        except OSError as exc:
            fail(f"--plot {args.plot}: cannot write there ({exc.strerror or exc})")
    if args.json:
        print(json.dumps(summary))
    else:
        print_report(result, analysis, args, gaps)
    return 0


CANDLE_SUFFIXES = (".csv", ".csv.gz", ".parquet")


def candle_paths(given: list[str]) -> list[Path]:
    """The files named, a folder standing for every candle file in it (sorted by name)."""
    paths: list[Path] = []
    for name in given:
        p = Path(name)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.name.lower().endswith(CANDLE_SUFFIXES))
            if not found:
                fail(f"{p} holds no candle files (*.csv, *.csv.gz, *.parquet)")
            paths.extend(found)
        else:
            paths.append(p)
    return paths


def load_series(args: argparse.Namespace) -> tuple[dict[str, Sequence[Candle]], int]:
    """symbol -> candles for every file, and the gaps in them all; a clean failure for a bad file."""
    paths = candle_paths(args.files)
    if args.symbol is not None and len(paths) > 1:
        fail("--symbol names the symbol of a single file; name each file like ETH_BTC-5m.csv instead")
    series: dict[str, Sequence[Candle]] = {}
    gaps = 0
    for path in paths:
        try:
            cf = load_candles(path, symbol=args.symbol)
        except FileNotFoundError:
            fail(f"no candle file at {path}")
        except (CandleFileError, OSError) as exc:
            fail(str(exc))
        problem = symbol_problem(cf)
        if problem is not None:
            fail(f"{problem}, or give the symbol with --symbol BTC-USD" if len(paths) == 1 else problem)
        if cf.symbol in series:
            fail(f"{path}: a second file of {cf.symbol}; give one file per symbol")
        series[cf.symbol] = cf.candles
        gaps += len(cf.gaps)
    return series, gaps


def first(series: dict[str, Sequence[Candle]]) -> Sequence[Candle]:
    return next(iter(series.values()))


def analyse_result(result: BacktestResult) -> Analysis:
    return analyse(
        strategy=result.strategy,
        start_equity=result.metrics.start_equity,
        ts=result.ts,
        equity=result.equity,
        prices=[PriceSeries(symbol, result.closes[symbol]) for symbol in result.symbols],
        fills=result.fills,
        votes_by_order=result.extra.get("votes", {}),
    )


def print_report(r: BacktestResult, a: Analysis, args: argparse.Namespace, file_gaps: int) -> None:
    out = sys.stdout
    rate = r.decisions / r.elapsed_s if r.elapsed_s > 0 else 0.0
    print(
        f"backtest {', '.join(args.files)} · {r.symbol} · {r.strategy} · "
        f"{r.decisions:,} bars in {r.elapsed_s:.2f} s ({rate:,.0f} bars/s)",
        file=out,
    )
    print(text_report(a), end="", file=out)
    print(f"  exits         {describe_exits(r.exits)}", file=out)
    if r.rejections:
        print(f"  risk refused  {r.rejections} intents", file=out)
    if r.strategy == "committee":
        total = r.cache_hits + r.cache_misses
        share = r.cache_hits / total if total else 0.0
        print(f"  pattern cache {r.cache_hits:,} hits / {r.cache_misses:,} misses ({share:.0%})", file=out)
    print(
        f"  gaps          {file_gaps} in the file{'s' if len(args.files) > 1 else ''}"
        + (f", {len(r.gaps)} seen by the agents" if r.gaps else ""),
        file=out,
    )
    for path in getattr(args, "report_files", []):
        print(f"  report        {path}", file=out)
    if args.plot:
        print(f"  plot          {args.plot}", file=out)


def describe_exits(exits: dict[str, Any]) -> str:
    """The exit settings a run used, in one line."""
    parts: list[str] = []
    if exits.get("stop_loss_pct") is not None:
        parts.append(f"stop-loss {exits['stop_loss_pct']:g} %")
    if exits.get("roi"):
        table = sorted(exits["roi"].items(), key=lambda kv: int(kv[0]))
        parts.append("roi " + ", ".join(f"{m} min {pct:g} %" for m, pct in table))
    if exits.get("trailing_stop_pct") is not None:
        only = " only" if exits.get("trailing_only_offset_reached") else ""
        parts.append(f"trailing {exits['trailing_stop_pct']:g} %{only} above {exits.get('trailing_offset_pct', 0):g} %")
    if exits.get("max_hold_minutes") is not None:
        parts.append(f"max hold {exits['max_hold_minutes']} min")
    if exits.get("exit_on_signal") is False:
        parts.append("SELL signals ignored")
    return "; ".join(parts) or "the signal alone"
