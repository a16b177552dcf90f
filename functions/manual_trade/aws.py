"""manual_trade on AWS Lambda, behind a Function URL (auth type NONE: every request is signed with the
manual trade secret instead, see coinswarm.http.signing). The event (payload format 2.0) becomes an
`HttpRequest` for `ManualTradeHandler`, whose `HttpResponse` becomes the Function URL's response.
The secret is the SSM SecureString `/{prefix}/manual-trade-secret` (or `COINSWARM_MANUAL_TRADE_SECRET`
locally), read once per container. Handler: `functions.manual_trade.aws.handler`."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from pydantic import BaseModel, ConfigDict

from coinswarm.http.json_http import HttpRequest, HttpResponse
from coinswarm.http.manual_trade import ManualTradeHandler, stored_close
from coinswarm.http.signing import HmacAuthenticator
from coinswarm.wiring.bootstrap import App
from functions.aws_common import AwsFunction, cycle_tick

function = AwsFunction("manual_trade", "http")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        url_event = FunctionUrlEvent.model_validate(event)
        request = url_event.request()
    except ValueError:  # a ValidationError too
        return response(HttpResponse(400, {"error": "bad_request", "detail": "not a Function URL request"}))
    function.logger.set_correlation_id(url_event.requestContext.requestId or None)
    try:
        endpoint = function.built(manual_trade_endpoint)
    except Exception:
        function.logger.exception("manual trade: the endpoint could not be set up")
        return response(HttpResponse(500, {"error": "internal_error", "detail": "see the function's logs"}))
    return response(endpoint.handle(request))


def manual_trade_endpoint(app: App) -> ManualTradeHandler:
    def run_cycle() -> dict[str, Any]:
        tick = cycle_tick(app, app.clock.now())
        published = function.run(tick, lambda the_app: the_app.stages.ingest.handle)
        return {"cycle_id": tick.cycle_id, "published": len(published)}

    return ManualTradeHandler(
        lambda intent: app.stages.placement.place(intent, now=app.clock.now()),
        run_cycle,
        app.clock,
        HmacAuthenticator(function.manual_trade_secrets(app), app.clock),
        price_of=stored_close(app.state, app.settings.timeframe_s),
    )


def response(reply: HttpResponse) -> dict[str, Any]:
    """The Function URL response: status, headers, the JSON body as text."""
    return {
        "statusCode": reply.status,
        "headers": {"Content-Type": "application/json", **reply.headers},
        "body": reply.body_bytes().decode(),
        "isBase64Encoded": False,
    }


# The event's models are built on the first request, not at import (defer_build).
_ON_FIRST_USE = ConfigDict(defer_build=True)


class _Http(BaseModel):
    model_config = _ON_FIRST_USE

    method: str


class _RequestContext(BaseModel):
    model_config = _ON_FIRST_USE

    http: _Http
    requestId: str = ""


class FunctionUrlEvent(BaseModel):
    """The fields of a Function URL event that the endpoint reads. (powertools' LambdaFunctionUrlModel
    describes them all, but importing it imports every model of its parser: some 40 ms of cold start
    for five fields.)"""

    model_config = _ON_FIRST_USE

    rawPath: str
    headers: dict[str, str] = {}
    body: str = ""
    isBase64Encoded: bool = False
    requestContext: _RequestContext

    def request(self) -> HttpRequest:
        """ValueError when a base64 body is not base64."""
        try:
            body = base64.b64decode(self.body, validate=True) if self.isBase64Encoded else self.body.encode()
        except binascii.Error as exc:
            raise ValueError("the body is not base64") from exc
        return HttpRequest(self.requestContext.http.method, self.rawPath, self.headers, body)
