"""Whole trading cycles in live mode against the fake exchange: the configuration a user would write (a
TOML file naming the venue, its keys and the fake's address), the App built from it as the composition
root builds it, and a driver that runs one cycle per simulated minute and keeps what placement did.

The fake exchange, the venue clients (their retries, buckets and breaker) and the App share one fake
clock, so nothing sleeps: a client's wait moves the clock on."""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from venue_helpers import BN_API_KEY, BN_SECRET, CB_KEY_NAME, READ_TIMEOUT_S, FakeClock

from coinswarm.adapters.live_broker import LiveBroker
from coinswarm.cli.main import main as cli
from coinswarm.config import load_settings
from coinswarm.config.settings import Settings
from coinswarm.domain.models import FillRecorded
from coinswarm.ports.clock import Clock
from coinswarm.stages.messages import DECISIONS, PLACEMENTS, DecisionReady, Message, PlacementDone
from coinswarm.venues.fake import FakeExchange
from coinswarm.wiring.bootstrap import App, build_app, open_stores
from coinswarm.wiring.live import build_live_broker, venue_market, venue_orders
from coinswarm.wiring.runner import CycleRunner

SYMBOL = {"coinbase": "BTC-USD", "binance": "BTC-USDT"}
PROTECTIVE = re.compile(r"-sl\d+$")  # the client order id of a protective stop: <entry's>-sl<attempt>


class FakeClockPort(Clock):
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    def now(self) -> int:
        return int(self.clock.now)


def venue_keys_toml(venue: str, pem: str) -> str:
    """The `api_key` and `api_secret` lines of a `[[venues]]` table with the fake exchange's keys."""
    if venue == "coinbase":
        return f"api_key = \"{CB_KEY_NAME}\"\napi_secret = '''\n{pem.strip()}\n'''"
    return f'api_key = "{BN_API_KEY}"\napi_secret = "{BN_SECRET}"'


def write_config(
    tmp: Path,
    venue: str,
    fake_url: str,
    pem: str,
    wiring: str = "fused",
    exits: dict[str, Any] | None = None,
    **live: Any,
) -> Path:
    """The TOML a user would write to rehearse live mode against the fake exchange (`exits`: its [exits])."""
    keys = venue_keys_toml(venue, pem)
    exit_lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in (exits or {}).items())
    options = {"confirm": True, "max_order_notional": 1_000.0, "venue_url": fake_url, **live}
    live_lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in options.items())
    text = f"""
mode = "live"
account = "live-{venue}"
symbols = ["{SYMBOL[venue]}"]
timeframe = "1m"
wiring = "{wiring}"

[[venues]]
name = "{venue}"
fee_bps = 10.0
{keys}

[committee]
weights = {{ sma_cross = 1.0 }}
quorum = 1
threshold = 0.5

[agents.sma_cross]
fast = 2
slow = 4

[sizing]
buy_notional = 1000.0

[market]
source = "venue"
warmup_candles = 30

[store]
backend = "sqlite"
path = "{tmp / "live.db"}"

[exits]
{exit_lines}

[live]
{live_lines}
"""
    path = tmp / "coinswarm.toml"
    path.write_text(text)
    return path


