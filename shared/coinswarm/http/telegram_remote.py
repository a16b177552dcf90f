"""The remote control over an App: the status document, the owner's actions, the Telegram webhook and the
status page, routed as the telegram_webhook function (and `coinswarm serve`) answers them:

    POST /telegram          Telegram's updates (coinswarm.http.telegram_webhook)
    GET  /  and /status     the status page and its JSON (coinswarm.http.status_api)

Built once per container from the App (`remote_router(app, ...)`), each part on its first request."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Annotated, Any

from coinswarm.http.json_http import HttpRequest, HttpResponse, error
from coinswarm.http.status_api import StatusHandler
from coinswarm.http.telegram_commands import Act, Commands
from coinswarm.http.telegram_webhook import Job, TelegramWebhook, telegram_reply

logger = logging.getLogger(__name__)

TELEGRAM_PATH = "/telegram"


def status_of(app: Any) -> Callable[[], dict[str, Any]]:
    from coinswarm.http.status_document import status_document

    return lambda: status_document(app.settings, app.state, app.history, now=app.clock.now())


def owner_act(app: Any, run_cycle: Callable[[], dict[str, Any]]) -> Act:
    """The owner's actions as the manual trade endpoint takes them, run here directly (the webhook is
    authenticated by Telegram's secret token and the allowed chats, not by the manual trade signature)."""

    def act(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if body["action"] == "run_cycle":
            return 202, {"action": "run_cycle", "result": run_cycle()}
        from coinswarm.http.owner_actions import owner_controls

        try:
            command = _owner_request().validate_python(body)
        except ValueError as exc:  # a ValidationError: a symbol Telegram's user mistyped, ...
            return 422, {"error": "invalid_request", "detail": str(exc).splitlines()[-1][:200]}
        reply = NotifyingControls(owner_controls(app), app, who="Telegram").handle(command)
        return reply.status, dict(reply.body)

    return act


@functools.cache
def _owner_request() -> Any:
    from pydantic import Field, TypeAdapter

    from coinswarm.http.owner_actions import FlattenRequest, KillSwitchRequest, PauseRequest, ResumeRequest

    return TypeAdapter(
        Annotated[PauseRequest | ResumeRequest | KillSwitchRequest | FlattenRequest, Field(discriminator="action")]
    )


def NotifyingControls(controls: Any, app: Any, who: str = "the manual trade endpoint") -> Any:
    """The owner's controls (coinswarm.http.owner_actions.OwnerControls, the same fields) that also tell the
    owner's channels what was done: the manual trade endpoint's pause, resume, kill switch and flatten
    (`--url`), Telegram's commands, `coinswarm serve`'s."""
    from coinswarm.http.owner_actions import OwnerControls

    class Notifying(OwnerControls):
        def handle(self, command: Any) -> Any:
            reply = super().handle(command)
            if reply.status < 400:
                event = control_event(command.model_dump(), dict(reply.body), app.clock.now(), who)
                if event is not None:
                    notifier(app).notify(event)
            return reply

    return Notifying(controls.state_of, controls.placement_of, controls.record, controls.price_of, controls.clock)


def control_event(body: dict[str, Any], answer: dict[str, Any], now: int, who: str) -> Any:
    from coinswarm.notify.events import flatten_event, switch_event

    action = body.get("action")
    if action in ("pause", "resume"):
        return switch_event("pause", on=action == "pause", reason=body.get("reason", ""), ts=now, who=who)
    if action == "kill_switch":
        return switch_event("kill_switch", on=bool(body.get("on")), reason=body.get("reason", ""), ts=now, who=who)
    if action == "flatten":
        return flatten_event([f["symbol"] for f in answer.get("flattened", [])], ts=now, who=who)
    return None


def notifier(app: Any) -> Any:
    from coinswarm.notify.notifier import notifier_from

    made = app.extras.get("notifier")
    if made is None:
        made = app.extras["notifier"] = notifier_from(app.settings, app.coordination, app.clock)
    return made


def ledger_events(app: Any) -> Callable[[], list[Any]]:
    return lambda: app.history.read(app.settings.ledger_stream)


class RemoteRouter:
    def __init__(self, status: StatusHandler, telegram: Callable[[], TelegramWebhook | None]) -> None:
        self.status = status
        self._telegram = telegram

    def telegram(self) -> TelegramWebhook | None:
        return self._telegram()

    def handle(self, request: HttpRequest) -> HttpResponse:
        if request.path == TELEGRAM_PATH:
            hook = self._telegram()
            if hook is None:
                return error(404, "not_configured", "set remote.telegram_webhook_secret to take Telegram's updates")
            return hook.handle(request)
        return self.status.handle(request)


def remote_router(
    app: Any,
    *,
    run_cycle: Callable[[], dict[str, Any]],
    defer: Callable[[Job], None],
    status_tokens: list[str],
) -> RemoteRouter:
    from coinswarm.http.signing import BearerAuthenticator

    document = status_of(app)
    remote, notify = app.settings.remote, app.settings.notify
    made: dict[str, TelegramWebhook | None] = {}

    def telegram() -> TelegramWebhook | None:
        if "hook" not in made:
            if remote.telegram_webhook_secret is None:
                made["hook"] = None
            else:
                token = notify.telegram_bot_token.get_secret_value() if notify.telegram_bot_token else ""
                reply = telegram_reply(notify.telegram_api_url, token) if token else _no_reply
                commands = Commands(document, owner_act(app, run_cycle), ledger_events(app))
                made["hook"] = TelegramWebhook(
                    remote.telegram_webhook_secret.get_secret_value(),
                    remote.telegram_chat_ids,
                    commands,
                    app.coordination,
                    app.clock.now,
                    defer=defer,
                    reply=reply,
                )
        return made["hook"]

    auth = BearerAuthenticator(status_tokens) if status_tokens else _Refuse()
    return RemoteRouter(StatusHandler(document, auth), telegram)


def _no_reply(chat_id: int, text: str) -> bool:
    logger.warning("telegram: no notify.telegram_bot_token, so the answer to a slow command was not sent")
    return False


class _Refuse:
    """No status token configured: every request for /status is refused (the page itself still loads)."""

    challenge = 'Bearer realm="coinswarm"'

    def authenticate(self, method: str, path: str, headers: Any, body: bytes) -> Any:
        from coinswarm.http.signing import AuthError

        raise AuthError("no status token is configured (remote.status_token)")
