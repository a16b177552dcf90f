"""A local stand-in for the chat services Coinswarm notifies, speaking each one's documented shapes:

* the Telegram Bot API: `POST /bot<token>/sendMessage` ({"chat_id", "text"} -> {"ok": true, "result":
  Message}; a missing field -> 400 {"ok": false, "error_code": 400, "description"}), `POST
  /bot<token>/setWebhook` ({"url", "secret_token", ...} -> {"ok": true, "result": true, "description":
  "Webhook was set"}), `POST /bot<token>/getWebhookInfo`; an unknown token -> 401 {"ok": false,
  "error_code": 401, "description": "Unauthorized"};
* a Discord incoming webhook: `POST /api/webhooks/<id>/<token>` ({"content"} of at most 2,000
  characters -> 204 No Content; longer or empty -> 400 {"message", "code": 50006});
* a Slack incoming webhook: `POST /services/<T>/<B>/<X>` ({"text"} -> 200 `ok` as text/plain; none
  -> 400 `invalid_payload`);
* a generic JSON webhook: `POST /hook` -> 200 {}.

Faults are queued per kind with `fail(kind, ...)`: each queued answer is given to the next request of
that kind instead of the real one: Telegram's 429 (`parameters.retry_after`), Discord's 429 (JSON
`retry_after` in seconds and a `Retry-After` header), Slack's 429 (`Retry-After`), any 5xx.
Every request that reached the server is kept in `received` (kind, path, JSON body, headers)."""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local_http import STOP_POLL_S

TOKEN = "123456:TEST-token_for-the-stand-in"


@dataclass
class Received:
    kind: str
    path: str
    body: Any
    headers: dict[str, str]


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class ChatServices:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.webhook: dict[str, Any] = {}
        self._faults: dict[str, deque[Answer]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, args=(STOP_POLL_S,), daemon=True)

    # -- lifecycle --------------------------------------------------------------------------------

    def __enter__(self) -> ChatServices:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def discord_url(self) -> str:
        return f"{self.url}/api/webhooks/111/discord-token"

    def slack_url(self) -> str:
        return f"{self.url}/services/T000/B000/slack-secret"

    def hook_url(self) -> str:
        return f"{self.url}/hook"

    # -- faults -----------------------------------------------------------------------------------

    def fail(self, kind: str, status: int, *, retry_after: float | None = None, times: int = 1) -> None:
        """Queue `times` answers of `status` for the next requests of `kind`, shaped as that service says."""
        for _ in range(times):
            self._faults.setdefault(kind, deque()).append(_fault(kind, status, retry_after))

    def of(self, kind: str) -> list[Received]:
        return [r for r in self.received if r.kind == kind]

    # -- answering --------------------------------------------------------------------------------

    def answer(self, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        kind = _kind(path)
        try:
            doc = json.loads(body) if body else None
        except ValueError:
            doc = None
        with self._lock:
            self.received.append(Received(kind, path, doc, headers))
            queued = self._faults.get(kind)
            if queued:
                return queued.popleft()
        if kind.startswith("telegram"):
            return self._telegram(kind, path, doc)
        if kind == "discord":
            content = doc.get("content") if isinstance(doc, dict) else None
            if not isinstance(content, str) or not content or len(content) > 2000:
                return _json(400, {"message": "Cannot send an empty message", "code": 50006})
            return Answer(204, b"")
        if kind == "slack":
            if not isinstance(doc, dict) or not isinstance(doc.get("text"), str):
                return Answer(400, b"invalid_payload", {"Content-Type": "text/plain"})
            return Answer(200, b"ok", {"Content-Type": "text/plain"})
        if kind == "hook":
            return _json(200, {})
        return _json(404, {"error": "no such path on the stand-in"})

    def _telegram(self, kind: str, path: str, doc: Any) -> Answer:
        if not path.startswith(f"/bot{TOKEN}/"):
            return _json(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        if not isinstance(doc, dict):
            doc = {}
        if kind == "telegram.sendMessage":
            if "chat_id" not in doc or not doc.get("text"):
                return _json(400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"})
            message = {
                "message_id": next(self._ids),
                "date": 1_700_000_000,
                "chat": {"id": int(doc["chat_id"]), "type": "private"},
                "text": doc["text"],
            }
            return _json(200, {"ok": True, "result": message})
        if kind == "telegram.setWebhook":
            self.webhook = dict(doc)
            return _json(200, {"ok": True, "result": True, "description": "Webhook was set"})
        if kind == "telegram.getWebhookInfo":
            info = {"url": self.webhook.get("url", ""), "has_custom_certificate": False, "pending_update_count": 0}
            return _json(200, {"ok": True, "result": info})
        return _json(404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"})


def _kind(path: str) -> str:
    if path.startswith("/bot"):
        return "telegram." + path.rsplit("/", 1)[-1]
    if path.startswith("/api/webhooks/"):
        return "discord"
    if path.startswith("/services/"):
        return "slack"
    return path.strip("/")


def _json(status: int, doc: Any, headers: dict[str, str] | None = None) -> Answer:
    return Answer(status, json.dumps(doc).encode(), {"Content-Type": "application/json", **(headers or {})})


def _fault(kind: str, status: int, retry_after: float | None) -> Answer:
    if kind.startswith("telegram"):
        doc: dict[str, Any] = {"ok": False, "error_code": status, "description": "Internal Server Error"}
        if status == 429:
            doc["description"] = f"Too Many Requests: retry after {int(retry_after or 1)}"
            doc["parameters"] = {"retry_after": int(retry_after or 1)}
        return _json(status, doc)
    header = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
    if kind == "discord" and status == 429:
        return _json(
            status, {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}, header
        )
    if kind == "slack":
        return Answer(
            status, b"rate_limited" if status == 429 else b"internal_error", {"Content-Type": "text/plain", **header}
        )
    return _json(status, {"error": "unavailable"}, header)


def _handler(services: ChatServices) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            answer = services.answer(self.path, body, {k: v for k, v in self.headers.items()})
            self.send_response(answer.status)
            for k, v in answer.headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def telegram_update(update_id: int, chat_id: int, text: str, *, date: int = 1_700_000_000) -> dict[str, Any]:
    """An Update as Telegram POSTs it to a webhook: a private message, its command marked as an entity."""
    entities = [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}] if text.startswith("/") else []
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id * 10,
            "from": {"id": chat_id, "is_bot": False, "first_name": "Owner", "language_code": "en"},
            "chat": {"id": chat_id, "first_name": "Owner", "type": "private"},
            "date": date,
            "text": text,
            **({"entities": entities} if entities else {}),
        },
    }
