"""push_receiver on Google Cloud: an HTTP function (every push signed with the push secret, see
coinswarm.http.signing). The flask request becomes an `HttpRequest` for `PushReceiver`, whose
`HttpResponse` is the answer.

It consumes the topics whose consumer `deploy.placement` puts on GCP and refuses the others. What the
stage hands on is published on Pub/Sub, or pushed again when its consumer runs on the other cloud.
Replays are refused across every instance: the replay cache is the coordination store. The secret is
Secret Manager's `push-secret` (or `COINSWARM_PUSH_SECRET` locally), read once per container. Deploy
it as a 2nd gen function and give the sender its run.app URL: the path signed is the path received.
"""

from __future__ import annotations

import threading

import functions_framework
from flask import Request

from coinswarm.http.json_http import HttpRequest
from coinswarm.http.push_receiver import PushReceiver
from coinswarm.http.push_wire import MAX_BODY_BYTES, consumed_on
from coinswarm.http.replay_cache import StoredSeenSignatures
from coinswarm.http.signing import HmacAuthenticator
from functions.gcp_common import CLOUD, Runtime, runtime

_lock = threading.Lock()
_built: tuple[Runtime, PushReceiver] | None = None


@functions_framework.http
def push_receiver(request: Request) -> tuple[bytes, int, dict[str, str]]:
    body = request.stream.read(MAX_BODY_BYTES + 1)  # one byte over the limit is enough to refuse it
    reply = receiver().handle(HttpRequest(request.method, request.path, dict(request.headers), body))
    return reply.body_bytes(), reply.status, dict(reply.headers)


def receiver() -> PushReceiver:
    """The container's receiver, built on first use (and again for a new runtime, in tests)."""
    global _built
    rt = runtime()
    if _built is None or _built[0] is not rt:
        with _lock:
            if _built is None or _built[0] is not rt:
                _built = (rt, _build(rt))
    return _built[1]


def _build(rt: Runtime) -> PushReceiver:
    """What the stage hands on goes where every GCP function's outputs go (`rt.outbound`: Pub/Sub, or the
    push again for a consumer on AWS); the secrets are read once for both directions."""
    settings, app = rt.settings, rt.app
    seen = StoredSeenSignatures(app.coordination, app.clock)
    auth = HmacAuthenticator(rt.push_secrets(), app.clock, seen=seen, window_s=settings.push.window_s)
    return PushReceiver(auth, app.stages.routes(), consumed_on(settings.deploy.placement, CLOUD), lambda: rt.outbound)
