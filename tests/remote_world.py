"""A real App on a memory store for the remote control's tests: one fused cycle run over synthetic candles
(so that every symbol has stored closes and decisions with votes), notifications pointed at the chat
services' stand-in, Telegram's secret token and the status token set, and a manual buy filled by the
next cycle (a position, a fill notification)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from functional_builders import series
from functional_builders import settings as config

from chat_services import TOKEN, ChatServices
from coinswarm.adapters.memory_store import MemoryStore
from coinswarm.domain.models import OrderIntent, Side
from coinswarm.marketdata.replay import ReplayMarketData
from coinswarm.ports.clock import SimulatedClock
from coinswarm.wiring.bootstrap import App, Stores, build_app
from coinswarm.wiring.runner import CycleRunner

CHAT = 4242
WEBHOOK_SECRET = "the-webhook-secret_123"
STATUS_TOKEN = "status-token-0123456789abcdef"


@dataclass
class World:
    app: App
    clock: SimulatedClock
    runner: CycleRunner
    store: MemoryStore
    services: ChatServices
    closes: list[int]

    def run_cycle(self) -> dict[str, Any]:
        self.runner.run_cycle(self.clock.now())
        return {"cycle_id": f"cycle-{self.clock.now()}", "published": 1}

    def buy(self, symbol: str = "BTC-USD", notional: float = 500.0) -> None:
        """A manual buy placed now and filled by the next cycle (one candle later)."""
        price = self.app.state.recent_candles(symbol, 60, 1)[-1].close
        intent = OrderIntent(
            intent_id=f"manual-{self.clock.now()}",
            symbol=symbol,
            side=Side.BUY,
            notional=notional,
            reference_price=price,
            ts=self.clock.now(),
            source="manual",
        )
        placed = self.app.stages.placement.place(intent, now=self.clock.now())
        assert placed.order is not None, placed
        self.next_cycle()

    def next_cycle(self) -> None:
        later = [c for c in self.closes if c > self.clock.now()]
        self.clock.set(later[0])
        self.runner.run_cycle(later[0])


def make_world(services: ChatServices, *, lazy: bool = False, **changes: Any) -> World:
    """`lazy`: the App as a cloud function builds it (each part on first use, metric lines on stdout)."""
    cfg = config(
        wiring="fused",
        notify={
            "telegram_bot_token": TOKEN,
            "telegram_chat_id": str(CHAT),
            "telegram_api_url": services.url,
            "discord_webhook_url": services.discord_url(),
        },
        remote={"telegram_chat_ids": [CHAT], "telegram_webhook_secret": WEBHOOK_SECRET, "status_token": STATUS_TOKEN},
        **changes,
    )
    data = series(n=80)
    closes = sorted({c.close_ts for candles in data.values() for c in candles})
    store = MemoryStore()
    clock = SimulatedClock(closes[-5])
    market = ReplayMarketData(data, label="synthetic test series")
    if lazy:
        app = build_app(cfg, market=market, stores=Stores(store, store, store), clock=clock, lazy=True)
    else:
        app = build_app(cfg, market=market, store=store, clock=clock, observe=True)
    runner = CycleRunner(app, wiring="fused")
    runner.run_cycle(clock.now())
    return World(app, clock, runner, store, services, closes)
