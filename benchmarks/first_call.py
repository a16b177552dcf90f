"""What a cold start costs up to the end of its first invocation, not just its import: so that work
moved out of the import (a validator built on first use, a module imported late) is still counted.

In a fresh interpreter, with a configuration that needs no network (the in-memory store, the synthetic
market, one symbol, a manual trade secret in the environment), `probe_code` times the entry point's
import and then its first invocation as far as it can go offline: the container's App (and on AWS the
SQS bus and, for order placement, the idempotency layer), the incoming message decoded from its JSON
body, the function's stage run on it, and the outgoing messages encoded as they would be published.
Only the publish itself (a network call) is left out. The manual trade endpoint answers one signed
trade request. The push receiver checks one signed push of a PlacementDone (its signature, the replay
cache, the envelope) and runs trade logging on it. The message bodies are real: `sample_bodies` runs
the stages once, in this process, on a synthetic series.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SECRET = "benchmark-secret-not-a-real-one"
ENV = {
    "COINSWARM_STORE__BACKEND": "memory",
    "COINSWARM_MARKET__SOURCE": "synthetic",
    "COINSWARM_SYMBOLS": "BTC-USD",
    "COINSWARM_MANUAL_TRADE_SECRET": SECRET,
    "COINSWARM_PUSH_SECRET": SECRET,
    "AWS_DEFAULT_REGION": "us-east-1",
}
KIND = {
    "agent_scoring": ("CandlesReady", "scoring"),
    "committee_vote": ("ScoresReady", "vote"),
    "order_placement": ("DecisionReady", "placement"),
    "trade_logging": ("PlacementDone", "ledger"),
}
TRADE = {"action": "trade", "symbol": "BTC-USD", "side": "buy", "notional": 100.0, "client_id": "bench-1"}


def sample_bodies() -> dict[str, str]:
    """One real message of each kind a function consumes (JSON, as it travels), from one cycle of the
    stages on a synthetic series, cut to the newest candle as a live cycle carries it."""
    from dataclasses import replace

    from coinswarm.config import load_settings
    from coinswarm.stages.messages import CycleTick, encode
    from coinswarm.wiring.bootstrap import build_app
    from coinswarm.wiring.cloud import cloud_market

    settings = load_settings(env=ENV)
    app = build_app(settings, market=cloud_market(settings))
    now = app.clock.now() // settings.timeframe_s * settings.timeframe_s
    ((_, candles),) = app.stages.ingest.handle(CycleTick("bench", now, settings.symbols))
    candles = replace(candles, candles=candles.candles[-1:])
    ((_, scores),) = app.stages.scoring.handle(candles)
    ((_, decision),) = app.stages.vote.handle(scores)
    ((_, placed),) = app.stages.placement.handle(decision)
    return {
        "CandlesReady": encode(candles),
        "ScoresReady": encode(scores),
        "DecisionReady": encode(decision),
        "PlacementDone": encode(placed),
    }


def signed_trade() -> dict[str, Any]:
    """A signed manual trade request (headers and body), valid for the next few minutes."""
    from coinswarm.http.signing import sign

    body = json.dumps(TRADE)
    headers = {"Content-Type": "application/json", **sign(SECRET, "POST", "/", body.encode(), int(time.time()))}
    return {"headers": headers, "body": body}


def signed_push(bodies: dict[str, str]) -> dict[str, Any]:
    """A signed push of the sample PlacementDone (headers and body), valid for the next few minutes."""
    from coinswarm.http.push_wire import envelope
    from coinswarm.http.signing import sign
    from coinswarm.stages.messages import PLACEMENTS, PlacementDone, decode

    body = envelope(PLACEMENTS, decode(PlacementDone, bodies["PlacementDone"]))
    headers = {"Content-Type": "application/json", **sign(SECRET, "POST", "/", body, int(time.time()))}
    return {"headers": headers, "body": body.decode()}


def _push(receiver: str, push: dict[str, Any]) -> list[str]:
    """The receiver built, the push authenticated and read, its stage run, the outputs encoded."""
    return [
        f"receiver = {receiver}",
        "from coinswarm.http.push_wire import KINDS, read_envelope",
        "from coinswarm.stages.messages import decode, encode",
        f"body = {push['body'].encode()!r}",
        f"receiver.auth.authenticate('POST', '/', {push['headers']!r}, body)",
        "pushed = read_envelope(body)",
        "message = decode(KINDS[pushed.topic], json.dumps(pushed.message))",
        "sent = [encode(out) for _, out in receiver.routes[pushed.topic](message)]",
    ]


def probe_code(cloud: str, name: str, bodies: dict[str, str], request: dict[str, Any]) -> str:
    """Python for `python -c`: prints the import's and the import + first invocation's milliseconds,
    wall clock then CPU."""
    lines = [
        "import json, sys, time",
        f"sys.path.insert(0, {str(ROOT)!r})",
        "w0, c0 = time.perf_counter(), time.process_time()",
        f"import functions.{name}.{cloud} as entry",
        "w1, c1 = time.perf_counter(), time.process_time()",
        *(_aws(name, bodies, request) if cloud == "aws" else _gcp(name, bodies, request)),
        "w2, c2 = time.perf_counter(), time.process_time()",
        "print((w1 - w0) * 1e3, (c1 - c0) * 1e3, (w2 - w0) * 1e3, (c2 - c0) * 1e3)",
    ]
    return "\n".join(lines)


def _stage(name: str, bodies: dict[str, str], app: str) -> list[str]:
    kind, stage = KIND[name]
    return [
        f"from coinswarm.stages.messages import {kind}, decode, encode",
        f"message = decode({kind}, {bodies[kind]!r})",
        f"outputs = {app}.stages.{stage}.handle(message)",
        "sent = [encode(out) for _, out in outputs]",
    ]


TELEGRAM_ENV = {
    "COINSWARM_REMOTE__TELEGRAM_WEBHOOK_SECRET": "benchmark-webhook-secret",
    "COINSWARM_REMOTE__TELEGRAM_CHAT_IDS": "[1]",
    "COINSWARM_REMOTE__STATUS_TOKEN": SECRET,
}
TELEGRAM_UPDATE = {
    "update_id": 1,
    "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}, "text": "/status"},
}


def _telegram() -> list[str]:
    """The telegram webhook's first update: /status, answered from the stores in the webhook's response."""
    return [
        "import os",
        f"os.environ.update({TELEGRAM_ENV!r})",
        "from coinswarm.http.json_http import HttpRequest",
        f"body = {json.dumps(TELEGRAM_UPDATE).encode()!r}",
        "headers = {'X-Telegram-Bot-Api-Secret-Token': 'benchmark-webhook-secret'}",
    ]


def _aws(name: str, bodies: dict[str, str], request: dict[str, Any]) -> list[str]:
    if name == "telegram_webhook":
        event = {
            "rawPath": "/telegram",
            "headers": {"x-telegram-bot-api-secret-token": "benchmark-webhook-secret"},
            "body": json.dumps(TELEGRAM_UPDATE),
            "isBase64Encoded": False,
            "requestContext": {"http": {"method": "POST"}, "requestId": "bench"},
        }
        return [
            *_telegram(),
            f"reply = entry.handler({event!r}, None)",
            "assert reply['statusCode'] == 200 and 'sendMessage' in reply['body'], reply",
        ]
    if name == "push_receiver":
        return _push("entry.function.built(entry.push_receiver)", signed_push(bodies))
    if name == "manual_trade":
        event = {
            "rawPath": "/",
            "headers": {k.lower(): v for k, v in request["headers"].items()},
            "body": request["body"],
            "isBase64Encoded": False,
            "requestContext": {"http": {"method": "POST"}, "requestId": "bench"},
        }
        return [f"reply = entry.handler({event!r}, None)", "assert reply['statusCode'] < 500, reply"]
    lines = ["app = entry.function.app()"]
    if name == "tick_ingest":
        return [
            *lines,
            "from coinswarm.stages.messages import encode",
            "tick = entry.function.scheduled_tick({'time': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())})",
            "sent = [encode(out) for _, out in app.stages.ingest.handle(tick)]",
            "assert sent, 'no candles ingested'",
        ]
    if name == "order_placement":
        lines.append("entry.function.built(entry.OncePerIntent)")
    return [*lines, *_stage(name, bodies, "app")]


def _gcp(name: str, bodies: dict[str, str], request: dict[str, Any]) -> list[str]:
    if name == "telegram_webhook":
        return [
            *_telegram(),
            "reply = entry.router().handle(HttpRequest('POST', '/telegram', headers, body))",
            "assert reply.status == 200 and reply.body.get('method') == 'sendMessage', reply",
        ]
    lines = ["from functions import gcp_common", "rt = gcp_common.runtime()", "app = rt.app"]
    if name == "push_receiver":
        return [*lines, *_push("entry.receiver()", signed_push(bodies))]
    if name == "manual_trade":
        return [
            *lines,
            "from coinswarm.http.json_http import HttpRequest",
            f"request = HttpRequest('POST', '/', {request['headers']!r}, {request['body'].encode()!r})",
            "reply = gcp_common.manual_trade_handler().handle(request)",
            "assert reply.status < 500, reply",
        ]
    if name == "tick_ingest":
        return [
            *lines,
            "from coinswarm.stages.messages import encode",
            "tick = gcp_common.cycle_tick(rt.settings, app.clock.now())",
            "sent = [encode(out) for _, out in app.stages.ingest.handle(tick)]",
            "assert sent, 'no candles ingested'",
        ]
    return [*lines, *_stage(name, bodies, "app")]


def probe_env() -> dict[str, str]:
    """The environment of a probe: this one without COINSWARM_* settings, plus the offline configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COINSWARM_")}
    return {**env, **ENV}


def scratch_dir() -> tempfile.TemporaryDirectory[str]:
    """Where probes run: no coinswarm.toml there, and the in-memory store writes nothing."""
    return tempfile.TemporaryDirectory(prefix="coinswarm-cold-")


def run_probe(cloud: str, name: str, bodies: dict[str, str], request: dict[str, Any], cwd: str) -> tuple[float, float]:
    """Milliseconds (wall clock, CPU) of the import and first invocation of `functions.<name>.<cloud>`
    in a fresh interpreter, in the environment of its cloud's runtime (`import_timing.RUNTIME_ENV`)."""
    import subprocess
    import sys

    from .import_timing import RUNTIME_ENV

    code = probe_code(cloud, name, bodies, request)
    env = {**probe_env(), **RUNTIME_ENV[cloud]}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"the first-call probe of {name} on {cloud} failed:\n{done.stderr[-2000:]}")
    _, _, wall, cpu = (float(x) for x in done.stdout.split()[-4:])
    return wall, cpu
