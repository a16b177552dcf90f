"""The client of a deployed (or `coinswarm serve`d) bot: `coinswarm trade buy|sell`, `coinswarm cycle`,
the owner's controls with `--url`, and `coinswarm telegram setup`.

Each request is signed as the manual trade endpoint expects (coinswarm.http.signing: the timestamp and an
HMAC-SHA256 of timestamp, method, path and body) with the first secret of
`COINSWARM_MANUAL_TRADE_SECRET`. The URL is `--url`, else `remote.url` of the configuration (the one
Terraform printed). A 503 (the store busy) or a dropped connection is retried twice with the same body:
a trade carries a client_id, so a retry is the same order, never a second one."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from coinswarm.cli.common import add_config_arg, err, fail, settings_from

SECRET_ENV = "COINSWARM_MANUAL_TRADE_SECRET"
RETRIES = 2


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    trade = sub.add_parser(
        "trade",
        help="buy or sell now through a deployed bot's manual trade endpoint (signed)",
        description="Place one trade through the manual trade endpoint at --url (or remote.url): AMOUNT is in the "
        "quote currency (e.g. USD) unless --quantity says base units. Risk checks it like any order. "
        f"Signed with ${SECRET_ENV}.",
    )
    trade.add_argument("side", choices=["buy", "sell"])
    trade.add_argument("symbol", help="e.g. BTC-USD")
    trade.add_argument("amount", type=float, help="how much, in the quote currency (or base units with --quantity)")
    trade.add_argument("--quantity", action="store_true", help="AMOUNT is in base units (e.g. BTC), not the quote")
    trade.add_argument(
        "--client-id", help="your id for this trade (a repeat places one order); default: a new random one"
    )
    _remote_args(trade)
    trade.set_defaults(func=trade_main)

    cycle = sub.add_parser(
        "cycle", help="run one trading cycle now on a deployed bot (signed)", description="Ask the bot at --url "
        "(or remote.url) to run a cycle now rather than at the next scheduled tick."
    )  # fmt: skip
    _remote_args(cycle)
    cycle.set_defaults(func=lambda args: send_main(args, {"action": "run_cycle"}))

    telegram = sub.add_parser(
        "telegram",
        help="register the Telegram webhook (setWebhook) of a deployed bot",
        description="`coinswarm telegram setup` tells Telegram to send the bot's updates to "
        "<remote.status_url>/telegram (or --url), with remote.telegram_webhook_secret as the secret token "
        "Telegram then sends with each. "
        "`coinswarm telegram info` shows what Telegram has.",
    )
    telegram.add_argument("action", choices=["setup", "info"])
    telegram.add_argument("--url", help="the telegram_webhook function's URL (default remote.status_url)")
    add_config_arg(telegram)
    telegram.set_defaults(func=telegram_main)


def add_url_to_controls(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`--url` on the owner's controls registered before this (`pause`, `resume`, `flatten`, `kill-switch`):
    with it, the control goes to the deployed bot at that URL as a signed request (the manual trade endpoint's
    owner actions), not to the local state file. Without --url they work on the state file as before."""
    for name in ("pause", "resume", "flatten", "kill-switch"):
        parser = sub.choices.get(name)
        if parser is None:
            continue
        parser.add_argument(
            "--url", help="a deployed bot's manual trade endpoint: send this control there, signed, instead"
        )
        local = parser.get_default("func")
        parser.set_defaults(func=_remote_or(name, local))


