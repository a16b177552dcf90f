"""`GET /status` and the status page, free of any web framework: `StatusHandler.handle(HttpRequest)`.

    GET /            the page (coinswarm/http/status_page.html): static, no build step, no secret in it
    GET /status      the status document (coinswarm.http.status_document) as JSON, behind
                     `Authorization: Bearer <remote.status_token>`, compared in constant time

The page asks for the token once (or takes it from the URL's fragment, `#token=...`, which no server
sees), keeps it in the phone's local storage and fetches /status with it. 401 without a good token,
405 for another method, 404 for another path; an error reading the status answers its class's status
(coinswarm.http.error_answer: 503 "busy" when the store is busy, a generic 500 for a fault)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from coinswarm.errors import CoinswarmError, StoreError
from coinswarm.http.error_answer import error_answer
from coinswarm.http.json_http import HttpRequest, HttpResponse, error, respond
from coinswarm.http.signing import Authenticator, AuthError

logger = logging.getLogger(__name__)

PAGE_PATHS = ("/", "/index.html")
STATUS_PATH = "/status"
STORE_RETRY_AFTER_S = 2


@dataclass(frozen=True, slots=True)
class PageResponse(HttpResponse):
    """An answer whose body is not JSON: the page's HTML."""

    raw: bytes = b""

    def body_bytes(self) -> bytes:
        return self.raw


@functools.cache
def page_html() -> bytes:
    return resources.files("coinswarm.http").joinpath("status_page.html").read_bytes()


def page() -> PageResponse:
    return PageResponse(
        200,
        {},
        {
            "Content-Type": "text/html; charset=utf-8",
            "Cache-Control": "no-cache",
            "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
            "connect-src 'self'; img-src data:",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
        page_html(),
    )


class StatusHandler:
    def __init__(self, document: Callable[[], dict[str, Any]], auth: Authenticator) -> None:
        self.document = document
        self.auth = auth

    def handles(self, request: HttpRequest) -> bool:
        return request.path in (*PAGE_PATHS, STATUS_PATH) and request.method in ("GET", "HEAD")

    def handle(self, request: HttpRequest) -> HttpResponse:
        if request.path not in (*PAGE_PATHS, STATUS_PATH):
            return error(404, "not_found", f"GET {STATUS_PATH} for the JSON, / for the page")
        if request.method not in ("GET", "HEAD"):
            return error(405, "method_not_allowed", "use GET", headers={"Allow": "GET"})
        if request.path in PAGE_PATHS:
            return page()
        try:
            self.auth.authenticate(request.method, request.path, request.headers, b"")
        except AuthError as exc:
            logger.warning("status: not authenticated (%s)", exc.reason)
            return error(
                exc.http_status,
                "unauthorized",
                f"{exc.reason}: send Authorization: Bearer <remote.status_token>",
                headers={"WWW-Authenticate": self.auth.challenge},
            )
        try:
            return respond(200, self.document())
        except Exception as exc:
            return error_answer(
                exc,
                log=logger,
                where="status",
                internal="the status could not be read; see the function's logs",
                words=_words,
                retry_after_s=STORE_RETRY_AFTER_S,
            )


def _words(exc: CoinswarmError) -> tuple[str, str] | None:
    if isinstance(exc, StoreError) and exc.retryable:
        return "busy", "the store is busy; retry in a moment"
    return None
