"""The manual trade endpoint's replay cache on DynamoDB (the moto server): two containers, each with its
own client of the same tables, accept a signed request once between them (issue 10, item 8)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from coinswarm.adapters.dynamodb_store import DynamoStore
from coinswarm.domain.models import Order, OrderIntent, RiskRejection
from coinswarm.http.json_http import HttpRequest
from coinswarm.http.manual_trade import ManualTradeHandler, PlacementResult
from coinswarm.http.replay_cache import MANUAL_TRADE_KEY_PREFIX, manual_trade_authenticator
from coinswarm.http.signing import SIGNATURE_HEADER, sign
from coinswarm.ports.clock import SimulatedClock
from servers.moto import aws_client

SECRET = "manual-trade-secret-FAKE-dynamo-9d8c7b"
NOW = 1_700_000_000


@dataclass(frozen=True)
class Refused:
    """Placement as risk refusing everything: what matters here is which requests get that far."""

    rejection: RiskRejection
    order: Order | None = None
    note: str = ""
    duplicate: bool = False


def endpoint(store: DynamoStore, clock: SimulatedClock, placed: list[str]) -> ManualTradeHandler:
    def place(intent: OrderIntent) -> PlacementResult:
        placed.append(intent.intent_id)
        return Refused(
            RiskRejection(intent_id=intent.intent_id, symbol=intent.symbol, side=intent.side, reason="test", ts=NOW)
        )

    auth = manual_trade_authenticator([SECRET], clock, store)
    return ManualTradeHandler(place, lambda: {}, clock, auth, price_of=lambda symbol: 100.0)


def test_two_containers_on_one_dynamodb_accept_a_signed_request_once(
    moto_server: str, dynamo_store: DynamoStore
) -> None:
    clock = SimulatedClock(NOW)
    other = DynamoStore(client=aws_client("dynamodb", moto_server), table_prefix=dynamo_store.table_prefix)
    placed: list[str] = []
    first, second = endpoint(dynamo_store, clock, placed), endpoint(other, clock, placed)
    body = json.dumps({"action": "trade", "symbol": "BTC-USD", "side": "buy", "notional": 50.0}).encode()
    request = HttpRequest(
        "POST", "/", {"Content-Type": "application/json", **sign(SECRET, "POST", "/", body, NOW)}, body
    )
    assert first.handle(request).status == 422  # accepted, then refused on its merits by risk
    for container in (second, first):
        again = container.handle(request)
        assert again.status == 401 and again.body["detail"].startswith("replayed request"), again.body
    assert len(placed) == 1
    signature = request.headers[SIGNATURE_HEADER].removeprefix("v1=")
    assert other.begin(f"{MANUAL_TRADE_KEY_PREFIX}{signature}", owner="probe", now=NOW, in_progress_ttl_s=1) is not None
