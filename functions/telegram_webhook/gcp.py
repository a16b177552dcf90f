"""telegram_webhook on Google Cloud: an HTTP function answering Telegram's updates (`POST /telegram`),
the status page (`GET /`) and its JSON (`GET /status`), see coinswarm.http.telegram_remote. A slow command
is acknowledged and then run in the same request's thread after the answer is computed: Cloud Functions
gives no CPU after the response, so it runs before returning, within Telegram's wait (60 s) for a cycle."""

from __future__ import annotations

from typing import Any

import functions_framework
from flask import Request

from coinswarm.http.json_http import HttpRequest
from coinswarm.http.telegram_webhook import MAX_BODY_BYTES
from functions.gcp_common import run_tick, runtime

_router: Any = None
_jobs: list[dict[str, Any]] = []


def router() -> Any:
    global _router
    if _router is None:
        from coinswarm.http.telegram_remote import remote_router

        rt = runtime()
        token = rt.settings.remote.status_token
        _router = remote_router(
            rt.app, run_cycle=run_tick, defer=_jobs.append, status_tokens=[token.get_secret_value()] if token else []
        )
    return _router


@functions_framework.http
def telegram_webhook(request: Request) -> tuple[bytes, int, dict[str, str]]:
    body = request.stream.read(MAX_BODY_BYTES + 1)
    the_router = router()
    reply = the_router.handle(HttpRequest(request.method, request.path, dict(request.headers), body))
    while _jobs:  # the slow commands this update acknowledged: run now, answered by sendMessage
        hook = the_router.telegram()
        job = _jobs.pop(0)
        if hook is not None:
            hook.run_deferred(job)
    return reply.body_bytes(), reply.status, dict(reply.headers)
