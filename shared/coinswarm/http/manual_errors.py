"""How the manual trade endpoint words what went wrong: each schema error as a field and a message
(never the value that was sent), and an error that ended a request as the JSON answer the client gets
(the error's class decides the status: coinswarm.http.error_answer).
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from coinswarm.errors import ClaimInProgressError, CoinswarmError, MarketDataUnavailableError, StoreError
from coinswarm.http.error_answer import RETRY_AFTER_S, error_answer
from coinswarm.http.json_http import HttpResponse
from coinswarm.http.manual_request import ACTION_LIST, ACTIONS

logger = logging.getLogger("coinswarm.http.manual_trade")

MARKET_RETRY_AFTER_S = 30  # an unreachable market data source is rarely back within a second
_MAX_LOC, _MAX_MSG, _MAX_ERRORS = 64, 200, 20


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    """Where each error is and what is wrong, never the value that was sent."""
    out: list[dict[str, str]] = []
    for err in exc.errors(include_url=False)[:_MAX_ERRORS]:
        loc = [str(part)[:_MAX_LOC] for part in err["loc"]]
        if len(loc) >= 1 and loc[0] in ACTIONS:  # the union's tag, not a field
            loc = loc[1:]
        kind = err["type"]
        if kind == "union_tag_invalid":
            msg = f"action must be one of {ACTION_LIST}"
            loc = ["action"]
        elif kind == "union_tag_not_found":
            msg = f"give an action: one of {ACTION_LIST}"
            loc = ["action"]
        elif kind == "model_attributes_type":
            msg = "the body must be a JSON object"
        else:
            msg = str(err["msg"]).removeprefix("Value error, ")
            sent = err.get("input")
            if isinstance(sent, str) and len(sent) >= 3 and sent in msg:
                msg = f"invalid value ({kind})"
        out.append({"loc": ".".join(loc) or "body", "msg": msg[:_MAX_MSG], "type": kind})
    return out


def failure(exc: Exception) -> HttpResponse:
    """The answer to a request that `exc` ended: its class's `http_status` (coinswarm.http.error_answer),
    in this endpoint's words for a busy store and unreadable market data."""
    return error_answer(
        exc,
        log=logger,
        where="manual trade",
        internal="the request could not be completed; nothing about it was wrong that we know of. "
        "Check the function's logs, then retry (with the same client_id a trade is placed once)",
        words=_words,
        retry_after_s=_retry_after_s,
    )


def _words(exc: CoinswarmError) -> tuple[str, str] | None:
    if isinstance(exc, StoreError) and exc.retryable:
        doing = (
            "this client_id is still being placed by another request"
            if isinstance(exc, ClaimInProgressError)
            else "the store is busy"
        )
        return "busy", f"{doing}; retry in a moment (with the same client_id a trade is still placed once)"
    if isinstance(exc, MarketDataUnavailableError):
        return (
            "market_data_unavailable",
            f"the market data could not be read: {exc.reason[:_MAX_MSG]}. Nothing was traded; check that this "
            "deployment reaches its market data source (market.source), then retry",
        )
    return None


def _retry_after_s(exc: CoinswarmError) -> int:
    return MARKET_RETRY_AFTER_S if isinstance(exc, MarketDataUnavailableError) else RETRY_AFTER_S
