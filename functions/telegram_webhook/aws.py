"""telegram_webhook on AWS Lambda, behind a Function URL (auth type NONE: Telegram's updates carry the
webhook's secret token, /status a bearer token; the page holds no secret). Handler:
`functions.telegram_webhook.aws.handler`. Three kinds of event:

* a Function URL request (payload format 2.0): `POST /telegram` from Telegram, `GET /` and `GET /status`
  (coinswarm.http.telegram_remote);
* `{"telegram_deferred": job}`: a slow command this function acknowledged and handed to itself by an
  asynchronous invocation; it runs now and answers with sendMessage;
* an SNS notification of a CloudWatch alarm (the heartbeat: no cycle for three periods; a message in a
  dead-letter queue): the owner is told (coinswarm.notify.alarms).

The tokens are secret settings (`notify.telegram_bot_token`, `remote.telegram_webhook_secret`,
`remote.status_token`), read from SSM at cold start like the others (SECRET_SETTINGS)."""

from __future__ import annotations

import json
import os
from typing import Any

from coinswarm.http.json_http import HttpResponse
from coinswarm.wiring.bootstrap import App
from functions.aws_common import AwsFunction, cycle_tick
from functions.function_url import FunctionUrlEvent, response

function = AwsFunction("telegram_webhook", "http")
DEFERRED = "telegram_deferred"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if DEFERRED in event:
        return {"sent": function.built(remote).run_deferred_job(event[DEFERRED])}
    if _is_sns(event):
        return {"notified": function.built(remote).alarm(event)}
    try:
        url_event = FunctionUrlEvent.model_validate(event)
        request = url_event.request()
    except ValueError:
        return response(HttpResponse(400, {"error": "bad_request", "detail": "not a Function URL request"}))
    function.logger.set_correlation_id(url_event.requestContext.requestId or None)
    try:
        router = function.built(remote).router
    except Exception:
        function.logger.exception("telegram webhook: the endpoint could not be set up")
        return response(HttpResponse(500, {"error": "internal_error", "detail": "see the function's logs"}))
    return response(router.handle(request))


def _is_sns(event: dict[str, Any]) -> bool:
    records = event.get("Records")
    return isinstance(records, list) and bool(records) and records[0].get("EventSource") == "aws:sns"


class Remote:
    def __init__(self, app: App) -> None:
        from coinswarm.http.telegram_remote import remote_router

        self.app = app
        token = app.settings.remote.status_token
        self.router = remote_router(
            app, run_cycle=self.run_cycle, defer=self.defer, status_tokens=[token.get_secret_value()] if token else []
        )

    def run_cycle(self) -> dict[str, Any]:
        tick = cycle_tick(self.app, self.app.clock.now())
        published = function.run(tick, lambda the_app: the_app.stages.ingest.handle)
        return {"cycle_id": tick.cycle_id, "published": len(published)}

    def defer(self, job: dict[str, Any]) -> None:
        name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        function.client("lambda").invoke(
            FunctionName=name, InvocationType="Event", Payload=json.dumps({DEFERRED: job}).encode()
        )

    def run_deferred_job(self, job: dict[str, Any]) -> bool:
        hook = self.router.telegram()
        return bool(hook is not None and hook.run_deferred(job))

    def alarm(self, event: dict[str, Any]) -> int:
        """The alarm's notifications; how many were sent."""
        from coinswarm.http.telegram_remote import notifier
        from coinswarm.notify.alarms import alarm_events

        app = self.app
        last = app.history.recent_decisions(1)
        events = alarm_events(
            event, last_cycle_ts=last[0].ts if last else None, periods=app.settings.remote.late_after_periods
        )
        return sum(1 for d in notifier(app).notify_all(events) if d.sent)


def remote(app: App) -> Remote:
    return Remote(app)
