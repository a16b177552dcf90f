"""A local HTTP server speaking the OpenAI chat completions API (POST /v1/chat/completions), whose
behaviour is chosen by the request's `model`: the stand-in for DeepSeek, Qwen, Groq or Ollama.

Models: `ok` (a valid vote), `fenced` (the vote inside a ```json fence), `slow` (answers only when the
test ends: the client's deadline must fire), `malformed` (content that is not JSON), `off-schema`
(a signal of 3), `refusal` (the `refusal` field), `filtered` (finish_reason content_filter), `429`
(Retry-After: 30), `500`, `garbage` (a body that is not JSON). Every request is kept in `requests`."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local_http import STOP_POLL_S

VOTE = {"signal": 0.6, "confidence": 0.7, "reason": "momentum is building"}


def completion(content: str | None, *, refusal: str | None = None, finish: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-local",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "local",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal},
                "finish_reason": finish,
            }
        ],
        "usage": {"prompt_tokens": 300, "completion_tokens": 40, "total_tokens": 340},
    }


class ChatServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    server: ChatServer

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        if self.path != "/v1/chat/completions":
            return self._send(404, {"error": {"message": "not found"}})
        model = body.get("model")
        if model == "slow":
            self.server.release.wait(30)
            return self._send(200, completion(json.dumps(VOTE)))
        if model == "429":
            return self._send(429, {"error": {"message": "rate limited"}}, {"Retry-After": "30"})
        if model == "500":
            return self._send(500, {"error": {"message": "internal"}})
        if model == "garbage":
            return self._raw(200, b"<html>oops</html>")
        content = {
            "ok": json.dumps(VOTE),
            "fenced": "```json\n" + json.dumps(VOTE) + "\n```",
            "malformed": "I think you should buy.",
            "off-schema": json.dumps({**VOTE, "signal": 3}),
        }.get(model)
        if model == "refusal":
            return self._send(200, completion(None, refusal="I can't help with trading."))
        if model == "filtered":
            return self._send(200, completion("", finish="content_filter"))
        return self._send(200, completion(content if content is not None else json.dumps(VOTE)))

    def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self._raw(status, json.dumps(payload).encode(), headers)

    def _raw(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


@contextmanager
def chat_server() -> Iterator[ChatServer]:
    server = ChatServer()
    thread = threading.Thread(target=server.serve_forever, args=(STOP_POLL_S,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
