"""The typed configuration: the single source of truth for symbols, venues, cadence, agent weights,
thresholds, risk limits, fees and wiring. Local runs, cloud entry points, Terraform and the budget
model all read this one model (see `coinswarm config show`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from coinswarm.config.deploy import DeployConfig
from coinswarm.config.remote import NotifyConfig, RemoteConfig

if TYPE_CHECKING:
    from coinswarm.domain.exits import ExitRules

PositiveMoney = Annotated[float, Field(gt=0.0)]
Bps = Annotated[float, Field(ge=0.0, le=1000.0, description="basis points: 1 bp = 0.01 %")]

#: Candle sizes Coinswarm trades on: every fixed size Coinbase or Binance serves from a minute up
#: (coinswarm.venues.download.VENUE_TIMEFRAMES says which venue serves which).
TIMEFRAMES: dict[str, int] = {
    "1m": 60,
    "3m": 180,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "2h": 7200,
    "4h": 14400,
    "6h": 21600,
    "8h": 28800,
    "12h": 43200,
    "1d": 86400,
    "3d": 259200,
    "1w": 604800,
}
SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,10}-[A-Z0-9]{2,10}$")


class Section(BaseModel):
    """A section of the configuration. `defer_build`: validators are built when the configuration is
    first loaded, not at import (an entry point's cold start imports this module but may read a
    configuration only later). For the same reason the sections below are defaults by factory: a
    default instance made in a class body would build its section's validator at import."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class PaperConfig(Section):
    """The paper broker: simulated fills, the default and only broker until live is enabled."""

    starting_cash: PositiveMoney = 10_000.0
    fee_bps: Bps = 60.0
    slippage_bps: Bps = 5.0


class RiskConfig(Section):
    """Limits checked before every order, in the quote currency."""

    max_position_notional: PositiveMoney = 3_000.0
    max_total_exposure: PositiveMoney = 7_500.0
    max_daily_loss: PositiveMoney = 500.0
    max_orders_per_day: Annotated[int, Field(ge=1)] = 48
    min_order_notional: PositiveMoney = 10.0


class SizingConfig(Section):
    """How a committee decision becomes an order: buy a fixed notional (or a share of the cash),
    sell a share of the position."""

    buy_notional: PositiveMoney | None = 1_000.0
    buy_fraction: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    sell_fraction: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0

    @model_validator(mode="before")
    @classmethod
    def _clear_default_notional(cls, data: Any) -> Any:
        """buy_notional's default stands only while buy_fraction is not given: setting the fraction (in TOML,
        in the environment) replaces it, rather than meeting it as a second size."""
        if isinstance(data, dict) and data.get("buy_fraction") is not None and "buy_notional" not in data:
            return {**data, "buy_notional": None}
        return data

    @model_validator(mode="after")
    def _one_buy_size(self) -> SizingConfig:
        if (self.buy_notional is None) == (self.buy_fraction is None):
            raise ValueError(
                "set exactly one of buy_notional and buy_fraction (setting buy_fraction alone replaces the default "
                "buy_notional)"
            )
        return self


