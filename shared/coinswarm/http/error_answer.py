"""An error that ended a request, as the JSON answer its client gets. The error's class decides.

`error_answer(exc, ...)` answers a `CoinswarmError` with its class's `http_status` (coinswarm.errors),
under the class's name as the `error` code (`InvalidOrderError` -> `invalid_order`) and its message as
the `detail` (an error's message says what happened and holds no secret), with `Retry-After` when the
status is 503 or 429. An endpoint may word the errors its clients meet most in its own terms (`words`);
the status stays the class's.

Anything else, and a CoinswarmError whose status is 500, is a fault the client cannot act on: a generic
500 whose detail the endpoint gives, logged with its traceback but never with the request (the request
carries the credentials).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from coinswarm.errors import CoinswarmError
from coinswarm.http.json_http import HttpResponse, error

#: Seconds a client is asked to wait before trying again, unless the endpoint says otherwise.
RETRY_AFTER_S = 1
#: The longest detail taken from an error's message.
MAX_DETAIL = 300
#: The statuses that tell a client to come back later (RFC 9110: Retry-After goes with them).
LATER = (429, 503)

Words = Callable[[CoinswarmError], tuple[str, str] | None]
"""An endpoint's own (code, detail) for an error, or None for the class's name and message."""


def error_code(kind: type[BaseException]) -> str:
    """The class's name in snake case without its `Error` suffix: `OrderNotFoundError` -> `order_not_found`."""
    name = kind.__name__.lstrip("_").removesuffix("Error") or kind.__name__
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def error_answer(
    exc: BaseException,
    *,
    log: logging.Logger,
    where: str,
    internal: str,
    words: Words | None = None,
    retry_after_s: Callable[[CoinswarmError], int] | int = RETRY_AFTER_S,
) -> HttpResponse:
    """The answer to a request that `exc` ended (see the module doc). `where` names the endpoint in the
    log; `internal` is the generic 500's detail; `retry_after_s` the Retry-After of a 429 or 503."""
    status = exc.http_status if isinstance(exc, CoinswarmError) else 500
    if not isinstance(exc, CoinswarmError) or status == 500:
        # Never the request's headers or body: they carry the credentials.
        log.error("%s: unexpected %s", where, type(exc).__name__, exc_info=exc)
        return error(500, "internal_error", internal)
    code, detail = (words(exc) if words is not None else None) or (error_code(type(exc)), str(exc)[:MAX_DETAIL])
    headers: dict[str, str] = {}
    if status in LATER:
        wait = retry_after_s(exc) if callable(retry_after_s) else retry_after_s
        headers["Retry-After"] = str(max(1, wait))
    log.log(
        logging.WARNING if status >= 500 else logging.INFO,
        "%s: %s answered %d (%s)",
        where,
        type(exc).__name__,
        status,
        code,
        extra={"http_status": status},
    )
    return error(status, code, detail, headers=headers or None)
