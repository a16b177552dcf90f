"""The composition root: the one place that turns a configuration into adapters and stages.

`build_app` returns an `App` whose parts (the stores, the market data, the broker, the ledger, each of
the five stages) are each built by a builder below, the first time something uses it, and then kept.
A local run, a backtest or a test asks for the whole App (the default: every part built at once, in
order, and a bad configuration refused at once); a cloud function asks for a lazy App (`lazy=True`),
so the function that runs one stage builds, and imports, that stage and what it needs and nothing else:
tick_ingest never loads the agents, the committee or the risk rules, and the ledger stage never opens the
hot-state store. Built once per process (per warm container in the cloud) and reused. Nothing here
runs at import, and the stages and domain are imported only by the builders that need them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast, overload

from coinswarm.errors import CoinswarmError
from coinswarm.ports.clock import Clock, SystemClock
from coinswarm.stages.messages import CANDLES, DECISIONS, PLACEMENTS, SCORES, TICK, Message

if TYPE_CHECKING:
    from coinswarm.config.settings import Settings
    from coinswarm.domain.committee import PatternCache
    from coinswarm.domain.risk import RiskLimits
    from coinswarm.ports.broker import Broker
    from coinswarm.ports.coordination import CoordinationStore
    from coinswarm.ports.history import HistoryStore
    from coinswarm.ports.market import MarketData
    from coinswarm.ports.state import StateStore
    from coinswarm.stages.agent_memory import AgentMemory, AgentMemoryStore
    from coinswarm.stages.exit_watch import ExitWatch
    from coinswarm.stages.ingest import IngestStage
    from coinswarm.stages.ledger import Ledger
    from coinswarm.stages.ledger_stage import LedgerStage
    from coinswarm.stages.outbox import Outbox
    from coinswarm.stages.placement import PlacementStage
    from coinswarm.stages.scoring import ScoringStage
    from coinswarm.stages.vote import VoteStage

Route = Callable[[Any], list[tuple[str, Message]]]
Builder = Callable[["App"], Any]

STAGE_OF_TOPIC: Mapping[str, str] = {
    TICK: "ingest",
    CANDLES: "scoring",
    SCORES: "vote",
    DECISIONS: "placement",
    PLACEMENTS: "ledger",
}
"""Which stage consumes which topic."""

T = TypeVar("T")


class Part(Generic[T]):
    """A part of an App, declared once with its type: read as an attribute, it is built by its builder
    the first time and then kept. Its name is the attribute's, unless given (`key`)."""

    def __init__(self, key: str | None = None) -> None:
        self.key = key or ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.key = self.key or name

    @overload
    def __get__(self, obj: None, owner: type) -> Part[T]: ...

    @overload
    def __get__(self, obj: App | Stages, owner: type) -> T: ...

    def __get__(self, obj: App | Stages | None, owner: type) -> Part[T] | T:
        if obj is None:
            return self
        return cast(T, obj.part(self.key))


def _declared(*owners: type) -> frozenset[str]:
    return frozenset(v.key for owner in owners for v in vars(owner).values() if isinstance(v, Part))


_MISSING = object()


class App:
    """The settings, the clock, and every other part built on first use (once: a lock guards each build,
    so two threads of one container never build a stage twice). `builders` builds each declared part;
    `build_all` builds them in the builders' order."""

    state = Part["StateStore"]()
    history = Part["HistoryStore"]()
    coordination = Part["CoordinationStore"]()
    market = Part["MarketData"]()
    broker = Part["Broker"]()
    cache = Part["PatternCache | None"]()
    outbox = Part["Outbox | None"]()
    ledger = Part["Ledger"]("ledger_service")

    def __init__(self, settings: Settings, clock: Clock, builders: Mapping[str, Builder]) -> None:
        declared = _declared(App, Stages)
        if set(builders) != declared:
            missing, unknown = sorted(declared - set(builders)), sorted(set(builders) - declared)
            raise TypeError(f"App: builders missing for {missing}, or for no declared part: {unknown}")
        self.settings = settings
        self.clock = clock
        self.extras: dict[str, Any] = {}
        self.stages = Stages(self)
        self._builders = dict(builders)
        self._made: dict[str, Any] = {}
        self._lock = threading.RLock()

    def part(self, name: str) -> Any:
        """The part called `name`, built now if it was not yet."""
        made = self._made.get(name, _MISSING)
        if made is _MISSING:
            with self._lock:
                made = self._made.get(name, _MISSING)
                if made is _MISSING:
                    made = self._builders[name](self)
                    self._made[name] = made
        return made

    def built(self) -> frozenset[str]:
        """The parts built so far."""
        return frozenset(self._made)

    def build_all(self) -> App:
        for name in self._builders:
            self.part(name)
        return self


