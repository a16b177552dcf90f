"""Where `coinswarm run` gets its candles, and at which times its cycles run.

- `--replay FILE [FILE ...]`: the files' candles (one symbol each, one timeframe), as if they arrived
  live, one cycle per candle close of any of them (simulated clock);
- `--synthetic`: a seeded synthetic series per symbol, clearly labelled (simulated clock);
- `market.source = "venue"`: candles and book tops from the first venue's own client (no fallback);
- otherwise live public candles from Coinbase Advanced Trade, when reachable within a short connect
  timeout; an offline machine falls back to the synthetic series at once, and says so.

In live mode (real orders) only the venue's own market data is used, never a fallback: a replay, the
synthetic series, or another market's prices would be refused order by order by the live broker
anyway, so they are refused here, at once, saying what to do instead.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from coinswarm.config.settings import TIMEFRAMES, Settings
from coinswarm.domain.models import Candle
from coinswarm.marketdata.candle_files import CandleFileError, load_candles, symbol_problem
from coinswarm.marketdata.replay import ReplayMarketData
from coinswarm.marketdata.synthetic import synthetic_candles
from coinswarm.ports.clock import Clock, SimulatedClock, SystemClock
from coinswarm.ports.market import MarketData

from .common import fail

START_PRICES = {"BTC": 60_000.0, "ETH": 3_000.0, "SOL": 150.0}
LIVE_DELAY_S = 3  # ask for a candle this long after it closes
DEFAULT_CYCLES = 240  # of live data, or of the synthetic series (a replay's default is its whole file)


@dataclass(frozen=True)
class Warmup:
    """A simulation's candles: the first `warmup` only warm the agents up (the first cycle then sees them
    and the candle it trades on), then `cycles` cycles, one per candle close."""

    candles: int
    warmup: int
    cycles: int

    def describe(self, setting: int, *, asked: bool) -> str:
        """For the banner. `setting`: market.warmup_candles; `asked`: whether --cycles set the count."""
        halved = ", at most half the candles" if self.warmup + 1 < setting else ""
        limit = f"market.warmup_candles = {setting}{halved}"
        rest = self.candles - self.warmup
        until = " to the end" if self.cycles == rest else f" of the {rest} left (--cycles)" if asked else ""
        return (
            f"{self.candles} candles: the first {self.warmup} taken as warm-up before trading ({limit}), "
            f"then {self.cycles} cycles{until}"
        )


@dataclass
class Source:
    market: MarketData
    clock: Clock
    settings: Settings
    kind: str  # "live", "replay" or "synthetic"
    note: str = ""
    series: dict[str, list[Candle]] | None = None

    def cycle_times(self, cycles: int | None) -> Iterator[int]:
        """The `ts` of each cycle: a candle close. Simulated sources advance the clock themselves.
        `cycles`: how many; None: a simulation's every candle after the warm-up, else DEFAULT_CYCLES."""
        if self.series is not None:
            yield from self._replay_times(cycles)
        else:
            yield from self._live_times(DEFAULT_CYCLES if cycles is None else cycles)

    def warmup(self, cycles: int | None) -> Warmup | None:
        """How a simulated series splits into warm-up and trading (None for live data)."""
        if self.series is None:
            return None
        closes = len(self._closes())
        warm = min(self.settings.market.warmup_candles, max(1, closes // 2))
        trading = closes - (warm - 1)
        return Warmup(closes, warm - 1, trading if cycles is None else min(cycles, trading))

    def _closes(self) -> list[int]:
        assert self.series is not None
        return sorted({c.close_ts for candles in self.series.values() for c in candles})

    def _replay_times(self, cycles: int | None) -> Iterator[int]:
        assert isinstance(self.clock, SimulatedClock)
        plan = self.warmup(cycles)
        assert plan is not None
        for ts in self._closes()[plan.warmup : plan.warmup + plan.cycles]:
            self.clock.set(ts)
            yield ts

    def _live_times(self, cycles: int) -> Iterator[int]:
        tf = self.settings.timeframe_s
        for n in range(cycles):
            now = time.time()
            last_close = int(now // tf) * tf
            if n > 0:
                wait = last_close + tf + LIVE_DELAY_S - now
                if wait > 0:
                    time.sleep(wait)
                last_close = int(time.time() // tf) * tf
            yield last_close


def with_market(settings: Settings, symbols: list[str], timeframe: str) -> Settings:
    data = settings.model_dump()
    data["symbols"] = symbols
    data["timeframe"] = timeframe
    return Settings.model_validate(data)


def replay_source(settings: Settings, files: str | Sequence[str]) -> Source:
    paths = [files] if isinstance(files, str) else list(files)
    series: dict[str, list[Candle]] = {}
    gaps = 0
    timeframes: dict[int, str] = {}
    for file in paths:
        try:
            cf = load_candles(file)
        except FileNotFoundError:
            fail(f"no candle file at {file}")
        except (CandleFileError, OSError) as exc:
            fail(str(exc))
        problem = symbol_problem(cf)
        if problem is not None:
            fail(problem)
        if cf.symbol in series:
            fail(f"{file}: a second file of {cf.symbol}; replay one file per symbol")
        series[cf.symbol] = list(cf.candles)
        timeframes.setdefault(cf.timeframe_s, file)
        gaps += len(cf.gaps)
    if len(timeframes) > 1:
        listed = ", ".join(f"{Path(f).name} ({tf} s)" for tf, f in timeframes.items())
        fail(f"the files to replay must share one timeframe: {listed}")
    timeframe_s = next(iter(timeframes))
    label = next((k for k, v in TIMEFRAMES.items() if v == timeframe_s), None)
    if label is None:
        fail(f"{paths[0]}: candles {timeframe_s} s apart; Coinswarm trades on {', '.join(TIMEFRAMES)} candles")
    settings = with_market(settings, list(series), label)
    note = f"{gaps} gaps in the file{'s' if len(paths) > 1 else ''}" if gaps else ""
    names = ", ".join(Path(f).name for f in paths)
    market = ReplayMarketData(series, label=f"replay of {names}", recent_limit=settings.market.warmup_candles)
    start = min(c[0].ts for c in series.values())
    return Source(market, SimulatedClock(start), settings, "replay", note, series)


def synthetic_source(settings: Settings, cycles: int, seed: int, note: str = "") -> Source:
    tf = settings.timeframe_s
    n = settings.market.warmup_candles + cycles
    end = int(time.time() // tf) * tf
    series: dict[str, list[Candle]] = {}
    for i, symbol in enumerate(settings.symbols):
        start_price = START_PRICES.get(symbol.split("-")[0], 100.0)
        series[symbol] = synthetic_candles(
            symbol, n, seed=seed + i, start_ts=end - n * tf, timeframe_s=tf, start_price=start_price
        )
    market = ReplayMarketData(
        series, label=f"SYNTHETIC series (seed {seed}), not market data", recent_limit=settings.market.warmup_candles
    )
    return Source(market, SimulatedClock(end - n * tf), settings, "synthetic", note, series)


def live_source(settings: Settings) -> Source:
    from coinswarm.marketdata.coinbase_public import CoinbasePublicMarketData

    market = CoinbasePublicMarketData(
        settings.market.coinbase_url,
        connect_timeout_s=settings.market.connect_timeout_s,
        recent_limit=settings.market.warmup_candles,
    )
    market.probe(settings.symbols[0])
    return Source(market, SystemClock(), settings, "live")


def venue_source(settings: Settings) -> Source:
    """The first venue's candles and book tops, through the client the live broker shares."""
    from coinswarm.errors import MarketDataUnavailableError

    venue = settings.primary_venue.name
    from coinswarm.wiring.live import DEFAULT_URLS, venue_market

    market = venue_market(settings)
    try:
        market.probe(settings.symbols[0])
    except MarketDataUnavailableError as exc:  # the client is the process's shared one: left open
        where = settings.live.venue_url or DEFAULT_URLS[venue]
        if settings.mode == "live":
            fail(
                f"live trading needs {venue}'s market data, and {venue} cannot be reached at {where}: {exc}. "
                "Live mode never falls back to other data; check the connection and live.venue_url, or set "
                "mode = 'paper' to trade on paper"
            )
        fail(f"{venue} market data is unavailable at {where}: {exc} (market.source = 'venue' allows no fallback)")
    return Source(market, SystemClock(), settings, "live")


def refuse_in_live_mode(settings: Settings, *, replay: Sequence[str] | None, synthetic: bool) -> None:
    """Live orders go out only on the venue's current prices: say so before anything starts."""
    venue = settings.primary_venue.name
    rehearse = (
        "To try it on paper set mode = 'paper' (COINSWARM_MODE=paper) or use `coinswarm backtest`; to rehearse "
        "live mode, point live.venue_url at the local fake exchange (coinswarm.venues.fake)"
    )
    if replay:
        fail(
            f"--replay is refused in live mode: a replayed file's prices are not {venue}'s prices now, and live "
            f"orders go out only on current prices. {rehearse}"
        )
    if synthetic or settings.market.source == "synthetic":
        given = "--synthetic" if synthetic else "market.source = 'synthetic'"
        fail(
            f"{given} is refused in live mode: the synthetic series is not market data, and live orders go out "
            f"only on {venue}'s current prices. {rehearse}"
        )
    if settings.market.source == "coinbase" and venue != "coinbase":
        fail(
            f"market.source = 'coinbase' is refused in live mode: orders go to {venue}, and are decided on "
            f"{venue}'s own prices; set market.source = 'venue' (or 'auto')"
        )


def resolve(
    settings: Settings, *, replay: Sequence[str] | None, synthetic: bool, cycles: int, seed: int | None
) -> Source:
    seed = settings.market.synthetic_seed if seed is None else seed
    if settings.mode == "live":
        refuse_in_live_mode(settings, replay=replay, synthetic=synthetic)
        return venue_source(settings)
    if replay:
        return replay_source(settings, replay)
    if synthetic or settings.market.source == "synthetic":
        return synthetic_source(settings, cycles, seed)
    if settings.market.source == "venue":
        return venue_source(settings)
    from coinswarm.errors import MarketDataUnavailableError

    try:
        return live_source(settings)
    except MarketDataUnavailableError as exc:
        if settings.market.source == "coinbase":
            fail(f"Coinbase market data is unavailable: {exc} (market.source = 'coinbase' allows no fallback)")
        return synthetic_source(settings, cycles, seed, note=f"Coinbase unreachable ({exc}); using synthetic data")
