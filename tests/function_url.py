"""What a Lambda Function URL does in front of a handler, for tests that serve an AWS function over real
HTTP (with `functions.push_receiver.local.serve`): each request becomes the Function URL event (payload
format 2.0, the shape of aws/events/function_url_event.json), and the handler's answer becomes HTTP."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from coinswarm.http.json_http import HttpRequest, HttpResponse

EVENT = json.loads((Path(__file__).parent / "integration/aws/events/function_url_event.json").read_text())


def function_url(handler: Callable[[dict[str, Any], Any], dict[str, Any]]) -> Callable[[HttpRequest], HttpResponse]:
    """The handler behind a Function URL: the event, the handler, its response back as HTTP. A JSON body
    travels as text, anything else base64."""

    def handle(request: HttpRequest) -> HttpResponse:
        event = copy.deepcopy(EVENT)
        event["rawPath"] = request.path
        event["headers"] = {k.lower(): v for k, v in request.headers.items()}
        event["requestContext"]["http"].update(method=request.method, path=request.path)
        event["requestContext"]["requestId"] = str(uuid.uuid4())
        try:
            event["body"], event["isBase64Encoded"] = request.body.decode(), False
        except UnicodeDecodeError:
            event["body"], event["isBase64Encoded"] = base64.b64encode(request.body).decode(), True
        result = handler(event, None)
        return HttpResponse(result["statusCode"], json.loads(result["body"]), result["headers"])

    return handle