class Stages:
    """The five stages of an App, each built the first time it is used."""

    ingest = Part["IngestStage"]()
    scoring = Part["ScoringStage"]()
    vote = Part["VoteStage"]()
    placement = Part["PlacementStage"]()
    ledger = Part["LedgerStage"]()

    def __init__(self, app: App) -> None:
        self._app = app

    def part(self, name: str) -> Any:
        return self._app.part(name)

    def routes(self) -> dict[str, Route]:
        """Which stage consumes which topic: the stage's `handle`, or, for a stage not built yet, a route
        that builds it on its first message (a push receiver builds only the stages it is pushed)."""
        return {topic: self._route(name) for topic, name in STAGE_OF_TOPIC.items()}

    def _route(self, name: str) -> Route:
        app = self._app
        if name in app.built():
            return cast(Route, app.part(name).handle)

        def route(message: Any) -> list[tuple[str, Message]]:
            return cast(list[tuple[str, Message]], app.part(name).handle(message))

        return route


class LiveTradingUnavailableError(CoinswarmError, RuntimeError):
    """Live trading cannot start as configured: the message names what to fix (or trade on paper)."""

    exit_code = 2


def open_store(settings: Settings) -> Any:
    """The embedded store the configuration names, opened (created on first use)."""
    if settings.store.backend == "memory":
        from coinswarm.adapters.memory_store import MemoryStore

        return MemoryStore()
    from coinswarm.adapters.sqlite_store import SqliteStore, synchronous_for

    return SqliteStore(settings.store.path, synchronous=synchronous_for(settings.mode))


@dataclass
class Stores:
    state: StateStore
    history: HistoryStore
    coordination: CoordinationStore


class StoreOpener:
    """Opens the adapter of each kind `store.*` names the first time a port asks for it, and once: the
    embedded default serves every port that says "default", one cloud adapter every port that names it."""

    def __init__(self, settings: Settings, embedded: Any | None = None) -> None:
        self.settings = settings
        self._embedded = embedded
        self._opened: dict[str, Any] = {}
        self._lock = threading.Lock()

    def port(self, port: str) -> Any:
        """The adapter for `port` ("state", "history" or "coordination")."""
        return self.kind(getattr(self.settings.store, port))

    def kind(self, kind: str) -> Any:
        with self._lock:
            if kind not in self._opened:
                if kind == "default":
                    self._opened[kind] = self._embedded if self._embedded is not None else open_store(self.settings)
                else:
                    self._opened[kind] = _cloud_adapter(kind, self.settings)
            return self._opened[kind]


def open_stores(settings: Settings, embedded: Any | None = None) -> Stores:
    """An adapter for each port, as configured. A cloud SDK is imported only when its adapter is
    chosen, so a function that uses DynamoDB never loads the Azure or Google libraries."""
    opener = StoreOpener(settings, embedded)
    return Stores(opener.port("state"), opener.port("history"), opener.port("coordination"))


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


def build_broker(settings: Settings, state: StateStore, history: Callable[[], HistoryStore] | None = None) -> Broker:
    if settings.mode == "live":
        try:
            from coinswarm.wiring.live import build_live_broker
        except ImportError as exc:
            raise LiveTradingUnavailableError(
                f"mode 'live' is configured, but the live pieces cannot load ({exc}); install the live extra "
                "(pip install 'coinswarm[live]'), or set mode = 'paper' (the default) to trade on paper"
            ) from None
        # refuses a key that can withdraw, a size over the cap; compares its book with the ledger in `history`
        return build_live_broker(settings, state, history=history)
    from coinswarm.adapters.paper_broker import PaperBroker

    return PaperBroker(
        state,
        account=settings.account,
        starting_cash=settings.paper.starting_cash,
        fee_bps=settings.paper.fee_bps,
        slippage_bps=settings.paper.slippage_bps,
        min_order_notional=settings.risk.min_order_notional,
    )


