"""Episodes: the market memory. One per closed trade: the state at entry and how it turned out.

Contract: `Episode` is plain data with `to_json()` / `from_json()` (what the history stores keep and
`coinswarm episodes export` writes). `build_episodes(candles, fills, decisions)` makes one episode per
closed trade (coinswarm.backtest.trades.closed_trades) of one symbol:

- entry state: the committee's decision that placed the entry order (every agent's vote and reason,
  the discretized market state), the feature values (coinswarm.learning.features) at the last candle
  closed before the entry fill, and the regime read from them (`up`, `down` or `range` by the slow EMA
  gap of +-0.5 ATR, and `calm` or `volatile` by ATR above 1 % of the price);
- outcome: the return net of every fee, the duration, the exit reason, and the maximum adverse and
  favourable excursions (MAE, MFE): the lowest low and highest high of the candles the position was
  held through, as fractions of the entry price (MAE <= 0 <= MFE).

A trade whose entry decision is unknown (placed by hand, or evicted from the audit trail) keeps an
empty vote list; a trade with no candle before its entry keeps no features.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from coinswarm.backtest.trades import closed_trades
from coinswarm.domain.models import Candle, Decision, Fill, Side
from coinswarm.domain.sizing import client_order_id
from coinswarm.learning.features import FEATURES, Features

VOLATILE_ATR = 0.01


@dataclass(frozen=True)
class Episode:
    episode_id: str  # "{symbol}-{entry_ts}": the same trade, the same id
    symbol: str
    entry_ts: int
    exit_ts: int
    entry_price: float
    exit_price: float
    net_return: float  # P&L net of every fee over the entry notional
    duration_s: int
    exit_reason: str
    mae: float
    mfe: float
    market_state: str = ""
    regime: str = ""
    votes: list[dict[str, Any]] = field(default_factory=list)  # agent, signal, confidence, weight, reason
    indicators: dict[str, float] = field(default_factory=dict)
    source: str = "backtest"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Episode:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


def regime(indicators: Mapping[str, float]) -> str:
    gap = indicators.get("ema_gap_slow")
    atr = indicators.get("atr_frac")
    if gap is None or atr is None:
        return ""
    trend = "up" if gap > 0.5 else "down" if gap < -0.5 else "range"
    return f"{trend}-{'volatile' if atr > VOLATILE_ATR else 'calm'}"


def build_episodes(
    candles: Sequence[Candle], fills: Sequence[Fill], decisions: Mapping[str, Decision], *, source: str = "backtest"
) -> list[Episode]:
    """`decisions`: the entry decisions by the client order id they gave (`entry_decisions`)."""
    if not candles:
        return []
    features = Features()
    rows = [features.update(c) for c in candles]
    close_ts = [c.close_ts for c in candles]
    opens = [c.ts for c in candles]
    buys = {f.ts: f.client_order_id for f in fills if f.side is Side.BUY}
    out: list[Episode] = []
    for trade in closed_trades(fills):
        before = bisect.bisect_right(close_ts, trade.entry_ts) - 1  # the last candle closed at entry
        row = rows[before] if before >= 0 else None
        indicators = dict(zip(FEATURES, row, strict=True)) if row is not None else {}
        held = candles[bisect.bisect_left(opens, trade.entry_ts) : bisect.bisect_left(opens, trade.exit_ts)]
        low = min((c.low for c in held), default=trade.entry_price)
        high = max((c.high for c in held), default=trade.entry_price)
        decision = decisions.get(buys.get(trade.entry_ts, ""))
        out.append(
            Episode(
                episode_id=f"{trade.symbol}-{trade.entry_ts}",
                symbol=trade.symbol,
                entry_ts=trade.entry_ts,
                exit_ts=trade.exit_ts,
                entry_price=trade.entry_price,
                exit_price=trade.exit_price,
                net_return=trade.return_frac,
                duration_s=trade.exit_ts - trade.entry_ts,
                exit_reason=trade.exit_reason,
                mae=min(0.0, low / trade.entry_price - 1.0),
                mfe=max(0.0, high / trade.entry_price - 1.0),
                market_state=decision.market_state if decision else "",
                regime=regime(indicators),
                votes=[v.model_dump() for v in decision.votes] if decision else [],
                indicators=indicators,
                source=source,
            )
        )
    return out


def entry_decisions(decisions: Sequence[Decision]) -> dict[str, Decision]:
    """Buy decisions by the client order id their order carries."""
    return {client_order_id(d.symbol, d.ts, Side.BUY): d for d in decisions if d.action.value == "buy"}


def write_csv(episodes: Sequence[Mapping[str, Any]], path: str) -> int:
    """One row per episode: the outcome columns, then the regime and market state, then each feature
    (`f_<name>`) and each agent's vote (`vote_<agent>_signal`, `_confidence`, `_reason`)."""
    import csv

    rows = [flat(e) for e in episodes]
    columns: list[str] = []
    for r in rows:
        columns.extend(k for k in r if k not in columns)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns or list(OUTCOME_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def write_parquet(episodes: Sequence[Mapping[str, Any]], path: str) -> int:
    """The same columns as `write_csv`, as a Parquet file (needs pyarrow: the `parquet` extra)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ValueError("writing Parquet needs pyarrow: pip install -e '.[parquet]', or write a .csv") from None
    rows = [flat(e) for e in episodes]
    columns: list[str] = []
    for r in rows:
        columns.extend(k for k in r if k not in columns)
    table = pa.table({c: [r.get(c) for r in rows] for c in (columns or list(OUTCOME_COLUMNS))})
    pq.write_table(table, path)
    return len(rows)


OUTCOME_COLUMNS = (
    "episode_id",
    "symbol",
    "source",
    "entry_ts",
    "exit_ts",
    "entry_price",
    "exit_price",
    "net_return",
    "duration_s",
    "exit_reason",
    "mae",
    "mfe",
    "regime",
    "market_state",
)


def flat(episode: Mapping[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {k: episode.get(k) for k in OUTCOME_COLUMNS}
    for name, value in (episode.get("indicators") or {}).items():
        row[f"f_{name}"] = value
    for vote in episode.get("votes") or []:
        agent = vote.get("agent", "?")
        for key in ("signal", "confidence", "reason"):
            row[f"vote_{agent}_{key}"] = vote.get(key)
    return row
