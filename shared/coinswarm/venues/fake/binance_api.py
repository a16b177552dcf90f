"""The Binance spot subset the client uses, answering in the recorded shapes
(`../shared/data/exchange/binance_spot_ccxt_static_excerpt.json`), with HMAC signature and recvWindow
checks, request weight counted per minute (`X-MBX-USED-WEIGHT-1M`), 429 past the limit and a 418 ban
for a client that keeps sending while told to wait."""

from __future__ import annotations

import hashlib
import hmac
import threading
from email.message import Message
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from coinswarm.venues.fake.engine import FakeOrder, OrderRefusedError
from coinswarm.venues.fake.faults import tamper_fills

if TYPE_CHECKING:
    from coinswarm.venues.fake.server import FakeExchange, Reply

INTERVALS = {"1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "2h": 7200, "4h": 14400,
             "6h": 21600, "8h": 28800, "12h": 43200, "1d": 86400, "3d": 259200, "1w": 604800}  # fmt: skip
WEIGHTS = {
    ("GET", "/api/v3/time"): 1,
    ("GET", "/api/v3/klines"): 2,
    ("GET", "/api/v3/ticker/bookTicker"): 2,
    ("POST", "/api/v3/order"): 1,
    ("GET", "/api/v3/order"): 4,
    ("DELETE", "/api/v3/order"): 1,
    ("GET", "/api/v3/myTrades"): 5,
    ("GET", "/sapi/v1/account/apiRestrictions"): 1,
}
SIGNED = {"/api/v3/order", "/api/v3/myTrades", "/sapi/v1/account/apiRestrictions"}
BAN_S = 120.0