def _broker(settings: Settings, app: App) -> Broker:
    return build_broker(settings, app.state, lambda: app.history)


def memory_factory(settings: Settings) -> Callable[[], AgentMemory]:
    """Fresh agents and market-state tracker, built from the configuration (checked once, here)."""
    from coinswarm.agent_registry import build_agents
    from coinswarm.domain.market_state import MarketStateTracker
    from coinswarm.stages.agent_memory import AgentMemory

    build_agents(settings.committee.weights, settings.agents)  # refuse a bad configuration now

    def fresh() -> AgentMemory:
        agents, _ = build_agents(settings.committee.weights, settings.agents)
        return AgentMemory(agents=agents, tracker=MarketStateTracker(settings.committee.cache.price_bucket_bps))

    return fresh


def build_app(
    settings: Settings,
    *,
    market: MarketData | None = None,
    market_from: Callable[[Settings], MarketData] | None = None,
    store: Any | None = None,
    clock: Clock | None = None,
    broker: Broker | None = None,
    agent_memory: AgentMemoryStore | None = None,
    limits: RiskLimits | None = None,
    stores: Stores | None = None,
    lazy: bool = False,
    outbox: bool | None = None,
    function_timeout_s: int | None = None,
    observe: bool | None = None,
) -> App:
    """The App of `settings`. `market` is the market data, or `market_from(settings)` builds it on first
    use. `stores` replaces the adapters the configuration names (a test's shims around a stand-in).
    `lazy`: build each part on first use (a cloud function) instead of all of them now.
    `outbox`: whether the committing stages keep their hand-on with a claim on each message (see
    stages.outbox); by default in mesh wiring, where a message may come again, and not in fused wiring
    or a backtest, which deliver each message once (placement then keeps its own, as it always has).
    A cloud function always keeps one. `function_timeout_s`: how long the functions taking those claims
    may run (`deploy.timeout_s` on AWS, the default; Cloud Functions' 60 s on Google Cloud).
    `observe`: the owner's notifications after ingest and placement (coinswarm.notify.observe), and in a
    cloud function (lazy) metric lines too; by default in a cloud function only, never in a backtest."""
    keep = settings.wiring == "mesh" if outbox is None else outbox
    timeout_s = function_timeout_s or settings.deploy.timeout_s
    if (market is None) == (market_from is None):
        raise TypeError("build_app: give either market or market_from")
    if stores is None and not lazy:
        stores = open_stores(settings, embedded=store)
    opener = StoreOpener(settings, store) if stores is None else None

    def port(name: str) -> Builder:
        if stores is not None:
            adapter = getattr(stores, name)
            return lambda app: adapter
        assert opener is not None
        return lambda app: opener.port(name)

    builders: dict[str, Builder] = {  # in the order build_all builds them
        "state": port("state"),
        "history": port("history"),
        "coordination": port("coordination"),
        "market": (lambda app: market) if market is not None else (lambda app: cast(Any, market_from)(settings)),
        "broker": (lambda app: broker) if broker is not None else (lambda app: _broker(settings, app)),
        "cache": _cache,
        "outbox": lambda app: _outbox(app, keep, timeout_s),
        "ingest": _ingest,
        "scoring": lambda app: _scoring(app, agent_memory),
        "vote": _vote,
        "placement": lambda app: _placement(app, limits),
        "ledger_service": _ledger,
        "ledger": _ledger_stage,
    }
    if lazy if observe is None else observe:
        from coinswarm.notify.observe import observed

        builders = observed(builders, metrics=lazy)
    app = App(settings, clock or SystemClock(), builders)
    return app if lazy else app.build_all()


# -- the builders of the parts: each imports what it builds ---------------------------------------


def _cache(app: App) -> PatternCache | None:
    cache = app.settings.committee.cache
    if not cache.enabled:
        return None
    from coinswarm.domain.committee import PatternCache

    return PatternCache(cache.max_entries)


def _outbox(app: App, keep: bool, function_timeout_s: int) -> Outbox | None:
    """The outbox the committing stages share, or None where messages come once (see build_app)."""
    if not keep:
        return None
    from coinswarm.stages.outbox import Outbox, in_progress_ttl_s

    return Outbox(app.coordination, app.clock, in_progress_ttl_s=in_progress_ttl_s(function_timeout_s))


