"""Exit rules: when a long position is closed besides a signal, and at which price, candle by candle.

The rules and their order follow freqtrade's backtesting (docs/exits.md says why each one is so and
where Coinswarm differs on purpose). For each candle from the entry candle on, `ExitTracker.check`:

1. max_hold: held `max_hold_minutes` or more at the candle's open -> exit at the open;
2. moves the stop: the first time, `stop = entry * (1 - stop_loss_pct)`; with a trailing stop, and only
   while the stop is still below the candle's low, it moves up (never down) to
   `high * (1 - trailing_stop_pct)` once the profit at the high exceeds `trailing_offset_pct`, else to
   `high * (1 - stop_loss_pct)` (unless `trailing_only_offset_reached`);
3. stop_loss (the stop never moved): the low reaches the stop -> exit at the stop, or at the open when
   the whole candle is below it (a gap);
4. roi: the profit at the high, fees included, exceeds the table's entry for the minutes held -> exit at
   the price that makes exactly that profit after fees, within [low, high] (at the open when a new
   table entry takes effect at this candle's open and the open is above that price);
5. trailing_stop (the stop has moved): the low reaches it -> exit at the stop (on the entry candle, at
   the worst realistic price: see `_stop_price`).

A signal exit (the committee's SELL) is the caller's: it fills at the open, before any of these.
Everything is O(1) per candle (the ROI table is a handful of rows) and the state is a small dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from coinswarm.domain.models import ExitReason

PROFIT_DIGITS = 8  # freqtrade rounds every profit ratio to 8 decimals before comparing it


class Bar(Protocol):
    """What the rules read of a candle (domain.models.Candle is one): its open time and prices."""

    @property
    def ts(self) -> int: ...
    @property
    def open(self) -> float: ...
    @property
    def high(self) -> float: ...
    @property
    def low(self) -> float: ...
    @property
    def close(self) -> float: ...
    @property
    def timeframe_s(self) -> int: ...


@dataclass(frozen=True, slots=True)
class ExitSignal:
    """Exit the whole position at `price` (before slippage and fees), for `reason`."""

    reason: ExitReason
    price: float


@dataclass(frozen=True, slots=True)
class ExitRules:
    """The exit settings as plain values; percentages are of the entry price (10.0 is 10 %).

    `roi`: (minutes since entry, minimum profit %) rows, ascending; a row applies from its minute on."""

    stop_loss_pct: float | None = None
    roi: tuple[tuple[int, float], ...] = ()
    trailing_stop_pct: float | None = None
    trailing_offset_pct: float = 0.0
    trailing_only_offset_reached: bool = False
    max_hold_minutes: int | None = None

    def __post_init__(self) -> None:
        if self.stop_loss_pct is not None and not 0.0 < self.stop_loss_pct < 100.0:
            raise ValueError(f"exits: stop_loss_pct {self.stop_loss_pct} must be above 0 and below 100 (a percent)")
        if self.trailing_stop_pct is not None and not 0.0 < self.trailing_stop_pct < 100.0:
            raise ValueError(
                f"exits: trailing_stop_pct {self.trailing_stop_pct} must be above 0 and below 100 (a percent)"
            )
        if self.trailing_offset_pct < 0.0:
            raise ValueError(f"exits: trailing_offset_pct {self.trailing_offset_pct} must be 0 or more (a percent)")
        if self.max_hold_minutes is not None and self.max_hold_minutes < 1:
            raise ValueError(f"exits: max_hold_minutes {self.max_hold_minutes} must be 1 or more")
        minutes = [m for m, _ in self.roi]
        if any(m < 0 for m in minutes) or minutes != sorted(set(minutes)):
            raise ValueError(f"exits: roi minutes {minutes} must be distinct, 0 or more, ascending")
        for m, pct in self.roi:
            if pct < -100.0:
                raise ValueError(f"exits: roi at {m} min is {pct} %; a profit cannot be below -100 %")

    @classmethod
    def build(
        cls,
        *,
        stop_loss_pct: float | None = None,
        roi: Mapping[str, float] | Mapping[int, float] | Mapping[str | int, float] | None = None,
        trailing_stop_pct: float | None = None,
        trailing_offset_pct: float = 0.0,
        trailing_only_offset_reached: bool = False,
        max_hold_minutes: int | None = None,
    ) -> ExitRules:
        """From configuration-shaped values: `roi` maps minutes (a whole number, or its text) to a profit %."""
        rows: list[tuple[int, float]] = []
        for key, pct in (roi or {}).items():
            text = str(key).strip()
            if not text.isdigit():
                raise ValueError(f"exits.roi: {key!r} is not a whole number of minutes since entry")
            rows.append((int(text), float(pct)))
        return cls(
            stop_loss_pct=stop_loss_pct,
            roi=tuple(sorted(rows)),
            trailing_stop_pct=trailing_stop_pct,
            trailing_offset_pct=trailing_offset_pct,
            trailing_only_offset_reached=trailing_only_offset_reached,
            max_hold_minutes=max_hold_minutes,
        )

    @property
    def active(self) -> bool:
        """Whether any rule can close a position (else a tracker need not be kept)."""
        return bool(
            self.stop_loss_pct is not None
            or self.roi
            or self.trailing_stop_pct is not None
            or self.max_hold_minutes is not None
        )

    def roi_row(self, minutes: int) -> tuple[int, float] | None:
        """The ROI row in force after `minutes` held: the one with the largest minute not above it."""
        found = None
        for row in self.roi:
            if row[0] > minutes:
                break
            found = row
        return found

    def open(self, entry_price: float, entry_ts: int, fee_rate: float = 0.0) -> ExitTracker:
        """Start watching a position bought at `entry_price` during the candle that opened at `entry_ts`."""
        if not entry_price > 0.0:
            raise ValueError(f"exits: entry price {entry_price} must be above 0")
        if not 0.0 <= fee_rate < 1.0:
            raise ValueError(f"exits: fee rate {fee_rate} must be a fraction in [0, 1)")
        return ExitTracker(self, entry_price, entry_ts, fee_rate, entry_price)


_STATE_FIELDS = ("entry_price", "entry_ts", "fee_rate", "highest", "stop", "initial_stop", "stop_ratio", "trailing")


@dataclass(slots=True)
class ExitTracker:
    """One open position's exit state: where it was bought, its highest price, its current stop.

    `to_dict` / `from_dict` carry the state between invocations; the rules are the caller's (they come
    from the configuration each time). `stop` is None while no stop is set; `trailing` once it moved."""

    rules: ExitRules
    entry_price: float
    entry_ts: int
    fee_rate: float
    highest: float
    stop: float | None = None
    initial_stop: float | None = None
    stop_ratio: float | None = None  # the distance of the current stop below the price it was set from
    trailing: bool = False

    def check(self, bar: Bar) -> ExitSignal | None:
        """Move the stop over `bar` and say whether (and at which price) the position exits during it."""
        rules = self.rules
        minutes = (bar.ts - self.entry_ts) // 60
        if rules.max_hold_minutes is not None and minutes >= rules.max_hold_minutes:
            return ExitSignal(ExitReason.MAX_HOLD, bar.open)
        high, low = bar.high, bar.low
        if high > self.highest:
            self.highest = high
        if self.stop is None and rules.stop_loss_pct is not None:
            self._set_stop(self.entry_price * (1.0 - rules.stop_loss_pct / 100.0), rules.stop_loss_pct / 100.0)
        profit_at_high: float | None = None
        if rules.trailing_stop_pct is not None and (self.stop is None or self.stop < low):
            profit_at_high = self.profit(high)
            self._trail(high, profit_at_high)
        hit = self.stop is not None and self.stop >= low
        if hit and not self.trailing:
            return ExitSignal(ExitReason.STOP_LOSS, self._stop_price(bar, minutes))
        if rules.roi:
            row = rules.roi_row(minutes)
            if row is not None:
                if profit_at_high is None:
                    profit_at_high = self.profit(high)
                if profit_at_high > row[1] / 100.0:
                    price = self._roi_price(bar, minutes, row)
                    if price is not None:
                        return ExitSignal(ExitReason.ROI, price)
        if hit:
            return ExitSignal(ExitReason.TRAILING_STOP, self._stop_price(bar, minutes))
        return None

    def add_entry(self, price: float, held: float, added: float) -> None:
        """A further buy of `added` at `price` into the `held` quantity: the entry price becomes the average
        (the time held still counts from the first entry); a stop that never moved is set again from it,
        a trailing stop stays where it is."""
        if not (price > 0.0 and held > 0.0 and added > 0.0):
            raise ValueError(
                f"exits: a further entry needs a price and quantities above 0 (got {price}, {held}, {added})"
            )
        self.entry_price = (self.entry_price * held + price * added) / (held + added)
        if self.stop is not None and not self.trailing and self.rules.stop_loss_pct is not None:
            self._set_stop(
                self.entry_price * (1.0 - self.rules.stop_loss_pct / 100.0), self.rules.stop_loss_pct / 100.0
            )

    def profit(self, price: float) -> float:
        """The profit ratio of selling at `price`, both fees included (rounded as freqtrade rounds it)."""
        rate = self.fee_rate
        return round(price * (1.0 - rate) / (self.entry_price * (1.0 + rate)) - 1.0, PROFIT_DIGITS)

    # -- the stop ----------------------------------------------------------------------------------
    def _trail(self, high: float, profit_at_high: float) -> None:
        rules = self.rules
        offset = rules.trailing_offset_pct / 100.0
        if rules.trailing_only_offset_reached and profit_at_high < offset:
            return
        ratio = rules.stop_loss_pct / 100.0 if rules.stop_loss_pct is not None else None
        if rules.trailing_stop_pct is not None and profit_at_high > offset:
            ratio = rules.trailing_stop_pct / 100.0
        if ratio is None:
            return
        candidate = high * (1.0 - ratio)
        if self.stop is None:  # no stop-loss configured: the first stop is the trailing rule's own
            self._set_stop(candidate, ratio)
            self.trailing = True
        elif candidate > self.stop:  # a stop only ever moves up
            self.stop, self.stop_ratio, self.trailing = candidate, ratio, True

    def _set_stop(self, price: float, ratio: float) -> None:
        self.stop = self.initial_stop = price
        self.stop_ratio = ratio

    def _stop_price(self, bar: Bar, minutes: int) -> float:
        """The stop's exit price: the stop itself; the open when the whole candle is below it (a gap down);
        a trailing stop hit on the entry candle assumes the worst realistic path (up just enough to arm
        it, then straight down), never below the low."""
        stop = self.stop if self.stop is not None else bar.open
        if stop > bar.high:
            return bar.open
        if self.trailing and minutes == 0:
            rules = self.rules
            if rules.trailing_only_offset_reached and rules.trailing_stop_pct is not None:
                rate = bar.open * (1.0 + rules.trailing_offset_pct / 100.0 - rules.trailing_stop_pct / 100.0)
            else:
                rate = bar.open * (1.0 - (self.stop_ratio or 0.0))
            return max(bar.low, rate)
        return stop

    def _roi_price(self, bar: Bar, minutes: int, row: tuple[int, float]) -> float | None:
        """The price at which the profit after both fees is exactly the row's, within the candle (None:
        freqtrade takes no ROI exit on a falling entry candle entered below its open; its issue 6261)."""
        row_minutes, pct = row
        ratio = pct / 100.0
        timeframe_min = max(1, bar.timeframe_s // 60)
        on_open = row_minutes % timeframe_min == 0
        if ratio == -1.0 and on_open:
            return bar.open
        entry, fee = self.entry_price, self.fee_rate
        price = entry * (1.0 + fee) * (1.0 + ratio) / (1.0 - fee)  # profit() of it is exactly the ratio
        if minutes > 0 and minutes == row_minutes and on_open and bar.open > price:
            return bar.open  # a new row took effect at this open, and the open already pays it
        if minutes == 0 and bar.open > bar.close and entry < bar.open and price > bar.close:
            return None
        return min(max(price, bar.low), bar.high)

    # -- state between invocations -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _STATE_FIELDS}

    @classmethod
    def from_dict(cls, rules: ExitRules, data: Mapping[str, Any]) -> ExitTracker:
        """The tracker `to_dict` saved, under `rules`; a malformed state raises ValueError naming the field."""
        missing = [name for name in _STATE_FIELDS if name not in data]
        if missing:
            raise ValueError(f"exit state: missing {', '.join(missing)}; it was not written by ExitTracker.to_dict")
        unknown = sorted(set(data) - set(_STATE_FIELDS))
        if unknown:
            raise ValueError(f"exit state: unknown field(s) {', '.join(unknown)}")

        def number(name: str, *, optional: bool = False) -> float | None:
            value = data[name]
            if value is None and optional:
                return None
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"exit state: {name} is {value!r}, not a number")
            return float(value)

        entry_ts = data["entry_ts"]
        if isinstance(entry_ts, bool) or not isinstance(entry_ts, int):
            raise ValueError(f"exit state: entry_ts is {entry_ts!r}, not whole epoch seconds")
        if not isinstance(data["trailing"], bool):
            raise ValueError(f"exit state: trailing is {data['trailing']!r}, not true or false")
        entry_price = number("entry_price")
        fee_rate = number("fee_rate")
        highest = number("highest")
        assert entry_price is not None and fee_rate is not None and highest is not None
        tracker = rules.open(entry_price, entry_ts, fee_rate)
        tracker.highest = highest
        tracker.stop = number("stop", optional=True)
        tracker.initial_stop = number("initial_stop", optional=True)
        tracker.stop_ratio = number("stop_ratio", optional=True)
        tracker.trailing = data["trailing"]
        return tracker