class ExitConfig(Section):
    """How a position is closed besides a committee SELL (docs/exits.md has the exact semantics; they follow
    freqtrade's backtesting). Percentages are of the entry price; `roi` maps minutes since entry to the
    minimum profit % that takes the profit (freqtrade's `minimal_roi`)."""

    stop_loss_pct: Annotated[float, Field(gt=0.0, lt=100.0)] | None = Field(
        default=10.0, description="exit when the price falls this far below the entry price; unset: no stop-loss"
    )
    roi: dict[str, Annotated[float, Field(ge=-100.0)]] = Field(
        default_factory=dict, description='minutes since entry -> minimum profit %, e.g. {"0" = 4.0, "60" = 2.0}'
    )
    trailing_stop_pct: Annotated[float, Field(gt=0.0, lt=100.0)] | None = Field(
        default=None, description="once trailing, exit when the price falls this far below its highest since entry"
    )
    trailing_offset_pct: Annotated[float, Field(ge=0.0, lt=1000.0)] = Field(
        default=0.0, description="the profit at which the trailing stop takes over (freqtrade's positive offset)"
    )
    trailing_only_offset_reached: bool = False
    max_hold_minutes: Annotated[int, Field(ge=1)] | None = None
    exit_on_signal: bool = Field(default=True, description="whether a committee SELL vote exits")

    @field_validator("stop_loss_pct", "trailing_stop_pct", "max_hold_minutes", mode="before")
    @classmethod
    def _off(cls, v: Any) -> Any:
        """TOML has no null: `stop_loss_pct = "off"` turns a rule off (so does null in an environment variable)."""
        return None if isinstance(v, str) and v.strip().lower() in ("off", "none", "") else v

    @field_validator("roi")
    @classmethod
    def _roi_minutes(cls, v: dict[str, float]) -> dict[str, float]:
        for minutes in v:
            if not minutes.isdigit():
                raise ValueError(f"exits.roi: {minutes!r} is not a whole number of minutes since entry")
        return v

    def rules(self) -> ExitRules:
        """These settings as the domain's plain exit rules (exit_on_signal stays the caller's)."""
        from coinswarm.domain.exits import ExitRules

        return ExitRules.build(
            stop_loss_pct=self.stop_loss_pct,
            roi=self.roi,
            trailing_stop_pct=self.trailing_stop_pct,
            trailing_offset_pct=self.trailing_offset_pct,
            trailing_only_offset_reached=self.trailing_only_offset_reached,
            max_hold_minutes=self.max_hold_minutes,
        )


class SearchRange(Section):
    """One dimension of `coinswarm optimize`'s search: `low`..`high` (integers when both are, with
    `step` if given, on a log scale with `log`), or one of `choices`."""

    low: int | float | None = None
    high: int | float | None = None
    step: Annotated[int | float, Field(gt=0)] | None = None
    log: bool = False
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _range_or_choices(self) -> SearchRange:
        if self.choices is not None:
            if not self.choices or self.low is not None or self.high is not None:
                raise ValueError("give either choices (a non-empty list) or low and high, not both")
            return self
        if self.low is None or self.high is None or not self.low <= self.high:
            raise ValueError("give low <= high (or choices)")
        if self.log and self.low <= 0:
            raise ValueError("a log-scale range needs low above 0")
        return self

    @property
    def integer(self) -> bool:
        """Both bounds (and the step, if any) written as integers: the dimension takes whole numbers."""
        return (
            self.choices is None
            and all(isinstance(v, int) for v in (self.low, self.high))
            and (self.step is None or isinstance(self.step, int))
        )


Objective = Literal["sharpe", "sortino", "calmar", "return_dd", "profit"]


class OptimizeConfig(Section):
    """`coinswarm optimize` (docs/optimize.md): what to search, what to maximise, and the walk-forward
    folds it is judged on. `space` maps a setting's dotted path (`agents.trend.fast`,
    `committee.weights.trend`, `committee.threshold`, `exits.stop_loss_pct`, `sizing.buy_fraction`) to its
    range; empty: the default ranges of the built-in agents with a weight, the committee and the sizing."""

    space: dict[str, SearchRange] = Field(default_factory=dict)
    objectives: list[Objective] = Field(default_factory=lambda: list[Objective](["sharpe"]), min_length=1)
    min_trades: Annotated[int, Field(ge=0)] = Field(
        default=10, description="a trial with fewer round trips in its window scores as the worst"
    )
    trials: Annotated[int, Field(ge=1)] = Field(default=100, description="trials per fold")
    folds: Annotated[int, Field(ge=1)] = 5
    train_bars: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="a rolling training window of this many bars; unset: anchored at the first bar"
    )
    test_bars: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="bars per test window; unset: the bars split into folds + 1 equal parts"
    )
    purge_bars: Annotated[int, Field(ge=0)] = 0
    embargo_bars: Annotated[int, Field(ge=0)] = 0
    storage: str = Field(
        default="sqlite:///.coinswarm/optimize.db",
        description="the optuna storage URL: SQLite by default; a PostgreSQL or MySQL URL to share across machines",
    )
    study: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] = "coinswarm"
    workers: Annotated[int, Field(ge=0)] = Field(default=0, description="trial processes; 0: one per core")
    seed: int | None = None


