"""The Telegram webhook, free of any web framework: `TelegramWebhook.handle(HttpRequest)`.

Telegram POSTs each Update as JSON with the `X-Telegram-Bot-Api-Secret-Token` header set to the
`secret_token` given to setWebhook (`coinswarm telegram setup`). The checks, in order:

1. POST only (405); the body at most MAX_BODY_BYTES (413);
2. the secret token header, compared in constant time (401: a request not from Telegram);
3. a JSON object with an integer `update_id` (400);
4. a `message` from an allowed chat (`remote.telegram_chat_ids`), whose text is a command: anything
   else is answered 200 with an empty body, so that Telegram does not redeliver it, and nothing is done;
5. each update once: `telegram:update:<id>` is claimed in the coordination store, and a redelivery
   (Telegram retries an update it did not see answered 2xx) finds the claim and does nothing again.

A fast command is answered in the webhook's own response, as a Bot API call
(`{"method": "sendMessage", "chat_id", "text"}`): no second request, and within Telegram's wait. A slow
one (`telegram_commands.SLOW`: a cycle, a flatten) is acknowledged the same way ("⏳ ...") and handed to
`defer(job)`; `run_deferred(job)` later runs it and sends the answer with `sendMessage` (on AWS an
asynchronous invocation of the same function, locally a thread). A command that fails is answered with
what went wrong and still 200: a redelivery would not fix it. An error that ends the request itself (the
coordination store busy, another delivery holding the update's claim) answers its class's status
(coinswarm.http.error_answer): a 503 with Retry-After, and Telegram delivers the update again later."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from coinswarm.http.error_answer import error_answer
from coinswarm.http.json_http import HttpRequest, HttpResponse, error, respond
from coinswarm.http.signing import get_header
from coinswarm.http.telegram_commands import SLOW, Commands, parse

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY_BYTES = 64 * 1024
CLAIM_TTL_S = 2 * 86_400  # Telegram gives up redelivering an update well within this
Job = dict[str, Any]


class TelegramWebhook:
    def __init__(
        self,
        secret_token: str,
        allowed_chats: Iterable[int],
        commands: Commands,
        coordination: Any,
        now: Callable[[], int],
        *,
        defer: Callable[[Job], None],
        reply: Callable[[int, str], bool],
    ) -> None:
        if not secret_token:
            raise ValueError("the Telegram webhook needs remote.telegram_webhook_secret")
        self._digest = hashlib.sha256(secret_token.encode()).digest()
        self.allowed = frozenset(allowed_chats)
        self.commands = commands
        self.coordination = coordination
        self.now = now
        self.defer = defer
        self.reply = reply

    def handle(self, request: HttpRequest) -> HttpResponse:
        try:
            return self._handle(request)
        except Exception as exc:
            return error_answer(
                exc, log=logger, where="telegram", internal="the update could not be handled; see the function's logs"
            )

    def _handle(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return error(405, "method_not_allowed", "Telegram POSTs updates here", headers={"Allow": "POST"})
        body = bytes(request.body)
        if len(body) > MAX_BODY_BYTES:
            return error(413, "body_too_large", f"an update is at most {MAX_BODY_BYTES} bytes here")
        given = get_header(request.headers, SECRET_HEADER) or ""
        if not hmac.compare_digest(hashlib.sha256(given.encode("utf-8", "surrogatepass")).digest(), self._digest):
            logger.warning("telegram: an update without the right secret token was refused")
            return error(401, "unauthorized", f"missing or wrong {SECRET_HEADER}")
        try:
            update = json.loads(body)
        except ValueError:
            return error(400, "invalid_json", "the body is not JSON")
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            return error(400, "invalid_update", "an Update is a JSON object with an integer update_id")
        message = update.get("message")
        if not isinstance(message, dict):
            return respond(200, {})  # an edit, a channel post, ...: nothing to do
        chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
        chat_id = chat.get("id") if isinstance(chat, dict) else None
        if not isinstance(chat_id, int) or chat_id not in self.allowed:
            logger.warning("telegram: a message from a chat not in remote.telegram_chat_ids was ignored")
            return respond(200, {})
        text = message.get("text")
        command = parse(text) if isinstance(text, str) else None
        if command is None:
            return _send(chat_id, "Send a command; /help lists them.")
        return self._once(update["update_id"], chat_id, *command)

    def _once(self, update_id: int, chat_id: int, name: str, arg: str) -> HttpResponse:
        key = f"telegram:update:{update_id}"
        owner = f"telegram-{update_id}-{self.now()}"
        if self.coordination.begin(key, owner=owner, now=self.now(), in_progress_ttl_s=CLAIM_TTL_S) is not None:
            logger.info("telegram: update %d came again; handled once already", update_id)
            return respond(200, {})
        if name in SLOW:
            self.defer({"chat_id": chat_id, "name": name, "arg": arg, "update_id": update_id})
            text = f"⏳ /{name} {arg}".rstrip() + ": on it, the answer follows."
        else:
            text = self._answer(name, arg)
        self.coordination.complete(key, {"command": name}, owner=owner, now=self.now(), ttl_s=CLAIM_TTL_S)
        logger.info("telegram: /%s answered", name)
        return _send(chat_id, text)

    def _answer(self, name: str, arg: str) -> str:
        try:
            return self.commands.answer(name, arg)
        except Exception as exc:
            logger.error("telegram: /%s failed: %s", name, type(exc).__name__, exc_info=True)
            return f"❌ /{name} failed ({type(exc).__name__}); see the function's logs."

    def run_deferred(self, job: Job) -> bool:
        """Run a slow command and send its answer; whether Telegram took the message."""
        text = self._answer(str(job["name"]), str(job.get("arg", "")))
        return self.reply(int(job["chat_id"]), text)


def _send(chat_id: int, text: str) -> HttpResponse:
    return respond(200, {"method": "sendMessage", "chat_id": chat_id, "text": text[:4096]})


def telegram_reply(api_url: str, token: str, *, deadline_s: float = 10.0) -> Callable[[int, str], bool]:
    """`reply(chat_id, text)` through the Bot API's sendMessage (429 and 5xx retried within the deadline)."""

    def reply(chat_id: int, text: str) -> bool:
        import httpx

        from coinswarm.notify.channels import telegram
        from coinswarm.notify.sender import post_json

        channel = telegram(api_url, token, str(chat_id))
        with httpx.Client() as client:
            outcome = post_json(
                client,
                channel.url,
                {"chat_id": chat_id, "text": text[:4096]},
                deadline_s=deadline_s,
                accepted=channel.accepted,
            )
        if not outcome.sent:
            logger.warning("telegram: the answer was not sent: %s", outcome.detail)
        return outcome.sent

    return reply
