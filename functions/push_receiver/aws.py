"""push_receiver on AWS Lambda, behind a Function URL (auth type NONE: every push is signed with the
push secret instead, see coinswarm.http.signing). The event (payload format 2.0) becomes an
`HttpRequest` for `PushReceiver`, whose `HttpResponse` becomes the Function URL's response.
Handler: `functions.push_receiver.aws.handler`.

It consumes the topics whose consumer `deploy.placement` puts on AWS and refuses the others. What the
stage hands on goes to the chain's bus (an asynchronous invocation of its consumer, or SQS), or is pushed
again when its consumer runs on the other cloud; as from every AWS function, a PlacementDone without a
fill is not handed on. Replays are
refused across every container: the replay cache is the coordination store (`StoredSeenSignatures`).
The secret is the SSM SecureString `/{prefix}/push-secret` (or `COINSWARM_PUSH_SECRET` locally), read
once per container; several, comma-separated, during a rotation (the first signs, any verifies).
"""

from __future__ import annotations

from typing import Any

from coinswarm.http.json_http import HttpResponse
from coinswarm.http.push_receiver import PushReceiver
from coinswarm.http.push_wire import consumed_on, pushed_from
from coinswarm.http.replay_cache import StoredSeenSignatures
from coinswarm.http.signing import HmacAuthenticator
from coinswarm.stages.messages import Message
from coinswarm.wiring.bootstrap import App, Route
from functions.aws_common import AwsFunction, worth_sending
from functions.function_url import FunctionUrlEvent, response

CLOUD = "aws"

function = AwsFunction("push_receiver", "http")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        url_event = FunctionUrlEvent.model_validate(event)
        request = url_event.request()
    except ValueError:  # a ValidationError too
        return response(HttpResponse(400, {"error": "bad_request", "detail": "not a Function URL request"}))
    function.logger.set_correlation_id(url_event.requestContext.requestId or None)
    try:
        receiver = function.built(push_receiver)
    except Exception:
        function.logger.exception("push: the receiver could not be set up")
        return response(HttpResponse(500, {"error": "internal_error", "detail": "see the function's logs"}))
    return response(receiver.handle(request))


def push_receiver(app: App) -> PushReceiver:
    from coinswarm.adapters.http_push_bus import DeploymentBus, HttpPushBus

    settings = app.settings
    secrets = function.push_secrets(app)
    placement = settings.deploy.placement
    bus = DeploymentBus(
        function.bus,
        lambda: HttpPushBus.from_settings(settings, secrets, clock=app.clock),
        pushed_from(placement, CLOUD),
    )  # (as every AWS function's outbound(), with the secrets read once for both directions)
    seen = StoredSeenSignatures(app.coordination, app.clock)
    auth = HmacAuthenticator(secrets, app.clock, seen=seen, window_s=settings.push.window_s)
    routes = {topic: sending_only_worthwhile(route) for topic, route in app.stages.routes().items()}
    return PushReceiver(auth, routes, consumed_on(placement, CLOUD), bus)


def sending_only_worthwhile(route: Route) -> Route:
    """The stage, its outputs filtered as every AWS function filters them (`worth_sending`: no PlacementDone
    without a fill), so that what the receiver reports as published is what was sent."""

    def run(message: Any) -> list[tuple[str, Message]]:
        return [(topic, out) for topic, out in route(message) if worth_sending(topic, out)]

    return run
