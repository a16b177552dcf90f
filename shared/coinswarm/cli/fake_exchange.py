"""`coinswarm fake-exchange`: the local fake exchange, served until Ctrl-C, to rehearse live mode against."""

from __future__ import annotations

import argparse
import json
import secrets
import signal
import threading
import time
from pathlib import Path
from types import FrameType

from coinswarm.cli.common import fail

DEFAULT_SYMBOL = {"coinbase": "BTC-USD", "binance": "BTC-USDT"}

HELP = """Serve the local fake exchange on this machine, to rehearse live trading with no money at stake:
a real HTTP server on 127.0.0.1 speaking the part of Coinbase Advanced Trade or Binance spot that the bot
uses (candles, book tops, orders, fills, fees, key permissions), whose prices follow --price and --trend.

It makes a fresh key pair that only it accepts, and writes a configuration that trades on it (mode =
"live", live.venue_url = its address, the keys, a state file of its own, a trend-following committee
that buys on the first cycle). In a second terminal:

  coinswarm run --config FILE --cycles 5     trade live on the fake: the banner says LIVE and the URL
  coinswarm status --config FILE             positions and orders as the bot booked them
  coinswarm ledger verify --config FILE      the ledger against the live broker's book

Ctrl-C (or SIGTERM) stops it and prints what it was asked and what it filled. Its book lives in memory:
each start is a new exchange, with new keys and so a new configuration and state file. Going live for
real is the same configuration with your own keys and without venue_url (see the README).

Examples:
  coinswarm fake-exchange                                    Coinbase, a port the OS picks
  coinswarm fake-exchange --venue binance --port 8765
  coinswarm fake-exchange --symbol ETH-USD --price 3000 --trend -0.1   a falling market
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "fake-exchange",
        help="serve the local fake exchange and write a configuration to rehearse live mode against it",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--venue", choices=sorted(DEFAULT_SYMBOL), default="coinbase", help="the API it speaks")
    p.add_argument("--port", type=_port, default=0, help="the loopback port (default 0: one the OS picks)")
    p.add_argument(
        "--symbol",
        action="append",
        metavar="SYMBOL",
        help="a market it lists, as the bot names it (repeatable; default BTC-USD, BTC-USDT on Binance)",
    )
    p.add_argument("--price", type=_positive, default=60_000.0, help="every market's price now (default 60000)")
    p.add_argument(
        "--trend",
        type=float,
        default=0.30,
        metavar="PER_HOUR",
        help="the drift of every market, 0.3 = +30%% an hour (default 0.3: the trend agent buys at once)",
    )
    p.add_argument(
        "--write-config",
        metavar="FILE",
        type=Path,
        help="where the rehearsal configuration goes (default .coinswarm/fake-exchange-VENUE.toml)",
    )
    p.set_defaults(func=main)


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: give 0 (any free one) or 1 to 65535")
    return int(text)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: a price must be a positive, finite number")
    return value


def main(args: argparse.Namespace) -> int:
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        from coinswarm.venues.fake import FakeExchange
    except ImportError:
        fail("the fake exchange checks signed requests with `cryptography`: pip install -e '.[live]'")
    venue: str = args.venue
    symbols: list[str] = args.symbol or [DEFAULT_SYMBOL[venue]]
    fake = FakeExchange()
    for symbol in symbols:
        fake.engine.set_price(symbol, args.price)
        fake.engine.set_trend(symbol, args.trend)
    if venue == "coinbase":
        key = ec.generate_private_key(ec.SECP256R1())
        name = f"organizations/rehearsal/apiKeys/{secrets.token_hex(8)}"
        fake.add_coinbase_key(name, key.public_key())
        secret = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        ).decode()
    else:
        name, secret = f"rehearsal-{secrets.token_hex(16)}", secrets.token_hex(32)
        fake.add_binance_key(name, secret)
    try:
        fake.start(args.port)
    except OSError as exc:
        fail(f"cannot listen on 127.0.0.1:{args.port} ({exc.strerror}): pick another --port, or 0 for any free one")
    config = args.write_config or Path(".coinswarm") / f"fake-exchange-{venue}.toml"
    state = config.parent / f"rehearsal-{venue}-{time.strftime('%Y%m%d-%H%M%S')}.db"
    _write_config(config, rehearsal_toml(venue, symbols, fake.url, name, secret, state))
    print(f"fake {venue} exchange listening on {fake.url}  ({', '.join(symbols)} at {args.price:g}, {args.trend:+g}/h)")
    print(f"rehearsal configuration: {config}  (keys only this fake accepts; state file {state})")
    print(f"next: coinswarm run --config {config} --cycles 5    ·    Ctrl-C stops the exchange", flush=True)
    _serve_until_stopped()
    fake.stop()
    placed = fake.engine.placed
    print(f"fake exchange stopped: {len(fake.requests)} request(s) answered, {len(placed)} order(s) placed")
    return 0


def rehearsal_toml(venue: str, symbols: list[str], url: str, key: str, secret: str, state: Path) -> str:
    """A live configuration on the fake at `url`: the keys, a state file of its own, a committee that trades."""
    secret_line = f"api_secret = '''\n{secret.strip()}\n'''" if venue == "coinbase" else f"api_secret = {secret!r}"
    return f"""# Written by `coinswarm fake-exchange`: live mode against the local fake exchange at {url}.
# The keys are the fake's own (it made them; no venue knows them). Real live trading: your own keys, no venue_url.
mode = "live"
account = "rehearsal"
symbols = {json.dumps(symbols)}
timeframe = "1m"
wiring = "fused"

[[venues]]
name = "{venue}"
fee_bps = 10.0
api_key = {json.dumps(key)}
{secret_line}

# One trend follower, quick to warm up: on the fake's rising market it buys on the first cycle.
[committee]
weights = {{ trend = 1.0 }}
quorum = 1
threshold = 0.3

[agents.trend]
fast = 3
slow = 10
atr = 5

[sizing]
buy_notional = 100.0

[market]
warmup_candles = 30

[store]
path = {json.dumps(str(state))}

[live]
confirm = true
max_order_notional = 250.0
venue_url = "{url}"
"""


def _write_config(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)  # it holds keys (the fake's own, but keys all the same)
    path.write_text(text)


def _serve_until_stopped() -> None:
    """Block until Ctrl-C or SIGTERM (what `kill` and `docker stop` send)."""
    stopped = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
