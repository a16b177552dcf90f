"""`coinswarm check-bias FILE`: does any agent's score at a bar depend on later bars?"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from coinswarm.agent_registry import UnknownAgentError
from coinswarm.backtest.progress import Progress
from coinswarm.cli.common import add_config_arg, fail, settings_from
from coinswarm.domain.models import iso
from coinswarm.marketdata.candle_files import load_candles

HELP = """Look for look-ahead bias: an agent whose score at a bar depends on bars after it.

Each agent scores the whole file once; then, at --samples bars spread over the file, fresh agents
score the file cut after that bar. Any sampled bar whose signal or confidence differs between the
two used the future. Both passes run through the scoring stage the bot trades with (the same gap
handling), in one process, so leaks through the data path, through state shared between instances
or runs, or through a cache are caught. An agent that reads data of its own (a file, the network)
is beyond its reach.

Agents: the configured committee (each agent with a weight, with its [agents.NAME] parameters), or
the ones named with --agent (a built-in name, 'package.module:Class', or what the configuration's
agent loading accepts). Exit status 1 when any agent used the future."""

EXAMPLES = """examples:
  coinswarm check-bias ETH_BTC-5m.csv.gz
  coinswarm check-bias ETH_BTC-5m.csv.gz --agent trend --samples 100
  coinswarm check-bias my.csv --symbol ETH-BTC --agent mypackage.agents:Breakout --json"""

SHOWN = 5


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "check-bias",
        help="find agents whose score at a bar depends on later bars (look-ahead bias)",
        description=HELP,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arg(p)
    p.add_argument("file", help="candle file: CSV (optionally .gz) or Parquet")
    p.add_argument("--agent", action="append", metavar="NAME", help="check this agent (repeatable); default: all")
    p.add_argument("--samples", type=int, default=40, help="bars to cut the file at (default 40)")
    p.add_argument("--symbol", help="symbol name for the file (default: from the file name)")
    p.add_argument(
        "--max-gap", type=int, help="missing candles agents may see through (default market.max_bridged_gap)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (it shows only on a terminal)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from coinswarm.research.bias import BiasReport, check_bias

    if args.samples < 1:
        fail("--samples must be at least 1")
    settings = settings_from(args)
    try:
        candles = load_candles(args.file, symbol=args.symbol).candles
    except FileNotFoundError:
        fail(f"no such file: {args.file}")
    names = args.agent or [n for n, w in settings.committee.weights.items() if w > 0]
    gap = settings.market.max_bridged_gap if args.max_gap is None else args.max_gap
    reports: list[BiasReport] = []
    for name in names:
        progress = Progress(args.samples, label=f"{name:<16}", enabled=False if args.no_progress else None)
        try:
            report = check_bias(
                name,
                settings.agents.get(name, {}),
                candles,
                samples=args.samples,
                max_bridged_gap=gap,
                on_sample=progress.update,
            )
        except (UnknownAgentError, ValueError) as exc:
            fail(str(exc))
        progress.close()
        reports.append(report)
    if args.json:
        print(json.dumps({"file": args.file, "agents": [_json(r) for r in reports]}, indent=2))
    else:
        for r in reports:
            _print(r)
    return 0 if all(r.clean for r in reports) else 1


def _json(r: Any) -> dict[str, Any]:
    return {
        "agent": r.agent,
        "symbol": r.symbol,
        "bars": r.bars,
        "sampled": len(r.sampled),
        "clean": r.clean,
        "differences": [
            {
                "bar": d.bar,
                "time": iso(d.ts),
                "full": {"signal": d.full.signal, "confidence": d.full.confidence, "reason": d.full.reason},
                "cut": {"signal": d.cut.signal, "confidence": d.cut.confidence, "reason": d.cut.reason},
            }
            for d in r.differences
        ],
    }


def _print(r: Any) -> None:
    if r.clean:
        print(f"{r.agent:<16} clean: the same score at all {len(r.sampled)} sampled bars of {r.bars:,}")
        return
    print(f"{r.agent:<16} LOOK-AHEAD: {len(r.differences)} of {len(r.sampled)} sampled bars score differently")
    for d in r.differences[:SHOWN]:
        print(
            f"  bar {d.bar:,} ({iso(d.ts)}): with the future {d.full.signal:+.3f}@{d.full.confidence:.2f}, "
            f"without {d.cut.signal:+.3f}@{d.cut.confidence:.2f}",
            file=sys.stdout,
        )
    if len(r.differences) > SHOWN:
        print(f"  ... and {len(r.differences) - SHOWN} more (--json lists them all)")
