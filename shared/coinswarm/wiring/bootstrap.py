"""The composition root: the one place that turns a configuration into adapters and stages.

Built once per process (per warm container in the cloud) and reused. Nothing here runs at import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from coinswarm.config.settings import Settings
from coinswarm.domain.agents.registry import build_agents
from coinswarm.domain.committee import Committee, PatternCache
from coinswarm.domain.market_state import MarketStateTracker
from coinswarm.domain.risk import RiskLimits, limits_from
from coinswarm.domain.sizing import SizingRule
from coinswarm.ports.broker import Broker
from coinswarm.ports.clock import Clock, SystemClock
from coinswarm.ports.coordination import CoordinationStore
from coinswarm.ports.history import HistoryStore
from coinswarm.ports.market import MarketData
from coinswarm.ports.state import StateStore
from coinswarm.stages.agent_memory import AgentMemory, AgentMemoryStore, StoredAgentMemory
from coinswarm.stages.ingest import IngestStage
from coinswarm.stages.ledger import Ledger
from coinswarm.stages.messages import CANDLES, DECISIONS, PLACEMENTS, SCORES, TICK, Message
from coinswarm.stages.placement import PlacementStage
from coinswarm.stages.scoring import ScoringStage
from coinswarm.stages.trade_logging import TradeLoggingStage
from coinswarm.stages.vote import VoteStage

Route = Callable[[Any], list[tuple[str, Message]]]


@dataclass
class Stages:
    ingest: IngestStage
    scoring: ScoringStage
    vote: VoteStage
    placement: PlacementStage
    logging: TradeLoggingStage

    def routes(self) -> dict[str, Route]:
        """Which stage consumes which topic."""
        return {
            TICK: self.ingest.handle,
            CANDLES: self.scoring.handle,
            SCORES: self.vote.handle,
            DECISIONS: self.placement.handle,
            PLACEMENTS: self.logging.handle,
        }


@dataclass
class App:
    settings: Settings
    clock: Clock
    state: StateStore
    history: HistoryStore
    coordination: CoordinationStore
    market: MarketData
    broker: Broker
    ledger: Ledger
    stages: Stages
    cache: PatternCache | None
    extras: dict[str, Any] = field(default_factory=dict)


class LiveTradingUnavailable(RuntimeError):
    pass


def open_store(settings: Settings) -> Any:
    """The embedded store the configuration names, opened (created on first use)."""
    if settings.store.backend == "memory":
        from coinswarm.adapters.memory_store import MemoryStore

        return MemoryStore()
    from coinswarm.adapters.sqlite_store import SqliteStore

    return SqliteStore(settings.store.path)


@dataclass
class Stores:
    state: StateStore
    history: HistoryStore
    coordination: CoordinationStore


def open_stores(settings: Settings, embedded: Any | None = None) -> Stores:
    """An adapter for each port, as configured. A cloud SDK is imported only when its adapter is
    chosen, so a function that uses DynamoDB never loads the Azure or Google libraries."""
    chosen = settings.store
    need_embedded = "default" in (chosen.state, chosen.history, chosen.coordination)
    base = embedded if embedded is not None else open_store(settings) if need_embedded else None
    opened: dict[str, Any] = {}

    def adapter(kind: str) -> Any:
        if kind == "default":
            return base
        if kind not in opened:
            opened[kind] = _cloud_adapter(kind, settings)
        return opened[kind]

    return Stores(adapter(chosen.state), adapter(chosen.history), adapter(chosen.coordination))


def _cloud_adapter(kind: str, settings: Settings) -> Any:
    if kind == "dynamodb":
        from coinswarm.adapters.dynamodb_store import DynamoStore

        return DynamoStore.from_settings(settings)
    if kind == "firestore":
        from coinswarm.adapters.firestore_store import FirestoreStore

        return FirestoreStore.from_settings(settings)
    if kind == "cosmos":
        from coinswarm.adapters.cosmos_history import CosmosHistoryStore

        return CosmosHistoryStore.from_settings(settings)
    raise ValueError(f"no store adapter called {kind!r}")


def build_broker(settings: Settings, state: StateStore) -> Broker:
    if settings.mode == "live":
        try:
            from coinswarm.wiring.live import build_live_broker
        except ImportError as exc:
            raise LiveTradingUnavailable(
                f"mode 'live' is configured, but the live pieces cannot load ({exc}); install the live extra "
                "(pip install 'coinswarm[live]'), or set mode = 'paper' (the default) to trade on paper"
            ) from None
        return build_live_broker(settings, state)  # refuses a key that can withdraw, a size over the cap
    from coinswarm.adapters.paper_broker import PaperBroker

    return PaperBroker(
        state,
        account=settings.account,
        starting_cash=settings.paper.starting_cash,
        fee_bps=settings.paper.fee_bps,
        slippage_bps=settings.paper.slippage_bps,
        min_order_notional=settings.risk.min_order_notional,
    )


def memory_factory(settings: Settings) -> Callable[[], AgentMemory]:
    """Fresh agents and market-state tracker, built from the configuration (checked once, here)."""
    build_agents(settings.committee.weights, settings.agents)  # refuse a bad configuration now

    def fresh() -> AgentMemory:
        agents, _ = build_agents(settings.committee.weights, settings.agents)
        return AgentMemory(agents=agents, tracker=MarketStateTracker(settings.committee.cache.price_bucket_bps))

    return fresh


def build_app(
    settings: Settings,
    *,
    market: MarketData,
    store: Any | None = None,
    clock: Clock | None = None,
    broker: Broker | None = None,
    agent_memory: AgentMemoryStore | None = None,
    limits: RiskLimits | None = None,
    stores: Stores | None = None,
) -> App:
    """`stores` replaces the adapters the configuration names (a test's shims around a stand-in)."""
    stores = stores or open_stores(settings, embedded=store)
    state, history, coordination = stores.state, stores.history, stores.coordination
    clock = clock or SystemClock()
    broker = broker or build_broker(settings, state)
    _, weights = build_agents(settings.committee.weights, settings.agents)
    cache = PatternCache(settings.committee.cache.max_entries) if settings.committee.cache.enabled else None
    committee = Committee(
        weights, quorum=settings.committee.quorum, threshold=settings.committee.threshold, cache=cache
    )
    ledger = Ledger(history, settings.ledger_stream)
    fees: Mapping[str, float] = {v.name: v.fee_bps for v in settings.venues}
    stages = Stages(
        ingest=IngestStage(
            market, state, timeframe_s=settings.timeframe_s, warmup_candles=settings.market.warmup_candles
        ),
        scoring=ScoringStage(
            agent_memory or StoredAgentMemory(state),
            memory_factory(settings),
            state,
            timeframe_s=settings.timeframe_s,
            max_bridged_gap=settings.market.max_bridged_gap,
            warmup_candles=settings.market.warmup_candles,
            primary_venue=settings.primary_venue.name,
            fee_bps=fees,
            track_market_state=settings.committee.cache.enabled,
        ),
        vote=VoteStage(
            committee,
            history,
            SizingRule(
                buy_notional=settings.sizing.buy_notional,
                buy_fraction=settings.sizing.buy_fraction,
                sell_fraction=settings.sizing.sell_fraction,
            ),
        ),
        placement=PlacementStage(
            broker,
            state,
            history,
            coordination,
            clock,
            limits or limits_from(settings.risk),
            account=settings.account,
            trade_lease_s=max(1, settings.timeframe_s // 2),
        ),
        logging=TradeLoggingStage(ledger),
    )
    ledger.open_account(settings.paper.starting_cash, clock.now())
    return App(settings, clock, state, history, coordination, market, broker, ledger, stages, cache)
