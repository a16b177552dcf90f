"""The Lambda Function URL event (payload format 2.0) as an `HttpRequest`, and an `HttpResponse` as the
Function URL's response: what both AWS HTTP functions (manual_trade, push_receiver) read and answer.
Only the five fields an endpoint reads are modelled; the models are built on the first request."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from pydantic import BaseModel, ConfigDict

from coinswarm.http.json_http import HttpRequest, HttpResponse


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
