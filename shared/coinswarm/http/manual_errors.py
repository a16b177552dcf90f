"""How the manual trade endpoint words what went wrong: each schema error as a field and a message
(never the value that was sent), and an error that ended a request as the JSON answer the client gets
(503 with Retry-After when a retry helps, else a generic 500 logged without the request).
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from coinswarm.errors import ClaimInProgressError, ConflictError, MarketDataUnavailableError, TransientStoreError
from coinswarm.http.json_http import HttpResponse, error
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
    """The answer to a request that `exc` ended."""
    if isinstance(exc, ConflictError | TransientStoreError):
        logger.warning("manual trade: the store is busy (%s); asked the client to retry", type(exc).__name__)
        doing = (
            "this client_id is still being placed by another request"
            if isinstance(exc, ClaimInProgressError)
            else "the store is busy"
        )
        return error(
            503,
            "busy",
            f"{doing}; retry in a moment (with the same client_id a trade is still placed once)",
            headers={"Retry-After": "1"},
        )
    if isinstance(exc, MarketDataUnavailableError):
        logger.warning("manual trade: the market data is unavailable (%s)", exc.reason)
        return error(
            503,
            "market_data_unavailable",
            f"the market data could not be read: {exc.reason[:_MAX_MSG]}. Nothing was traded; check that this "
            "deployment reaches its market data source (market.source), then retry",
            headers={"Retry-After": str(MARKET_RETRY_AFTER_S)},
        )
    # Never the request's headers or body: they carry the credentials.
    logger.error("manual trade: unexpected %s", type(exc).__name__, exc_info=exc)
    return error(
        500,
        "internal_error",
        "the request could not be completed; nothing about it was wrong that we know of. "
        "Check the function's logs, then retry (with the same client_id a trade is placed once)",
    )
