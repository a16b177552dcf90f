"""The Coinbase Advanced Trade subset the client uses, answering in the recorded shapes
(`../shared/data/exchange/coinbase_advanced_ccxt_static_*.json`), with CDP JWT (ES256) checks."""

from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, datetime
from email.message import Message
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from coinswarm.venues.fake.engine import FakeOrder, OrderRefusedError
from coinswarm.venues.fake.faults import tamper_fills

if TYPE_CHECKING:
    from coinswarm.venues.fake.server import FakeExchange, Reply

API = "/api/v3/brokerage"
GRANULARITY = {
    "ONE_MINUTE": 60,
    "FIVE_MINUTE": 300,
    "FIFTEEN_MINUTE": 900,
    "THIRTY_MINUTE": 1800,
    "ONE_HOUR": 3600,
    "TWO_HOUR": 7200,
    "SIX_HOUR": 21600,
    "ONE_DAY": 86400,
}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CoinbaseApi:
    name = "coinbase"

    def __init__(self, fake: FakeExchange) -> None:
        self.fake = fake
        self.keys: dict[str, tuple[ec.EllipticCurvePublicKey, bool]] = {}
        self.nonces: set[str] = set()
        self.lock = threading.Lock()

    def reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
        from coinswarm.venues.fake.server import Reply

        return Reply(status, body, headers or {})

    def throttled(self, status: int, retry_after: float) -> Reply:
        return self.reply(
            status,
            {"error": "RATE_LIMIT_EXCEEDED", "message": "Too many requests"},
            {"Retry-After": f"{retry_after:g}"},
        )

    def decorate(self, reply: Reply) -> None:
        pass

    # -- auth -----------------------------------------------------------------------------------
    def gate(self, method: str, path: str, query: str, body: bytes, headers: Message) -> Reply | None:
        if path.startswith(API + "/market/"):
            return None
        problem = self._check_jwt(method, path, headers)
        if problem:
            return self.reply(401, b"Unauthorized")  # what Coinbase answers; the reason stays with the fake
        return None

    def _check_jwt(self, method: str, path: str, headers: Message) -> str:
        auth = headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return "no bearer token"
        try:
            head_b64, claims_b64, sig_b64 = auth[7:].split(".")
            header = json.loads(_unb64(head_b64))
            claims = json.loads(_unb64(claims_b64))
            sig = _unb64(sig_b64)
        except (ValueError, json.JSONDecodeError):
            return "malformed token"
        if header.get("alg") != "ES256" or len(sig) != 64:
            return "not ES256"
        known = self.keys.get(str(header.get("kid")))
        if known is None:
            return "unknown key"
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        try:
            known[0].verify(der, f"{head_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return "bad signature"
        now = self.fake.clock()
        if claims.get("sub") != header.get("kid") or claims.get("iss") != "cdp":
            return "wrong subject or issuer"
        if not (claims.get("nbf", 0) <= now + 1 and now < claims.get("exp", 0)):
            return "expired or not yet valid"
        if claims.get("uri") != f"{method} {headers.get('Host', '')}{path}":
            return "uri claim does not match the request"
        with self.lock:
            nonce = str(header.get("nonce", ""))
            if not nonce or nonce in self.nonces:
                return "nonce missing or replayed"
            self.nonces.add(nonce)
        return ""

    # -- routes ---------------------------------------------------------------------------------
    def route(self, method: str, path: str, query: str, body: bytes, headers: Message) -> Reply:
        q = {k: v for k, v in parse_qs(query).items()}
        p = path[len(API) :]
        if p.startswith("/market/"):
            p = p[len("/market") :]
        parts = [unquote(x) for x in p.strip("/").split("/")]
        if method == "GET" and len(parts) == 3 and parts[0] == "products" and parts[2] == "candles":
            return self.candles(parts[1], q, method, path)
        if method == "GET" and len(parts) == 3 and parts[0] == "products" and parts[2] == "ticker":
            return self.ticker(parts[1], method, path)
        if method == "GET" and p == "/best_bid_ask":
            return self.reply(
                200, {"pricebooks": [self._book(pid, 1, method, path) for pid in q.get("product_ids", [])]}
            )
        if method == "GET" and p == "/product_book":
            pid = q.get("product_id", [""])[0]
            limit = int(q.get("limit", ["50"])[0])
            book = self._book(pid, limit, method, path)
            bid, ask = float(book["bids"][0]["price"]), float(book["asks"][0]["price"])
            return self.reply(
                200, {"pricebook": book, "last": str((bid + ask) / 2), "mid_market": str((bid + ask) / 2)}
            )
        if method == "POST" and p == "/orders":
            return self.create(json.loads(body or b"{}"))
        if method == "POST" and p == "/orders/preview":
            return self.preview(json.loads(body or b"{}"))
        if method == "GET" and p == "/orders/historical/fills":
            return self.fills(q, method, path)
        if method == "GET" and p == "/orders/historical/batch":
            return self.list_orders(q)
        if method == "GET" and len(parts) == 3 and parts[:2] == ["orders", "historical"]:
            order = self.fake.engine.orders.get(parts[2])
            if order is None or order.venue != "coinbase":
                return self.reply(404, {"error": "NOT_FOUND", "message": "order not found"})
            return self.reply(200, {"order": self.order_json(order)})
        if method == "POST" and p == "/orders/batch_cancel":
            return self.cancel(json.loads(body or b"{}"))
        if method == "GET" and p == "/key_permissions":
            return self.permissions(headers)
        return self.reply(404, {"error": "NOT_FOUND", "message": f"fake coinbase has no {method} {path}"})

    def _stale_s(self, method: str, path: str) -> float:
        fault = self.fake.faults.take(method, path, ("stale",))
        return fault.stale_s if fault is not None else 0.0

    def candles(self, product_id: str, q: dict[str, list[str]], method: str, path: str) -> Reply:
        tf = GRANULARITY.get(q.get("granularity", [""])[0])
        if tf is None:
            return self.reply(400, {"error": "INVALID_ARGUMENT", "message": "unknown granularity"})
        start, end = int(q["start"][0]), int(q["end"][0])
        limit = int(q.get("limit", ["350"])[0])
        if limit > 350 or (end - start) // tf > 350:
            return self.reply(400, {"error": "INVALID_ARGUMENT", "message": "number of candles requested exceeds 350"})
        now = self.fake.clock() - self._stale_s(method, path)
        rows: list[dict[str, str]] = []
        ts = -(-start // tf) * tf
        while ts <= min(end, now) and len(rows) < limit:
            c = self.fake.engine.candle(product_id, ts, tf)
            if c is not None:
                o, h, lo, cl, v = c
                rows.append(
                    {
                        "start": str(ts),
                        "low": str(lo),
                        "high": str(h),
                        "open": str(o),
                        "close": str(cl),
                        "volume": str(v),
                    }
                )
            ts += tf
        return self.reply(200, {"candles": rows[::-1]})  # newest first, like Coinbase

    def ticker(self, product_id: str, method: str, path: str) -> Reply:
        stale = self._stale_s(method, path)
        bid, ask = self.fake.engine.top(product_id)
        trade = {
            "trade_id": "635541194",
            "product_id": product_id,
            "price": str(self.fake.engine.price(product_id)),
            "size": "0.03720194",
            "time": _iso(self.fake.clock() - stale),
            "side": "BUY",
            "bid": "",
            "ask": "",
        }
        return self.reply(200, {"trades": [trade], "best_bid": str(bid), "best_ask": str(ask)})

    def _book(self, product_id: str, depth: int, method: str, path: str) -> dict[str, Any]:
        stale = self._stale_s(method, path)
        bid, ask = self.fake.engine.top(product_id)
        step = bid * 0.0001
        return {
            "product_id": product_id,
            "bids": [{"price": f"{bid - i * step:.2f}", "size": "0.5"} for i in range(max(1, depth))],
            "asks": [{"price": f"{ask + i * step:.2f}", "size": "0.5"} for i in range(max(1, depth))],
            "time": _iso(self.fake.clock() - stale),
        }

    # -- orders ---------------------------------------------------------------------------------
    def _parse_config(self, body: dict[str, Any]) -> tuple[str, float | None, float | None, float | None] | str:
        config = body.get("order_configuration") or {}
        if "market_market_ioc" in config:
            spec = config["market_market_ioc"]
            base, quote = spec.get("base_size"), spec.get("quote_size")
            if (base is None) == (quote is None):
                return "INVALID_SIZE"
            return "market", float(base) if base else None, float(quote) if quote else None, None
        if "limit_limit_gtc" in config:
            spec = config["limit_limit_gtc"]
            try:
                return "limit", float(spec["base_size"]), None, float(spec["limit_price"])
            except (KeyError, TypeError, ValueError):
                return "INVALID_LIMIT_PRICE"
        if "stop_limit_stop_limit_gtc" in config:
            spec = config["stop_limit_stop_limit_gtc"]
            try:
                float(spec["stop_price"])
                if spec.get("stop_direction") not in ("STOP_DIRECTION_STOP_DOWN", "STOP_DIRECTION_STOP_UP"):
                    return "INVALID_STOP_DIRECTION"
                return "stop_limit", float(spec["base_size"]), None, float(spec["limit_price"])
            except (KeyError, TypeError, ValueError):
                return "INVALID_STOP_PRICE"
        return "UNSUPPORTED_ORDER_CONFIGURATION"

    def create(self, body: dict[str, Any]) -> Reply:
        cid = str(body.get("client_order_id", ""))
        engine = self.fake.engine
        with engine.lock:
            for known in engine.placed:  # "If the ID provided is not unique, the order will not be
                if known.venue == "coinbase" and known.client_order_id == cid:  # created and the order with
                    return self._ok(known, body)  # that ID will be returned instead"
            parsed = self._parse_config(body)
            if isinstance(parsed, str) or not cid or body.get("side") not in ("BUY", "SELL"):
                reason = parsed if isinstance(parsed, str) else "INVALID_ARGUMENT"
                return self._failed(reason, "the order is malformed", body)
            kind, base, quote, limit = parsed
            partial = self.fake.faults.take("POST", API + "/orders", ("partial",))
            order = FakeOrder(
                "coinbase",
                engine.next_id("coinbase"),
                cid,
                str(body.get("product_id")),
                body["side"],
                kind,
                base,
                quote,
                limit,
                self.fake.clock(),
            )
            if kind == "stop_limit":
                order.stop_price = float(body["order_configuration"]["stop_limit_stop_limit_gtc"]["stop_price"])
            try:
                engine.place(order, partial.fraction if partial else 1.0)
            except OrderRefusedError as exc:
                reason = "INSUFFICIENT_FUND" if exc.reason == "insufficient" else "INVALID_PRODUCT_ID"
                return self._failed(reason, exc.message, body)
            return self._ok(order, body)

    def _ok(self, order: FakeOrder, body: dict[str, Any]) -> Reply:
        return self.reply(
            200,
            {
                "success": True,
                "success_response": {
                    "order_id": order.order_id,
                    "product_id": order.symbol,
                    "side": order.side,
                    "client_order_id": order.client_order_id,
                },
                "order_configuration": body.get("order_configuration", {}),
            },
        )

    def _failed(self, reason: str, message: str, body: dict[str, Any]) -> Reply:
        return self.reply(
            200,
            {
                "success": False,
                "failure_reason": "UNKNOWN_FAILURE_REASON",
                "order_id": "",
                "error_response": {
                    "error": reason,
                    "message": message,
                    "error_details": "",
                    "preview_failure_reason": f"PREVIEW_{reason}",
                },
                "order_configuration": body.get("order_configuration", {}),
            },
        )

    def preview(self, body: dict[str, Any]) -> Reply:
        parsed = self._parse_config(body)
        bid, ask = self.fake.engine.top(str(body.get("product_id")))
        errs: list[str] = []
        total = 0.0
        if isinstance(parsed, str):
            errs.append(f"PREVIEW_{parsed}")
        else:
            _kind, base, quote, limit = parsed
            price = limit or (ask if body.get("side") == "BUY" else bid)
            total = quote if quote is not None else (base or 0) * price
            if body.get("side") == "BUY" and total > self.fake.engine.balances.get("USD", 0.0):
                errs.append("PREVIEW_INSUFFICIENT_FUND")
        fee = total * self.fake.engine.fee_rate
        return self.reply(
            200,
            {
                "order_total": str(total + fee),
                "commission_total": str(fee),
                "errs": errs,
                "warning": [],
                "best_bid": str(bid),
                "best_ask": str(ask),
                "is_max": False,
                "preview_id": "fake-preview",
            },
        )

    def order_json(self, o: FakeOrder) -> dict[str, Any]:
        if o.kind == "market":
            spec = {"base_size": str(o.base_size)} if o.base_size is not None else {"quote_size": str(o.quote_size)}
            config: dict[str, Any] = {"market_market_ioc": spec}
        elif o.kind == "stop_limit":
            config = {
                "stop_limit_stop_limit_gtc": {
                    "base_size": str(o.base_size),
                    "limit_price": str(o.limit_price),
                    "stop_price": str(o.stop_price),
                    "stop_direction": "STOP_DIRECTION_STOP_DOWN" if o.side == "SELL" else "STOP_DIRECTION_STOP_UP",
                }
            }
        else:
            config = {
                "limit_limit_gtc": {
                    "base_size": str(o.base_size),
                    "limit_price": str(o.limit_price),
                    "post_only": False,
                }
            }
        total = o.base_size if o.base_size is not None else (o.quote_size or 0) / (o.average or 1)
        return {
            "order_id": o.order_id,
            "product_id": o.symbol,
            "user_id": "dbcb91e7-2bc9-5152-bb6f-72d6677e6727",
            "order_configuration": config,
            "side": o.side,
            "client_order_id": o.client_order_id,
            "status": o.status,
            "time_in_force": "IMMEDIATE_OR_CANCEL" if o.kind == "market" else "GOOD_UNTIL_CANCELLED",
            "created_time": _iso(o.created),
            "completion_percentage": f"{100 * o.filled / total if total else 0:.2f}",
            "filled_size": str(o.filled),
            "average_filled_price": str(o.average),
            "number_of_fills": str(len(o.fills)),
            "filled_value": str(o.filled_value),
            "pending_cancel": False,
            "size_in_quote": o.quote_size is not None,
            "total_fees": str(o.fees),
            "order_type": "STOP_LIMIT" if o.kind == "stop_limit" else o.kind.upper(),
            "reject_reason": "REJECT_REASON_UNSPECIFIED",
            "settled": o.status != "OPEN",
            "product_type": "SPOT",
            "reject_message": "",
            "cancel_message": "",
        }

    def list_orders(self, q: dict[str, list[str]]) -> Reply:
        """`GET /orders/historical/batch`: newest first, filtered by product and start date, two per page
        (small pages, so the client's paging is exercised)."""
        products = set(q.get("product_ids", []))
        start = q.get("start_date", [""])[0]
        since = datetime.fromisoformat(start.replace("Z", "+00:00")).timestamp() if start else 0.0
        mine = [
            o
            for o in reversed(self.fake.engine.placed)
            if o.venue == "coinbase" and (not products or o.symbol in products) and o.created >= since
        ]
        offset = int(q.get("cursor", ["0"])[0] or 0)
        page = mine[offset : offset + 2]
        more = offset + 2 < len(mine)
        return self.reply(
            200,
            {
                "orders": [self.order_json(o) for o in page],
                "sequence": "0",
                "has_next": more,
                "cursor": str(offset + 2) if more else "",
            },
        )

    def fills(
        self, q: dict[str, list[str]], method: str = "GET", path: str = API + "/orders/historical/fills"
    ) -> Reply:
        wanted = set(q.get("order_ids", []))
        rows = []
        for o in self.fake.engine.placed:
            if o.venue != "coinbase" or (wanted and o.order_id not in wanted):
                continue
            for f in o.fills:
                rows.append(
                    {
                        "entry_id": f"e-{f.trade_id}",
                        "trade_id": f.trade_id,
                        "order_id": o.order_id,
                        "trade_time": _iso(f.ts),
                        "trade_type": "FILL",
                        "price": str(f.price),
                        "size": str(f.size),
                        "commission": str(f.fee),
                        "product_id": o.symbol,
                        "sequence_timestamp": _iso(f.ts),
                        "liquidity_indicator": "MAKER" if f.maker else "TAKER",
                        "size_in_quote": False,
                        "user_id": "dbcb91e7-2bc9-5152-bb6f-72d6677e6727",
                        "side": o.side,
                    }
                )
        tamper_fills(self.fake.faults, method, path, rows, {"size": "size", "fee": "commission", "price": "price"})
        return self.reply(200, {"fills": rows, "cursor": ""})

    def cancel(self, body: dict[str, Any]) -> Reply:
        results = []
        for oid in body.get("order_ids", []):
            done = self.fake.engine.cancel(str(oid))
            reason = "UNKNOWN_CANCEL_FAILURE_REASON" if done else "UNKNOWN_CANCEL_ORDER"
            results.append({"success": done is not None, "failure_reason": reason, "order_id": oid})
        return self.reply(200, {"results": results})

    def permissions(self, headers: Message) -> Reply:
        kid = json.loads(_unb64(headers.get("Authorization", "")[7:].split(".")[0])).get("kid")
        can_transfer = self.keys[kid][1]
        return self.reply(
            200,
            {
                "can_view": True,
                "can_trade": True,
                "can_transfer": can_transfer,
                "portfolio_uuid": "8f3f9b8b-0000-4000-8000-000000000000",
                "portfolio_type": "DEFAULT",
            },
        )