class CooldownConfig(Section):
    """No new entry on a symbol for a while after a stop-loss exit on it (freqtrade's CooldownPeriod)."""

    candles: Annotated[int, Field(ge=0, le=10_000)] = Field(
        default=0, description="candles without a new entry on a symbol after its stop-loss exit; 0: off"
    )


class StopLossGuardConfig(Section):
    """Too many stop-losses in a row pause entries (freqtrade's StoplossGuard): a stop-loss exit, or a
    trailing stop that exited at a loss, counts."""

    trades: Annotated[int, Field(ge=0, le=1000)] = Field(
        default=0, description="this many stop-losses within lookback_minutes pause entries; 0: off"
    )
    lookback_minutes: Annotated[int, Field(ge=1)] = 1440
    pause_minutes: Annotated[int, Field(ge=1)] = Field(default=60, description="from the last of those exits")
    per_symbol: bool = Field(default=True, description="pause the symbol that hit them (true) or every symbol")


class MaxDrawdownConfig(Section):
    """A drawdown of the account beyond a limit pauses every entry (freqtrade's MaxDrawdown). The equity
    is the starting cash plus the profit of the exits (closed trades), as freqtrade measures it."""

    max_drawdown_pct: Annotated[float, Field(gt=0.0, le=100.0)] | None = Field(
        default=None, description="the drawdown within lookback_minutes that pauses entries; unset: off"
    )
    lookback_minutes: Annotated[int, Field(ge=1)] = 1440
    pause_minutes: Annotated[int, Field(ge=1)] = Field(default=60, description="from the exit that reached it")


class ProtectionsConfig(Section):
    """Pauses of new entries after losses, evaluated on the ledger (so they survive restarts and hold
    across functions). Exits are never paused. All off by default, as in freqtrade."""

    cooldown: CooldownConfig = Field(default_factory=CooldownConfig)
    stop_loss_guard: StopLossGuardConfig = Field(default_factory=StopLossGuardConfig)
    max_drawdown: MaxDrawdownConfig = Field(default_factory=MaxDrawdownConfig)


class PatternCacheConfig(Section):
    enabled: bool = True
    max_entries: Annotated[int, Field(ge=1)] = 4096
    price_bucket_bps: Annotated[float, Field(gt=0.0)] = 50.0


class CommitteeConfig(Section):
    """The weighted vote: each agent's weight. An agent is a built-in name, an installed
    'package.module:Class', or any name whose [agents.NAME] gives `path` = its file (docs/agents.md)."""

    weights: dict[str, Annotated[float, Field(ge=0.0)]] = Field(
        default_factory=lambda: {"trend": 1.0, "mean_reversion": 1.0, "arbitrage": 1.0}
    )
    quorum: Annotated[int, Field(ge=1)] = 2
    threshold: Annotated[float, Field(gt=0.0, le=1.0)] = 0.8
    cache: PatternCacheConfig = Field(default_factory=PatternCacheConfig)

    @model_validator(mode="after")
    def _voters(self) -> CommitteeConfig:
        active = [name for name, w in self.weights.items() if w > 0]
        if not active:
            raise ValueError("give at least one agent a weight above 0")
        if self.quorum > len(active):
            raise ValueError(f"quorum {self.quorum} exceeds the {len(active)} agents with a weight above 0")
        return self


