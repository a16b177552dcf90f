"""The `coinswarm` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from coinswarm import __version__
from coinswarm.cli import (
    admin,
    agent,
    backtest,
    budget,
    check_bias,
    controls,
    data,
    deploy,
    episodes,
    fake_exchange,
    live,
    optimize,
    remote,
    run,
    serve,
    status,
    train,
)
from coinswarm.errors import CoinswarmError

DESCRIPTION = """Coinswarm: a personal crypto trading bot. Agents (trend, mean reversion, arbitrage) vote in a
committee, risk limits guard every order, and paper trading is the default.

Start with `coinswarm run`; see what happened with `coinswarm status`. Every command has --help."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="coinswarm", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--version", action="version", version=f"coinswarm {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run.add_parser(sub)
    backtest.add_parser(sub)
    check_bias.add_parser(sub)
    optimize.add_parser(sub)
    status.add_parser(sub)
    admin.add_parsers(sub)
    controls.add_parsers(sub)
    budget.add_parser(sub)
    data.add_parser(sub)
    deploy.add_parser(sub)
    agent.add_parser(sub)
    live.add_parser(sub)
    train.add_parser(sub)
    episodes.add_parser(sub)
    fake_exchange.add_parser(sub)
    remote.add_parsers(sub)
    remote.add_url_to_controls(sub)  # after the controls it extends
    serve.add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; an error of Coinswarm's own that ends it is printed as its message (no traceback:
    every such message says what happened and what to do) and exits with its class's `exit_code`."""
    args = parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except CoinswarmError as exc:
        print(f"coinswarm {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
