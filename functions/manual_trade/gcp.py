"""manual_trade on Google Cloud: an HTTP function (every request signed with the manual trade secret,
see coinswarm.http.signing). The flask request becomes an `HttpRequest` for `ManualTradeHandler`,
whose `HttpResponse` is the answer. The secret is Secret Manager's `manual-trade-secret` (or
`COINSWARM_MANUAL_TRADE_SECRET` locally), read once per container."""

from __future__ import annotations

import functions_framework
from flask import Request

from coinswarm.http.json_http import HttpRequest
from coinswarm.http.manual_trade import MAX_BODY_BYTES
from functions.gcp_common import manual_trade_handler


@functions_framework.http
def manual_trade(request: Request) -> tuple[bytes, int, dict[str, str]]:
    body = request.stream.read(MAX_BODY_BYTES + 1)  # one byte over the limit is enough to refuse it
    reply = manual_trade_handler().handle(HttpRequest(request.method, request.path, dict(request.headers), body))
    return reply.body_bytes(), reply.status, dict(reply.headers)