class VenueConfig(Section):
    """A venue the bot reads prices from and (only in live mode) trades on."""

    name: Literal["coinbase", "binance"]
    fee_bps: Bps
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None


class MarketConfig(Section):
    """Where candles come from when `coinswarm run` is given no --replay or --synthetic."""

    source: Literal["auto", "coinbase", "synthetic", "venue"] = Field(
        default="auto", description='"venue": candles and book tops from the first venue\'s client (live or paper)'
    )
    coinbase_url: str = "https://api.coinbase.com"
    connect_timeout_s: Annotated[float, Field(gt=0.0, le=30.0)] = 1.5
    warmup_candles: Annotated[int, Field(ge=1, le=1000)] = 300
    synthetic_seed: int = 7
    max_bridged_gap: Annotated[int, Field(ge=0)] = Field(
        default=1, description="missing candles an agent may see through; a longer gap resets it"
    )
    backfill_horizon: Annotated[int, Field(ge=0, le=300)] = Field(
        default=60, description="a missing candle is asked for again while at most this many candles old; 0: never"
    )


class StoreConfig(Section):
    """Where state lives. By default all three ports share one SQLite file (`backend`, `path`);
    in the clouds each port may live in its own service."""

    backend: Literal["sqlite", "memory"] = "sqlite"
    path: str = ".coinswarm/coinswarm.db"
    state: Literal["default", "dynamodb", "firestore"] = Field(
        default="default", description="hot state: candles, agent memory, the paper book, flags"
    )
    history: Literal["default", "cosmos"] = Field(
        default="default", description="the ledger and its projections, decisions, rejections"
    )
    coordination: Literal["default", "dynamodb", "firestore"] = Field(
        default="default", description="idempotency records and leases"
    )


class AwsConfig(Section):
    """AWS: DynamoDB tables (and, with the cloud entry points, SQS and SSM)."""

    region: str = "us-east-1"
    endpoint_url: str | None = Field(default=None, description="a local stand-in (moto server) instead of AWS")
    table_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] = "coinswarm"


class AzureConfig(Section):
    """Azure: the Cosmos DB account that keeps the history."""

    cosmos_endpoint: str | None = None
    cosmos_key: SecretStr | None = None
    cosmos_database: str = "coinswarm"
    endpoint_discovery: bool = Field(
        default=True,
        description="let the SDK find the account's regional endpoints; false for a single-region account "
        "reached at one address (or a local stand-in)",
    )


class GcpConfig(Section):
    """Google Cloud: Firestore (and, with the cloud entry points, Pub/Sub and Secret Manager)."""

    project: str = "coinswarm"
    firestore_database: str = "(default)"
    collection_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = "coinswarm"


class PushConfig(Section):
    """The signed HTTP push that carries a hop between clouds (see coinswarm.adapters.http_push_bus).
    The secret is never a setting: COINSWARM_PUSH_SECRET locally, SSM or Secret Manager in the cloud."""

    urls: dict[Literal["candles", "scores", "decisions", "placements"], str] = Field(
        default_factory=dict, description="the push receiver URL of each topic whose consumer runs on the other cloud"
    )
    connect_timeout_s: Annotated[float, Field(gt=0.0, le=30.0)] = 2.0
    read_timeout_s: Annotated[float, Field(gt=0.0, le=120.0)] = 25.0
    attempts: Annotated[int, Field(ge=1, le=10)] = 5
    backoff_s: Annotated[float, Field(gt=0.0, le=10.0)] = 0.5
    max_backoff_s: Annotated[float, Field(gt=0.0, le=60.0)] = 8.0
    window_s: Annotated[int, Field(ge=30, le=900)] = Field(default=300, description="signature replay window")

    @field_validator("urls")
    @classmethod
    def _urls(cls, v: dict[str, str]) -> dict[str, str]:
        for topic, url in v.items():
            if not re.match(r"^https://[^/\s]+(/\S*)?$", url) and not re.match(
                r"^http://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]+)?(/\S*)?$", url
            ):
                raise ValueError(f"push.urls.{topic}: give an https:// URL (plain http only to this machine)")
        return v