def _no_outbox_or(outbox: Outbox | None) -> Outbox:
    from coinswarm.stages.outbox import NO_OUTBOX

    return NO_OUTBOX if outbox is None else outbox


def _ledger(app: App) -> Ledger:
    """The ledger, its account opened (once: the opening is event 1, before any fill)."""
    from coinswarm.stages.ledger import Ledger

    settings = app.settings
    ledger = Ledger(app.history, settings.ledger_stream)
    ledger.open_account(settings.paper.starting_cash, app.clock.now())
    return ledger


def _ingest(app: App) -> IngestStage:
    from coinswarm.stages.ingest import IngestStage

    settings = app.settings
    return IngestStage(
        app.market,
        app.state,
        timeframe_s=settings.timeframe_s,
        warmup_candles=settings.market.warmup_candles,
        backfill_horizon=settings.market.backfill_horizon,
        outbox=_no_outbox_or(app.outbox),
    )


def _scoring(app: App, agent_memory: AgentMemoryStore | None) -> ScoringStage:
    from coinswarm.learning.loading import use_state_store
    from coinswarm.stages.agent_memory import StoredAgentMemory
    from coinswarm.stages.scoring import ScoringStage

    settings = app.settings
    use_state_store(app.state)  # where a learned agent's `model = "state:KEY"` is read from
    return ScoringStage(
        agent_memory or StoredAgentMemory(app.state),
        memory_factory(settings),
        app.state,
        timeframe_s=settings.timeframe_s,
        max_bridged_gap=settings.market.max_bridged_gap,
        warmup_candles=settings.market.warmup_candles,
        primary_venue=settings.primary_venue.name,
        fee_bps={v.name: v.fee_bps for v in settings.venues},
        track_market_state=settings.committee.cache.enabled,
        outbox=_no_outbox_or(app.outbox),
    )


def _vote(app: App) -> VoteStage:
    from coinswarm.agent_registry import build_agents
    from coinswarm.domain.committee import Committee
    from coinswarm.domain.sizing import SizingRule
    from coinswarm.stages.vote import VoteStage

    settings = app.settings
    _, weights = build_agents(settings.committee.weights, settings.agents)
    committee = Committee(
        weights, quorum=settings.committee.quorum, threshold=settings.committee.threshold, cache=app.cache
    )
    sizing = SizingRule(
        buy_notional=settings.sizing.buy_notional,
        buy_fraction=settings.sizing.buy_fraction,
        sell_fraction=settings.sizing.sell_fraction,
    )
    return VoteStage(committee, app.history, sizing, outbox=_no_outbox_or(app.outbox))


def _placement(app: App, limits: RiskLimits | None) -> PlacementStage:
    from coinswarm.domain.protections import rules_from
    from coinswarm.domain.risk import limits_from
    from coinswarm.stages.placement import PlacementStage

    settings = app.settings
    return PlacementStage(
        app.broker,
        app.state,
        app.history,
        app.coordination,
        app.clock,
        limits or limits_from(settings.risk),
        account=settings.account,
        trade_lease_s=max(1, settings.timeframe_s // 2),
        outbox=app.outbox,
        protections=rules_from(settings.protections, settings.timeframe_s),
        exit_on_signal=settings.exits.exit_on_signal,
        exits=_exit_watch(app),
    )


def _exit_watch(app: App) -> ExitWatch | None:
    """The exit rules of [exits], checked on every candle of an open position (stages.exit_watch), unless the
    broker applies them itself (a backtest's)."""
    from coinswarm.stages.exit_watch import ExitWatch, ledger_average_cost

    if app.broker.applies_exit_rules:
        return None
    settings = app.settings
    fee_bps = settings.paper.fee_bps if settings.mode == "paper" else settings.primary_venue.fee_bps
    return ExitWatch(
        settings.exits.rules(),
        app.state,
        account=settings.account,
        timeframe_s=settings.timeframe_s,
        fee_rate=fee_bps / 1e4,
        entry_price_of=ledger_average_cost(app.history, settings.ledger_stream),
    )


def _ledger_stage(app: App) -> LedgerStage:
    from coinswarm.learning.live_episodes import EpisodeKeeper
    from coinswarm.stages.ledger_stage import LedgerStage

    return LedgerStage(app.ledger, EpisodeKeeper(app.history, app.state, app.settings.timeframe_s))
