"""An exit's reason travels in its client order id's last part, so a fill of it says why whichever broker
filled it, after any restart, with nothing else stored: `cs-BTC-USD-1700000000-sl` is a stop-loss exit
decided at that time. The committee's sell keeps the id a sell decision always had (`...-s`)."""

from __future__ import annotations

from coinswarm.domain.models import ExitReason, Fill, Side

EXIT_SUFFIX: dict[ExitReason, str] = {
    ExitReason.SIGNAL: "s",  # the committee's sell: the id a sell decision always had
    ExitReason.STOP_LOSS: "sl",
    ExitReason.TRAILING_STOP: "tsl",
    ExitReason.ROI: "roi",
    ExitReason.MAX_HOLD: "mh",
    ExitReason.FLATTEN: "f",
    ExitReason.END_OF_BACKTEST: "end",
}
_REASON_OF_SUFFIX = {suffix: reason for reason, suffix in EXIT_SUFFIX.items()}
MANUAL_PREFIXES = ("cs-mc-", "cs-ma-")  # the manual trade endpoint's ids (coinswarm.http.manual_trade)


def exit_order_id(symbol: str, ts: int, reason: ExitReason) -> str:
    """The client order id of an exit decided at `ts` for `reason` (MANUAL exits have the endpoint's ids)."""
    return f"cs-{symbol}-{ts}-{EXIT_SUFFIX[reason]}"


def exit_reason_of(client_order_id: str) -> ExitReason | None:
    """The reason of the exit order with this id, as `exit_order_id` and the manual endpoint make them."""
    if client_order_id.startswith(MANUAL_PREFIXES):
        return ExitReason.MANUAL
    return _REASON_OF_SUFFIX.get(client_order_id.rpartition("-")[2])


def with_exit_reason(fill: Fill) -> Fill:
    """A sell fill with its exit reason, read from its order's id when the broker did not set it."""
    if fill.side is not Side.SELL or fill.exit_reason is not None:
        return fill
    reason = exit_reason_of(fill.client_order_id)
    return fill if reason is None else fill.model_copy(update={"exit_reason": reason})