class LiveConfig(Section):
    """Live trading needs mode = "live" AND confirm = true AND keys. Paper is the default.

    Orders go to the first of `venues`; at start-up its key's permissions are checked and a key that can
    withdraw or transfer funds is refused. `venue_url` points the venue client (and `market.source =
    "venue"`) elsewhere: the local fake exchange (`coinswarm.venues.fake`) to rehearse."""

    confirm: bool = Field(
        default=False,
        strict=True,  # only a real boolean true: "yes", "true" or 1 in a TOML file is no confirmation
        description="true, a boolean (not a string or a number), to trade real money",
    )
    max_order_notional: PositiveMoney = Field(
        default=100.0, description="the most one order may be worth, in the quote currency; a larger one is refused"
    )
    venue_url: str | None = Field(default=None, description="the venue's API address; unset: the venue's own")
    max_price_gap_pct: Annotated[float, Field(gt=0.0, le=50.0)] = Field(
        default=5.0, description="an order whose decision saw a price this far from the venue's book is refused"
    )
    stale_quote_s: Annotated[float, Field(gt=0.0, le=3600.0)] = Field(
        default=120.0, description="a venue's book top older than this is not used"
    )
    breaker_failures: Annotated[int, Field(ge=1, le=100)] = Field(
        default=5, description="failures in a row that open the circuit breaker (no new orders)"
    )
    breaker_cooldown_s: Annotated[float, Field(gt=0.0, le=3600.0)] = Field(
        default=60.0, description="how long the open breaker refuses new orders before one probe"
    )
    protective_stops: bool = Field(
        default=True,
        description="after each entry, rest a stop-limit sell at the venue exits.stop_loss_pct below the entry price",
    )
    stop_limit_offset_pct: Annotated[float, Field(gt=0.0, lt=50.0)] = Field(
        default=1.0, description="how far below the protective stop's trigger its limit price lies"
    )

    @field_validator("venue_url")
    @classmethod
    def _venue_url(cls, v: str | None) -> str | None:
        if (
            v is not None
            and not re.match(r"^https://[^/\s]+/?$", v)
            and not re.match(r"^http://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]+)?/?$", v)
        ):
            raise ValueError("live.venue_url: give an https:// address (plain http only to this machine), no path")
        return v


