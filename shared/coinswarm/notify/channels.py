"""Each service's request for an event, and how to read its answer: the documented shapes, nothing more.

* Telegram Bot API: `POST {api}/bot<token>/sendMessage` with `{"chat_id", "text"}`; the answer is
  `{"ok": true, "result": Message}` or `{"ok": false, "error_code", "description", "parameters":
  {"retry_after": s}}` (429).
* Discord incoming webhook: `POST <url>` with `{"content"}` (2,000 characters at most); 204 No Content;
  a 429 carries `{"message", "retry_after": s, "global"}` and a `Retry-After` header.
* Slack incoming webhook: `POST <url>` with `{"text"}`; 200 `ok` (plain text); 400 `invalid_payload`,
  403/404/410 for a revoked hook; a 429 carries `Retry-After`.
* A generic JSON webhook: `POST <url>` with `{"event", "key", "title", "text", "ts", "data"}`; any 2xx.

A channel's `name` is part of the "sent at most once" key, so that a slow Discord never stops Telegram's
copy; its `redacted` form (its kind and host) is what a log line may show: a token sits in the URL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from coinswarm.notify.events import Event

TELEGRAM_MAX = 4096
DISCORD_MAX = 2000
SLACK_MAX = 3000


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Channel:
    kind: str
    url: str
    chat_id: str = ""

    @property
    def name(self) -> str:
        return self.kind

    @property
    def redacted(self) -> str:
        return f"{self.kind} ({urlsplit(self.url).netloc})"

    def payload(self, event: Event) -> dict[str, Any]:
        if self.kind == "telegram":
            return {"chat_id": self.chat_id, "text": _cut(event.text, TELEGRAM_MAX), "disable_web_page_preview": True}
        if self.kind == "discord":
            return {"content": _cut(event.text, DISCORD_MAX), "allowed_mentions": {"parse": []}}
        if self.kind == "slack":
            return {"text": _cut(event.text, SLACK_MAX)}
        return {
            "event": event.kind,
            "key": event.key,
            "title": event.title,
            "text": event.text,
            "ts": event.ts,
            "data": event.data,
        }

    def accepted(self, status: int, body: bytes) -> bool:
        """Whether a 2xx answer says the message was taken (Telegram also says so in its JSON)."""
        if not 200 <= status < 300:
            return False
        if self.kind == "telegram":
            return b'"ok":true' in body.replace(b" ", b"")
        return True


def telegram(api_url: str, token: str, chat_id: str) -> Channel:
    return Channel("telegram", f"{api_url.rstrip('/')}/bot{token}/sendMessage", chat_id)


def channels_from(notify: Any) -> list[Channel]:
    """The channels a `NotifyConfig` names (its secrets read here, never logged)."""
    out: list[Channel] = []
    if notify.telegram_bot_token is not None and notify.telegram_chat_id:
        out.append(
            telegram(notify.telegram_api_url, notify.telegram_bot_token.get_secret_value(), notify.telegram_chat_id)
        )
    for kind, secret in (
        ("discord", notify.discord_webhook_url),
        ("slack", notify.slack_webhook_url),
        ("webhook", notify.webhook_url),
    ):
        if secret is not None:
            out.append(Channel(kind, secret.get_secret_value()))
    return out
