"""The owner's remote control in the configuration: where notifications go (`[notify]`) and how the bot
is reached from afar (`[remote]`: the Telegram chats allowed to command it, the URL Terraform printed).

Every token and webhook URL is a secret setting (SecretStr): redacted from every log line, kept in
SSM / Secret Manager in the cloud (`SECRET_SETTINGS`) and in `COINSWARM_NOTIFY__*` variables locally,
like the venue keys. Nothing here is built at import (`defer_build`)."""

from __future__ import annotations

import re
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

EventKind = Literal[
    "entry",
    "exit",
    "refusal",
    "breaker",
    "pause",
    "kill_switch",
    "flatten",
    "protection",
    "daily_summary",
    "dead_letter",
    "heartbeat",
]
EVENT_KINDS: tuple[EventKind, ...] = get_args(EventKind)
"""Every kind of event a notification is sent for (coinswarm.notify.events)."""

_LOCAL_HTTP = re.compile(r"^http://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]+)?(/\S*)?$")
_HTTPS = re.compile(r"^https://[^/\s]+(/\S*)?$")


def _https_or_local(what: str, url: str) -> None:
    if url and not _HTTPS.match(url) and not _LOCAL_HTTP.match(url):
        raise ValueError(f"{what}: give an https:// URL (plain http only to this machine)")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class NotifyConfig(_Section):
    """Where notifications go: any of Telegram, Discord, Slack and a generic JSON webhook (none: off)."""

    telegram_bot_token: SecretStr | None = Field(default=None, description="the bot's token from @BotFather")
    telegram_chat_id: str = Field(default="", description="the chat the bot writes to (your user id for a DM)")
    discord_webhook_url: SecretStr | None = None
    slack_webhook_url: SecretStr | None = None
    webhook_url: SecretStr | None = Field(default=None, description="a generic JSON webhook: POST {event, text, ...}")
    events: tuple[EventKind, ...] = Field(default=EVENT_KINDS, description="which events to send")
    telegram_api_url: str = Field(
        default="https://api.telegram.org", description="the Bot API's address (a local stand-in to rehearse)"
    )
    budget_s: Annotated[float, Field(gt=0.0, le=10.0)] = Field(
        default=2.0, description="the most time one event may take, every channel and retry included"
    )
    refusal_every_s: Annotated[int, Field(ge=60, le=86_400)] = Field(
        default=3600, description="at most one risk refusal notification per symbol in this many seconds"
    )

    @field_validator("telegram_chat_id", mode="before")
    @classmethod
    def _chat_id(cls, v: object) -> object:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v  # a user id is a number

    @field_validator("telegram_api_url")
    @classmethod
    def _api_url(cls, v: str) -> str:
        _https_or_local("notify.telegram_api_url", v)
        return v.rstrip("/")

    @field_validator("discord_webhook_url", "slack_webhook_url", "webhook_url")
    @classmethod
    def _webhooks(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None:
            _https_or_local("notify: a webhook URL", v.get_secret_value())
        return v

    @property
    def enabled(self) -> bool:
        telegram = self.telegram_bot_token is not None and bool(self.telegram_chat_id)
        return telegram or any(
            u is not None for u in (self.discord_webhook_url, self.slack_webhook_url, self.webhook_url)
        )


class RemoteConfig(_Section):
    """How the owner reaches the bot: Telegram commands, the status page, the `coinswarm` client."""

    url: str = Field(default="", description="the manual trade endpoint's URL (Terraform prints it)")
    status_url: str = Field(default="", description="the status function's URL (Terraform prints it)")
    telegram_chat_ids: tuple[int, ...] = Field(
        default=(), description="the only chats whose Telegram commands are obeyed (none: every command refused)"
    )
    telegram_webhook_secret: SecretStr | None = Field(
        default=None, description="Telegram's X-Telegram-Bot-Api-Secret-Token (1-256 of A-Z a-z 0-9 _ -)"
    )
    status_token: SecretStr | None = Field(default=None, description="the bearer token GET /status asks for")
    late_after_periods: Annotated[int, Field(ge=1, le=100)] = Field(
        default=3, description="the last cycle is late (and the heartbeat alarm fires) after this many periods"
    )

    @field_validator("url", "status_url")
    @classmethod
    def _urls(cls, v: str) -> str:
        _https_or_local("remote: a URL", v)
        return v.rstrip("/")

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _secret_token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", v.get_secret_value()):
            raise ValueError("remote.telegram_webhook_secret: 1 to 256 characters of A-Z, a-z, 0-9, _ and -")
        return v