def _remote_or(name: str, local: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        if not getattr(args, "url", None):
            code: int = local(args)
            return code
        return send_main(args, control_body(name, args))

    return run


def control_body(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """The manual trade endpoint's body for an owner's control given on the command line."""
    if name == "pause":
        return {"action": "pause", "reason": getattr(args, "reason", "") or ""}
    if name == "resume":
        return {"action": "resume"}
    if name == "kill-switch":
        if args.action == "status":
            fail("kill-switch status --url: GET the status page's /status instead (`coinswarm status` reads stores)")
        return {"action": "kill_switch", "on": args.action == "on", "reason": getattr(args, "reason", "") or ""}
    if (args.symbol is None) == (not args.all):
        fail("name one SYMBOL (e.g. BTC-USD) to exit, or give --all to exit every position")
    return {"action": "flatten", **({"all": True} if args.all else {"symbol": args.symbol.upper()})}


def _remote_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", help="the manual trade endpoint (default: remote.url of the configuration)")
    add_config_arg(p)


def remote_url(args: argparse.Namespace) -> str:
    url: str = getattr(args, "url", None) or settings_from(args).remote.url
    if not url:
        fail("no URL: give --url, or set remote.url to the manual trade URL Terraform printed (`terraform output`)")
    if not (url.startswith("https://") or url.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]"))):
        fail(f"--url {url}: give an https:// URL (plain http only to this machine, e.g. `coinswarm serve`)")
    return url


def signed_post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST `body` signed with the manual trade secret; (status, JSON answer). Fails cleanly without a secret."""
    import httpx

    from coinswarm.http.signing import rotation, sign

    raw = os.environ.get(SECRET_ENV, "")
    keys = rotation(raw)
    if not keys:
        fail(f"set {SECRET_ENV} to the manual trade secret (the value Terraform stored) to sign the request")
    data = json.dumps(body, separators=(",", ":")).encode()
    path = urlsplit(url).path or "/"
    for attempt in range(RETRIES + 1):
        try:
            headers = {"Content-Type": "application/json", **sign(keys, "POST", path, data, int(time.time()))}
        except ValueError as exc:
            fail(f"{SECRET_ENV}: {exc}")
        try:
            reply = httpx.post(url, content=data, headers=headers, timeout=httpx.Timeout(30.0, connect=5.0))
        except httpx.HTTPError as exc:
            if attempt < RETRIES:
                time.sleep(1.0)
                continue
            fail(f"could not reach {urlsplit(url).netloc}: {type(exc).__name__}; check --url and your connection", 3)
        if reply.status_code == 503 and attempt < RETRIES:
            time.sleep(float(reply.headers.get("Retry-After", "1") or 1))
            continue
        try:
            answer = reply.json()
        except ValueError:
            answer = {"error": "not_json", "detail": reply.text[:300]}
        return reply.status_code, answer if isinstance(answer, dict) else {"answer": answer}
    raise AssertionError("unreachable")  # pragma: no cover


def send_main(args: argparse.Namespace, body: dict[str, Any]) -> int:
    status, answer = signed_post(remote_url(args), body)
    print(json.dumps(answer, indent=2))
    if status >= 400:
        err(f"the bot answered {status}: {answer.get('detail', answer.get('error', ''))}")
        return 1
    return 0


def trade_main(args: argparse.Namespace) -> int:
    if not args.amount > 0:
        fail("AMOUNT must be a positive number")
    body: dict[str, Any] = {
        "action": "trade",
        "symbol": args.symbol.upper(),
        "side": args.side,
        ("quantity" if args.quantity else "notional"): args.amount,
        "client_id": args.client_id or f"cli-{secrets.token_hex(8)}",
    }
    return send_main(args, body)


def telegram_main(args: argparse.Namespace) -> int:
    import httpx

    settings = settings_from(args)
    notify, remote = settings.notify, settings.remote
    if notify.telegram_bot_token is None:
        fail("set notify.telegram_bot_token (COINSWARM_NOTIFY__TELEGRAM_BOT_TOKEN): the token @BotFather gave")
    api = f"{notify.telegram_api_url}/bot{notify.telegram_bot_token.get_secret_value()}"
    if args.action == "info":
        reply = httpx.post(f"{api}/getWebhookInfo", timeout=15)
        print(json.dumps(reply.json().get("result", reply.json()), indent=2))
        return 0 if reply.is_success else 1
    base = (args.url or remote.status_url).rstrip("/")
    if not base.startswith("https://"):
        fail("Telegram calls only https:// webhooks: give --url or remote.status_url (the telegram_webhook URL)")
    if remote.telegram_webhook_secret is None:
        fail("set remote.telegram_webhook_secret (1-256 of A-Z a-z 0-9 _ -): Telegram sends it with every update")
    if not remote.telegram_chat_ids:
        err("note: remote.telegram_chat_ids is empty, so every command will be ignored until you add your chat id")
    body = {
        "url": f"{base}/telegram",
        "secret_token": remote.telegram_webhook_secret.get_secret_value(),
        "allowed_updates": ["message"],
        "drop_pending_updates": True,
        "max_connections": 5,
    }
    try:
        reply = httpx.post(f"{api}/setWebhook", json=body, timeout=15)
        answer = reply.json()
    except (httpx.HTTPError, ValueError) as exc:
        fail(f"Telegram could not be asked: {type(exc).__name__}", 3)
    if not answer.get("ok"):
        fail(f"Telegram refused the webhook: {answer.get('description', reply.status_code)}", 1)
    print(f"Telegram will send the bot's updates to {body['url']} ({answer.get('description', 'ok')})")
    return 0
