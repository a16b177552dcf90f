"""tick_ingest: fetch the newest closed candles per symbol, store them, hand on one message per symbol.

Missing candles. A bar the venue does not have when asked (it published the next one first, or had no
trade in it) is a gap: it is reported with the candles handed on, and the agents see through it or start
afresh after it (scoring). Ingest also keeps each symbol's open holes (`holes:<symbol>:<timeframe>`, at
most MAX_HOLES) and asks the venue for them again on the following cycles, within the same request as
the new candles, until the venue has them or they are older than the backfill horizon (`backfill_horizon`
candles before the tick); then it gives them up, and says so once.

A bar filled late is stored, so the history, a backtest or a status read later see the whole series, and
agents that warm up from the store (a fresh memory) take it in. It is not handed to agents that already
moved past it: their indicators are built one bar after another, and a bar cannot be fed into their past.
They saw through the gap (a short one) or started afresh after it (a long one), and are not rewound; the
hand-on of the cycle that filled it says so in its gaps.

Each symbol's work runs under the outbox's claim on the tick (see stages.outbox): a redelivered tick
hands on what the first delivery handed on, though the candles are stored already.
"""

from __future__ import annotations

import logging
from functools import partial

from coinswarm.domain.gaps import Gap, Hole, fill_holes, find_gaps, gap_between, hole_of, since, within_horizon
from coinswarm.domain.models import Candle, iso
from coinswarm.errors import ConflictError
from coinswarm.ports.market import MarketData
from coinswarm.ports.state import StateStore
from coinswarm.stages.messages import CANDLES, CandlesReady, CycleTick, Message
from coinswarm.stages.outbox import NO_OUTBOX, Outbox, Outputs

logger = logging.getLogger(__name__)

BACKFILL_HORIZON = 60  # candles: a missing one is asked for again while it opened within this many bars
MAX_HOLES = 16  # open holes kept per symbol; beyond, the oldest are given up
RETRIES = 5