@dataclass
class LiveRun:
    app: App
    broker: LiveBroker
    fake: FakeExchange
    clock: FakeClock
    config: Path
    settings: Settings
    done: list[PlacementDone] = field(default_factory=list)
    on_decision: list[Callable[[DecisionReady], None]] = field(default_factory=list)
    failed_cycles: list[str] = field(default_factory=list)

    def tap(self, topic: str, message: Message) -> None:
        if topic == PLACEMENTS and isinstance(message, PlacementDone):
            self.done.append(message)
        if topic == DECISIONS and isinstance(message, DecisionReady):
            for hook in self.on_decision:
                hook(message)

    def cycle(self, runner: CycleRunner) -> None:
        """One cycle at the next minute's close (later, if a client's waits moved the clock on)."""
        ts = (int(self.clock.now) // 60 + 1) * 60
        self.clock.now = float(ts)
        try:
            runner.run_cycle(ts)
        except Exception as exc:  # a failed invocation: the scheduler runs the next cycle regardless
            self.failed_cycles.append(f"{type(exc).__name__}: {exc}")

    def run_until(self, done: Callable[[], bool], *, most: int = 150) -> int:
        handlers = None
        if self.settings.wiring == "mesh":
            from functions.local import local_handlers

            handlers = local_handlers(self.app)
        runner = CycleRunner(
            self.app, wiring=self.settings.wiring, handlers=handlers, tap=self.tap, owner=f"test-{id(self)}"
        )
        for n in range(1, most + 1):
            self.cycle(runner)
            if done():
                return n
        raise AssertionError(f"not reached within {most} cycles; placement did: {self.summary()}")

    # -- what happened ----------------------------------------------------------------------------
    def orders(self) -> list[str]:
        return [o.client_order_id for d in self.done for o in d.orders]

    def refusals(self) -> list[str]:
        return [o.note for d in self.done for o in d.refused_by_venue]

    def filled_cids(self) -> set[str]:
        return {f.client_order_id for d in self.done for f in d.fills}

    def settled(self) -> bool:
        return not self.broker.pending()

    def summary(self) -> str:
        return (
            f"{len(self.orders())} orders, {len(self.filled_cids())} filled, refusals {self.refusals()}, "
            f"failed cycles {self.failed_cycles[:3]}, fired {self.fake.faults.fired[:5]}"
        )

    def ledger_fills(self) -> dict[str, tuple[float, float]]:
        """Quantity and fees per client order id, as the ledger has them."""
        out: dict[str, tuple[float, float]] = {}
        for event in self.app.ledger.events():
            if isinstance(event.payload, FillRecorded):
                f = event.payload.fill
                q, fee = out.get(f.client_order_id, (0.0, 0.0))
                out[f.client_order_id] = (q + f.quantity, fee + f.fee)
        return out

    def assert_exactly_once(self) -> None:
        """One order at the fake per intent, and the ledger holds exactly the fake's fills and fees."""
        mine = [o for o in self.fake.engine.placed]
        counts = Counter(o.client_order_id for o in mine)
        assert counts and max(counts.values()) == 1, f"an intent reached the venue twice: {counts}"
        intents = {cid for cid in counts if not PROTECTIVE.search(cid)}  # protective stops derive from entries
        assert intents <= set(self.orders()), "the venue holds an order no intent placed"
        for cid in set(counts) - intents:
            assert PROTECTIVE.sub("", cid) in self.filled_cids() or cid.startswith("sl-"), f"a stop of no entry: {cid}"
        ledger = self.ledger_fills()
        for o in mine:
            quantity, fees = ledger.get(o.client_order_id, (0.0, 0.0))
            # to the venue's own precision: Binance reports sizes and fees to 8 decimals
            assert abs(quantity - o.filled) <= 1e-8 * len(o.fills), (o.client_order_id, quantity, o.filled)
            assert abs(fees - o.fees) <= 1e-8 * len(o.fills), (o.client_order_id, fees, o.fees)
        assert set(ledger) <= set(counts), "the ledger holds a fill the venue never made"

    def cli(self, *argv: str) -> tuple[int, str]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = cli([*argv, "--config", str(self.config)])
        return code, out.getvalue()


def start_live(
    tmp: Path,
    venue: str,
    fake: FakeExchange,
    clock: FakeClock,
    pem: str,
    wiring: str = "fused",
    exits: dict[str, Any] | None = None,
    **live: Any,
) -> LiveRun:
    """Build the App as the composition root does for live mode, on the fake clock."""
    config = write_config(tmp, venue, fake.url, pem, wiring, exits, **live)
    settings = load_settings(config, env={})
    stores = open_stores(settings)
    orders = venue_orders(
        settings, sleep=clock.sleep, clock=clock.time, monotonic=clock.time, read_timeout_s=READ_TIMEOUT_S
    )
    broker = build_live_broker(settings, stores.state, venue=orders, clock=clock.time, history=lambda: stores.history)
    market = venue_market(settings, venue=orders, clock=clock.time)
    app = build_app(settings, market=market, clock=FakeClockPort(clock), broker=broker, stores=stores)
    return LiveRun(app, broker, fake, clock, config, settings)
