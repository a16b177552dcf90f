"""manual_trade on AWS Lambda, behind a Function URL (auth type NONE: every request is signed with the
manual trade secret instead, see coinswarm.http.signing). The event (payload format 2.0) becomes an
`HttpRequest` for `ManualTradeHandler`, whose `HttpResponse` becomes the Function URL's response
(`functions.function_url`).
The secret is the SSM SecureString `/{prefix}/manual-trade-secret` (or `COINSWARM_MANUAL_TRADE_SECRET`
locally), read once per container. Handler: `functions.manual_trade.aws.handler`."""

from __future__ import annotations

from typing import Any

from coinswarm.http.json_http import HttpResponse
from coinswarm.http.manual_trade import ManualTradeHandler, stored_close
from coinswarm.http.owner_actions import owner_controls
from coinswarm.http.replay_cache import manual_trade_authenticator
from coinswarm.wiring.bootstrap import App
from functions.aws_common import AwsFunction, cycle_tick
from functions.function_url import FunctionUrlEvent, response

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
        manual_trade_authenticator(function.manual_trade_secrets(app), app.clock, app.coordination),
        price_of=stored_close(app.state, app.settings.timeframe_s),
        controls=owner_controls(app),
    )