class IngestStage:
    def __init__(
        self,
        market: MarketData,
        state: StateStore,
        *,
        timeframe_s: int,
        warmup_candles: int,
        backfill_horizon: int = BACKFILL_HORIZON,
        outbox: Outbox = NO_OUTBOX,
    ) -> None:
        """`backfill_horizon`: 0 asks for no missing candle again. `outbox`: an Outbox on the coordination
        store where a tick may be delivered again (a cloud function); NO_OUTBOX where it cannot (fused)."""
        self.market = market
        self.state = state
        self.timeframe_s = timeframe_s
        self.warmup_candles = warmup_candles
        self.backfill_horizon = backfill_horizon
        self.outbox = outbox

    def handle(self, tick: CycleTick) -> list[tuple[str, Message]]:
        outputs: list[tuple[str, Message]] = []
        for symbol in tick.symbols:
            outputs.extend(self.outbox.once("ingested", tick, symbol, partial(self._hand_on, tick, symbol)))
        return outputs

    def _hand_on(self, tick: CycleTick, symbol: str) -> Outputs:
        message = self.ingest(tick, symbol)
        return [] if message is None else [(CANDLES, message)]

    def ingest(self, tick: CycleTick, symbol: str) -> CandlesReady | None:
        tf = self.timeframe_s
        last = self.state.last_candle_ts(symbol, tf)
        holes, version = self._holes(symbol) if self.backfill_horizon and last is not None else ([], 0)
        since_ts = None if last is None else min([last + tf, *(h.first_ts for h in holes)])
        fetched = self.market.fetch_candles(symbol, tf, since_ts=since_ts, until_ts=tick.ts)
        candles = fetched if last is None else [c for c in fetched if c.ts > last]
        if last is None:
            candles = candles[-self.warmup_candles :]
        backfilled: list[Candle] = []
        if holes:
            missing = {ts for h in holes for ts in range(h.first_ts, h.last_ts + 1, tf)}
            backfilled = [c for c in fetched if c.ts in missing]
        if backfilled or candles:
            self.state.put_candles(backfilled + candles)
        gaps = find_gaps(candles)
        if last is not None and candles and (g := gap_between(last, candles[0].ts, tf, symbol)) is not None:
            gaps.insert(0, g)
        notes = [g.describe() for g in gaps]
        oldest = tick.ts - self.backfill_horizon * tf  # the horizon: candles opening before it are not asked for
        found = [hole for gap in gaps if (hole := self._found(symbol, gap, oldest)) is not None]
        if holes or found:
            self._track(symbol, oldest, holes, version, {c.ts for c in fetched}, found)
        if backfilled:
            notes.append(_backfilled(symbol, backfilled))
        if not candles:
            return None
        return CandlesReady(
            cycle_id=tick.cycle_id,
            symbol=symbol,
            candles=tuple(candles),
            quotes=tuple(self.market.quotes(symbol, tick.ts)),
            gaps=tuple(notes),
            decide_each=tick.decide_each,
        )

    # -- holes ----------------------------------------------------------------------------------------------
    def _key(self, symbol: str) -> str:
        return f"holes:{symbol}:{self.timeframe_s}"

    def _holes(self, symbol: str) -> tuple[list[Hole], int]:
        found = self.state.get(self._key(symbol))
        if found is None:
            return [], 0
        return [Hole(int(a), int(b)) for a, b in found.value.get("holes", [])], found.version

    def _found(self, symbol: str, gap: Gap, oldest: int) -> Hole | None:
        """Log a gap just found; the part of it to ask for again, if any."""
        tf = self.timeframe_s
        hole = hole_of(gap, tf)
        tracked = since(hole, oldest, tf) if self.backfill_horizon else None
        if tracked is not None:
            outlook = "asked for again on the next cycles"
        elif self.backfill_horizon:
            outlook = "older than the backfill horizon: not asked for again"
        else:
            outlook = "not asked for again (market.backfill_horizon is 0)"
        logger.info("%s; %s", hole.describe(symbol, tf), outlook)
        return tracked

    def _track(
        self, symbol: str, oldest: int, holes: list[Hole], version: int, present: set[int], found: list[Hole]
    ) -> None:
        """Keep what is still missing: the open holes less the bars now `present`, and the holes `found`,
        within the horizon. Written with a version check; another ingest of the symbol in between
        (overlapping cycles) is read back and this one's findings applied to what it wrote."""
        tf = self.timeframe_s
        for _ in range(RETRIES):
            still, filled = fill_holes(holes, present, tf)
            kept, given_up = within_horizon(still + found, oldest, MAX_HOLES)
            try:
                if kept != holes and (kept or version):
                    value = {"holes": [[h.first_ts, h.last_ts] for h in kept]}
                    self.state.put(self._key(symbol), value, expected_version=version)
            except ConflictError:
                holes, version = self._holes(symbol)
                continue
            if holes:
                asked = ", ".join(h.describe(symbol, tf).partition(": ")[2] for h in holes)
                logger.info("%s: backfill asked the venue again for %s", symbol, asked)
            if filled:
                logger.info("%s: backfill filled %s", symbol, _bars(filled))
            for hole in given_up:
                logger.warning(
                    "%s; gave up: not filled within the backfill horizon of %d candles",
                    hole.describe(symbol, tf),
                    self.backfill_horizon,
                )
            return
        raise ConflictError(f"{self._key(symbol)}: {RETRIES} concurrent updates in a row; try again")


def _bars(stamps: list[int]) -> str:
    noun = "candle" if len(stamps) == 1 else "candles"
    where = f"at {iso(stamps[0])}" if len(stamps) == 1 else f"between {iso(stamps[0])} and {iso(stamps[-1])}"
    return f"{len(stamps)} {noun} {where}"


def _backfilled(symbol: str, candles: list[Candle]) -> str:
    return (
        f"{symbol}: backfilled {_bars([c.ts for c in candles])}: stored for the history; "
        "agents already past it are not rewound"
    )