class Settings(BaseModel):
    """The whole configuration. Every field has a safe default: paper trading, no keys."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    mode: Literal["paper", "live"] = "paper"
    account: Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,32}$")] = "paper"
    symbols: tuple[str, ...] = ("BTC-USD", "ETH-USD", "SOL-USD")
    timeframe: str = Field(default="1m", description=f"candle size and cycle cadence: one of {', '.join(TIMEFRAMES)}")
    wiring: Literal["fused", "mesh"] = "mesh"
    venues: tuple[VenueConfig, ...] = Field(default_factory=lambda: (VenueConfig(name="coinbase", fee_bps=60.0),))
    committee: CommitteeConfig = Field(default_factory=CommitteeConfig)
    agents: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description='per-agent parameters, e.g. [agents.trend] fast = 12; `path = "agents/x.py"`: the agent\'s file',
    )
    risk: RiskConfig = Field(default_factory=RiskConfig)
    sizing: SizingConfig = Field(default_factory=SizingConfig)
    exits: ExitConfig = Field(default_factory=ExitConfig)
    protections: ProtectionsConfig = Field(default_factory=ProtectionsConfig)
    paper: PaperConfig = Field(default_factory=PaperConfig)
    market: MarketConfig = Field(default_factory=MarketConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    aws: AwsConfig = Field(default_factory=AwsConfig)
    azure: AzureConfig = Field(default_factory=AzureConfig)
    gcp: GcpConfig = Field(default_factory=GcpConfig)
    live: LiveConfig = Field(default_factory=LiveConfig)
    deploy: DeployConfig = Field(default_factory=DeployConfig)
    push: PushConfig = Field(default_factory=PushConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    remote: RemoteConfig = Field(default_factory=RemoteConfig)
    optimize: OptimizeConfig = Field(default_factory=OptimizeConfig)

    @field_validator("symbols")
    @classmethod
    def _symbols(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("configure at least one symbol")
        for s in v:
            if not SYMBOL_RE.match(s):
                raise ValueError(f"{s!r} is not a symbol like BTC-USD (BASE-QUOTE, upper case)")
        if len(set(v)) != len(v):
            raise ValueError("a symbol is listed twice")
        return v

    @field_validator("timeframe")
    @classmethod
    def _timeframe(cls, v: str) -> str:
        if v not in TIMEFRAMES:
            raise ValueError(f"{v!r} is not a timeframe; use one of {', '.join(TIMEFRAMES)}")
        return v

    @field_validator("venues")
    @classmethod
    def _venues(cls, v: tuple[VenueConfig, ...]) -> tuple[VenueConfig, ...]:
        if not v:
            raise ValueError("configure at least one venue")
        names = [x.name for x in v]
        if len(set(names)) != len(names):
            raise ValueError("a venue is listed twice")
        return v

    @model_validator(mode="before")
    @classmethod
    def _resolve_agent_paths(cls, data: Any, info: ValidationInfo) -> Any:
        """A relative `[agents.NAME] path` is relative to the configuration file (the loader passes its
        directory as `config_dir`); made absolute here, so the setting means the same file wherever it
        is validated again."""
        base = (info.context or {}).get("config_dir")
        agents = data.get("agents") if isinstance(data, dict) else None
        if base is None or not isinstance(agents, dict):
            return data
        from coinswarm.agent_registry import PATH_KEY

        fixed = {}
        for name, params in agents.items():
            path = params.get(PATH_KEY) if isinstance(params, dict) else None
            if isinstance(path, str) and not Path(path).expanduser().is_absolute():
                params = {**params, PATH_KEY: str(Path(base).absolute() / path)}
            fixed[name] = params
        return {**data, "agents": fixed}

    @model_validator(mode="after")
    def _agents_exist(self) -> Settings:
        """Every agent can be found and built with its parameters (the registry knows them); else the
        error names the setting at fault, e.g. committee.weights.NAME or agents.NAME.PARAM."""
        from coinswarm.agent_registry import UnknownAgentError, check_agents

        try:
            check_agents(self.committee.weights, self.agents)
        except UnknownAgentError as exc:
            loc = exc.loc or ("agents",)
            given: Any = {"committee": {"weights": self.committee.weights}, "agents": self.agents}
            for part in loc:
                given = given.get(part) if isinstance(given, dict) else None
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [InitErrorDetails(type=PydanticCustomError("agent", str(exc)), loc=loc, input=given)],
            ) from None
        return self

    @model_validator(mode="after")
    def _cosmos_is_reachable(self) -> Settings:
        if self.store.history == "cosmos" and not (self.azure.cosmos_endpoint and self.azure.cosmos_key):
            raise ValueError("store.history = 'cosmos' needs azure.cosmos_endpoint and azure.cosmos_key")
        return self

    @model_validator(mode="after")
    def _live_is_deliberate(self) -> Settings:
        if self.mode == "live":
            if not self.live.confirm:
                raise ValueError('mode "live" also needs live.confirm = true: live trading risks real money')
            if not all(x.api_key and x.api_secret for x in self.venues[:1]):
                raise ValueError(f'mode "live" needs api_key and api_secret for venue {self.venues[0].name}')
        return self

    @property
    def timeframe_s(self) -> int:
        return TIMEFRAMES[self.timeframe]

    @property
    def primary_venue(self) -> VenueConfig:
        return self.venues[0]

    @property
    def ledger_stream(self) -> str:
        return f"account:{self.account}"