class BinanceApi:
    name = "binance"

    def __init__(self, fake: FakeExchange, *, weight_limit: int, clock_offset_ms: int) -> None:
        self.fake = fake
        self.weight_limit = weight_limit
        self.clock_offset_ms = clock_offset_ms
        self.keys: dict[str, tuple[str, bool]] = {}
        self.universal_transfer: dict[str, bool] = {}
        self.lock = threading.Lock()
        self.minute = -1
        self.used = 0
        self.penalty_until = 0.0
        self.bans = 0  # how many 418s were answered

    def server_ms(self) -> int:
        return int(self.fake.clock() * 1000) + self.clock_offset_ms

    def reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
        from coinswarm.venues.fake.server import Reply

        return Reply(status, body, headers or {})

    def error(self, status: int, code: int, msg: str) -> Reply:
        return self.reply(status, {"code": code, "msg": msg})

    def throttled(self, status: int, retry_after: float) -> Reply:
        with self.lock:
            if status == 418:
                self.bans += 1
            self.penalty_until = max(self.penalty_until, self.fake.clock() + retry_after)
        msg = "Way too many requests; IP banned." if status == 418 else "Too many requests; please use the websocket."
        reply = self.error(status, -1003, msg)
        reply.headers["Retry-After"] = f"{retry_after:g}"
        self.decorate(reply)
        return reply

    def decorate(self, reply: Reply) -> None:
        reply.headers["X-MBX-USED-WEIGHT-1M"] = str(self.used)

    # -- limits and auth ------------------------------------------------------------------------
    def gate(self, method: str, path: str, query: str, body: bytes, headers: Message) -> Reply | None:
        now = self.fake.clock()
        with self.lock:
            minute = int(self.server_ms() // 60_000)
            if minute != self.minute:
                self.minute, self.used = minute, 0
            if now < self.penalty_until:  # sent while told to wait: banned
                banned = True
            else:
                banned = False
                self.used += WEIGHTS.get((method, path), 1)
                over = self.used > self.weight_limit
        if banned:
            return self.throttled(418, BAN_S)
        if over:
            return self.throttled(429, 60 - (self.server_ms() / 1000) % 60)
        if path in SIGNED:
            return self._check_signature(query, body, headers)
        return None

    def _check_signature(self, query: str, body: bytes, headers: Message) -> Reply | None:
        known = self.keys.get(headers.get("X-MBX-APIKEY", ""))
        if known is None:
            return self.error(401, -2015, "Invalid API-key, IP, or permissions for action.")
        raw = query + body.decode()
        head, sep, signature = raw.rpartition("&signature=")
        if not sep or not signature:
            return self.error(400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
        expected = hmac.new(known[0].encode(), head.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            return self.error(400, -1022, "Signature for this request is not valid.")
        params = dict(parse_qsl(head))
        try:
            ts, window = int(params["timestamp"]), int(params.get("recvWindow", "5000"))
        except (KeyError, ValueError):
            return self.error(400, -1102, "Mandatory parameter 'timestamp' was not sent.")
        server = self.server_ms()
        if not (ts < server + 1000 and server - ts <= window):
            return self.error(400, -1021, "Timestamp for this request is outside of the recvWindow.")
        return None

    # -- routes ---------------------------------------------------------------------------------
    def route(self, method: str, path: str, query: str, body: bytes, headers: Message) -> Reply:
        params = dict(parse_qsl(query + ("&" + body.decode() if body else "")))
        if method == "GET" and path == "/api/v3/time":
            return self.reply(200, {"serverTime": self.server_ms()})
        if method == "GET" and path == "/api/v3/klines":
            return self.klines(params, method, path)
        if method == "GET" and path == "/api/v3/ticker/bookTicker":
            bid, ask = self.fake.engine.top(params["symbol"])
            return self.reply(
                200,
                {"symbol": params["symbol"], "bidPrice": f"{bid:.8f}", "bidQty": "6.27086000",
                 "askPrice": f"{ask:.8f}", "askQty": "0.03321000"},
            )  # fmt: skip
        if path == "/api/v3/order":
            if method == "POST":
                return self.new_order(params)
            order = self._find(params)
            if order is None:
                if method == "DELETE":
                    return self.error(400, -2011, "Unknown order sent.")
                return self.error(400, -2013, "Order does not exist.")
            if method == "DELETE" and self.fake.engine.cancel(order.order_id) is None:
                return self.error(400, -2011, "Unknown order sent.")
            return self.reply(200, self.order_json(order))
        if method == "GET" and path == "/api/v3/myTrades":
            return self.trades(params)
        if method == "GET" and path == "/sapi/v1/account/apiRestrictions":
            withdrawals = self.keys[headers.get("X-MBX-APIKEY", "")][1]
            universal = self.universal_transfer.get(headers.get("X-MBX-APIKEY", ""), False)
            return self.reply(
                200,
                {"ipRestrict": False, "createTime": 1698645219000, "enableReading": True,
                 "enableWithdrawals": withdrawals, "enableInternalTransfer": False, "enableMargin": False,
                 "enableFutures": False, "permitsUniversalTransfer": universal, "enableVanillaOptions": False,
                 "enableSpotAndMarginTrading": True, "enablePortfolioMarginTrading": False},
            )  # fmt: skip
        return self.error(404, -1000, f"fake binance has no {method} {path}")

    def klines(self, params: dict[str, str], method: str, path: str) -> Reply:
        tf = INTERVALS.get(params.get("interval", ""))
        if tf is None:
            return self.error(400, -1120, "Invalid interval.")
        limit = int(params.get("limit", "500"))
        if limit > 1000:
            return self.error(400, -1130, "Invalid data sent for a parameter.")
        stale = self.fake.faults.take(method, path, ("stale",))
        now = self.fake.clock() - (stale.stale_s if stale else 0.0)
        start = int(params.get("startTime", "0")) // 1000
        end = min(int(params.get("endTime", str(int(now * 1000)))) // 1000, int(now))
        rows: list[list[Any]] = []
        ts = -(-start // tf) * tf
        while ts <= end and len(rows) < limit:
            c = self.fake.engine.candle(params["symbol"], ts, tf)
            if c is not None:
                o, h, lo, cl, v = c
                quote_volume = v * cl
                rows.append([ts * 1000, f"{o:.8f}", f"{h:.8f}", f"{lo:.8f}", f"{cl:.8f}", f"{v:.8f}",
                             (ts + tf) * 1000 - 1, f"{quote_volume:.8f}", 100, f"{v / 2:.8f}",
                             f"{quote_volume / 2:.8f}", "0"])  # fmt: skip
            ts += tf
        return self.reply(200, rows)

    def _find(self, params: dict[str, str]) -> FakeOrder | None:
        cid, oid = params.get("origClientOrderId"), params.get("orderId")
        for order in reversed(self.fake.engine.placed):  # the latest under a client id reused after a fill
            if order.venue == "binance" and (order.client_order_id == cid or order.order_id == oid):
                return order
        return None

    def new_order(self, params: dict[str, str]) -> Reply:
        engine = self.fake.engine
        cid = params.get("newClientOrderId", "")
        kinds = {"market": "market", "limit": "limit", "stop_loss_limit": "stop_limit"}
        kind = kinds.get(params.get("type", "").lower())
        if kind is None or params.get("side") not in ("BUY", "SELL"):
            return self.error(400, -1116, "Invalid orderType.")
        try:
            qty = float(params["quantity"]) if "quantity" in params else None
            quote = float(params["quoteOrderQty"]) if "quoteOrderQty" in params else None
            price = float(params["price"]) if "price" in params else None
            stop = float(params["stopPrice"]) if "stopPrice" in params else None
        except ValueError:
            return self.error(400, -1100, "Illegal characters found in a parameter.")
        if (qty is None) == (quote is None) or (kind != "market" and (price is None or qty is None)):
            return self.error(400, -1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.")
        if kind == "stop_limit" and (stop is None or params.get("timeInForce") != "GTC"):
            return self.error(400, -1102, "Mandatory parameter 'stopPrice' was not sent, was empty/null, or malformed.")
        if kind == "stop_limit" and stop is not None:
            bid, ask = engine.top(params["symbol"])
            if (stop >= bid) if params["side"] == "SELL" else (stop <= ask):
                return self.error(400, -2010, "Stop price would trigger immediately.")
        with engine.lock:
            for known in engine.placed:  # newClientOrderId is unique among OPEN orders only
                if known.venue == "binance" and known.client_order_id == cid and known.status == "OPEN":
                    return self.error(400, -2010, "Duplicate order sent.")
            partial = self.fake.faults.take("POST", "/api/v3/order", ("partial",))
            order = FakeOrder(
                "binance", engine.next_id("binance"), cid or f"web_{engine.next_id('coinbase')[:8]}",
                params["symbol"], params["side"], kind, qty, quote, price, self.fake.clock(),
            )  # fmt: skip
            order.stop_price = stop
            try:
                engine.place(order, partial.fraction if partial else 1.0)
            except OrderRefusedError as exc:
                if exc.reason == "insufficient":
                    return self.error(400, -2010, "Account has insufficient balance for requested action.")
                return self.error(400, -1121, "Invalid symbol.")
        body = self.order_json(order)
        body["transactTime"] = int(order.created * 1000)
        body["fills"] = [
            {"price": f"{f.price:.8f}", "qty": f"{f.size:.8f}", "commission": f"{f.fee:.8f}",
             "commissionAsset": order.symbol[-4:] if order.symbol.endswith("USDT") else "BNB", "tradeId": f.trade_id}
            for f in order.fills
        ]  # fmt: skip
        return self.reply(200, body, {"X-MBX-ORDER-COUNT-10S": "1", "X-MBX-ORDER-COUNT-1D": "1"})

    @staticmethod
    def _status(o: FakeOrder) -> str:
        if o.status == "OPEN":
            return "PARTIALLY_FILLED" if o.fills else "NEW"
        if o.status == "CANCELLED":
            return "EXPIRED" if o.kind == "market" else "CANCELED"
        return o.status

    def order_json(self, o: FakeOrder) -> dict[str, Any]:
        return {
            "symbol": o.symbol,
            "orderId": int(o.order_id),
            "orderListId": -1,
            "clientOrderId": o.client_order_id,
            "price": f"{o.limit_price or 0:.8f}",
            "origQty": f"{o.base_size or 0:.8f}",
            "executedQty": f"{o.filled:.8f}",
            "cummulativeQuoteQty": f"{o.filled_value:.8f}",
            "status": self._status(o),
            "timeInForce": "GTC",
            "type": "STOP_LOSS_LIMIT" if o.kind == "stop_limit" else o.kind.upper(),
            "side": o.side,
            "stopPrice": f"{o.stop_price or 0:.8f}",
            "icebergQty": "0.00000000",
            "time": int(o.created * 1000),
            "updateTime": int(o.created * 1000),
            "isWorking": o.status == "OPEN",
            "workingTime": int(o.created * 1000),
            "origQuoteOrderQty": f"{o.quote_size or 0:.8f}",
            "selfTradePreventionMode": "NONE",
        }

    def trades(self, params: dict[str, str]) -> Reply:
        rows = []
        for o in self.fake.engine.placed:
            if o.venue != "binance" or o.symbol != params.get("symbol") or o.order_id != params.get("orderId"):
                continue
            for f in o.fills:
                rows.append(
                    {"symbol": o.symbol, "id": int(f.trade_id[1:]), "orderId": int(o.order_id), "orderListId": -1,
                     "price": f"{f.price:.8f}", "qty": f"{f.size:.8f}", "quoteQty": f"{f.price * f.size:.8f}",
                     "commission": f"{f.fee:.8f}", "commissionAsset": "USDT", "time": int(f.ts * 1000),
                     "isBuyer": o.side == "BUY", "isMaker": f.maker, "isBestMatch": True}
                )  # fmt: skip
        keys = {"size": "qty", "fee": "commission", "price": "price"}
        tamper_fills(self.fake.faults, "GET", "/api/v3/myTrades", rows, keys)
        return self.reply(200, rows)
