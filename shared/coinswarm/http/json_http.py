"""The request and response every framework-free endpoint here speaks (the manual trade endpoint, the
push receiver), and the JSON answers they share: each refusal `{"error": code, "detail": ...}`,
never cached. A cloud entry point turns its event into an HttpRequest and the HttpResponse back."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from coinswarm.http.signing import get_header

JSON_TYPE = "application/json"


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """What a cloud entry point hands over: the method, the URL path (no query), headers, raw body."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """What it hands back: a status, a JSON object, headers (Content-Type included)."""

    status: int
    body: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)

    def body_bytes(self) -> bytes:
        return json.dumps(self.body, default=str).encode()


def respond(status: int, body: dict[str, Any], **headers: str) -> HttpResponse:
    return HttpResponse(status, body, {"Content-Type": JSON_TYPE, "Cache-Control": "no-store", **headers})


def error(
    status: int, code: str, detail: str, *, extra: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> HttpResponse:
    return respond(status, {"error": code, "detail": detail, **(extra or {})}, **(headers or {}))


def sent_as_json(request: HttpRequest) -> bool:
    """Whether the Content-Type is JSON (parameters such as charset aside)."""
    media = (get_header(request.headers, "Content-Type") or "").split(";")[0].strip().lower()
    return media == JSON_TYPE
