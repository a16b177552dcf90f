"""Binance spot REST client (`/api/v3`, `/sapi/v1`): klines, book ticker, orders, trades, key restrictions.

Endpoints (https://developers.binance.com/docs/binance-spot-api-docs/rest-api), weights as published:
- `GET /api/v3/klines?symbol&interval&startTime&endTime&limit` (2): rows `[openTime, open, high, low,
  close, volume, closeTime, ...]`, at most 1000 a page, oldest first.
- `GET /api/v3/ticker/bookTicker?symbol` (2): `{"symbol", "bidPrice", "bidQty", "askPrice", "askQty"}`.
- `POST /api/v3/order` (1; and 1 of the ORDERS limit) with `newClientOrderId` and `newOrderRespType=FULL`;
  `GET /api/v3/order` by `origClientOrderId` (4); `DELETE /api/v3/order` (1); `GET /api/v3/myTrades`
  by `orderId` (5); `GET /api/v3/time` (1); `GET /sapi/v1/account/apiRestrictions` (1).
- Errors are `{"code": -2010, "msg": "..."}`. A 5xx means the outcome is UNKNOWN ("It is important to
  NOT treat this as a failure operation"), so after a 5xx, a timeout or a dropped connection the client
  looks the order up by its client order id before sending it again. `newClientOrderId` is unique
  only among OPEN orders: resending a market order that has already filled would place a second one.
- Every answer reports `X-MBX-USED-WEIGHT-1M`; the weight bucket follows it (other processes on the
  same address count too). 429 and 418 carry `Retry-After`.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import httpx

from coinswarm.domain.models import Candle, Side
from coinswarm.errors import (
    CircuitOpenError,
    InsufficientFundsError,
    InvalidOrderError,
    MalformedAnswerError,
    OrderNotFoundError,
    RateLimitedError,
    TemporaryVenueError,
    VenueAuthError,
    VenueError,
)
from coinswarm.venues.auth import BinanceKey, TimeSync
from coinswarm.venues.breaker import CircuitBreaker
from coinswarm.venues.models import (
    BookTop,
    KeyPermissions,
    OrderRequest,
    VenueFill,
    VenueOrder,
    VenueOrderStatus,
    decimal_text,
)
from coinswarm.venues.parsing import field, number, optional_number, signed_fee
from coinswarm.venues.ratelimit import BINANCE_ORDERS, BINANCE_WEIGHT, TokenBucket
from coinswarm.venues.retry import DEFAULT_RETRY, NO_RETRY, RetryPolicy
from coinswarm.venues.transport import Prepared, Transport, detail

log = logging.getLogger("coinswarm.venues")
NEEDS_KEY = "configure the venue's api_key and api_secret"
VENUE = "binance"
KLINES_PER_PAGE = 1000
INTERVALS: dict[int, str] = {
    60: "1m",
    180: "3m",
    300: "5m",
    900: "15m",
    1800: "30m",
    3600: "1h",
    7200: "2h",
    14400: "4h",
    21600: "6h",
    28800: "8h",
    43200: "12h",
    86400: "1d",
    259200: "3d",
    604800: "1w",
}
_STATUS = {
    "NEW": VenueOrderStatus.OPEN,
    "PARTIALLY_FILLED": VenueOrderStatus.OPEN,
    "PENDING_CANCEL": VenueOrderStatus.OPEN,
    "PENDING_NEW": VenueOrderStatus.PENDING,
    "FILLED": VenueOrderStatus.FILLED,
    "CANCELED": VenueOrderStatus.CANCELLED,
    "REJECTED": VenueOrderStatus.REJECTED,
    "EXPIRED": VenueOrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": VenueOrderStatus.EXPIRED,
}
_AUTH_CODES = {-1021, -1022, -2014, -2015}


class BinanceClient:
    venue = VENUE

    def __init__(
        self,
        key: BinanceKey | None = None,
        *,
        base_url: str = "https://api.binance.com",
        client: httpx.Client | None = None,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 10.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        breaker: CircuitBreaker | None = None,
        weight_bucket: TokenBucket | None = None,
        order_bucket: TokenBucket | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
        recv_window_ms: int = 5000,
    ) -> None:
        if not 0 < recv_window_ms <= 60_000:
            raise ValueError(f"recvWindow must lie in (0, 60000] ms, got {recv_window_ms}")
        self.key = key
        self.breaker = breaker or CircuitBreaker(VENUE)
        self.weight_bucket = weight_bucket or TokenBucket.within(BINANCE_WEIGHT, sleep=sleep)
        self.order_bucket = order_bucket or TokenBucket.within(BINANCE_ORDERS, sleep=sleep)
        self.retry = retry
        self.sleep = sleep
        self.rng = rng
        self.clock = clock
        self.recv_window_ms = recv_window_ms
        self.time = TimeSync(clock)
        self.http = Transport(
            VENUE,
            base_url,
            classify=classify,
            breaker=self.breaker,
            client=client,
            connect_timeout_s=connect_timeout_s,
            read_timeout_s=read_timeout_s,
            retry=retry,
            sleep=sleep,
            rng=rng,
            observe=self._observe,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> BinanceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------- plumbing

    def _observe(self, response: httpx.Response) -> None:
        used = optional_number(response.headers.get("X-MBX-USED-WEIGHT-1M"))
        if used is not None:
            window_left = 60.0 - (self.time.now_ms() / 1000.0) % 60.0
            self.weight_bucket.observe_usage(used, BINANCE_WEIGHT, window_left_s=window_left)

    def _public(self, path: str, params: list[tuple[str, str]], weight: float) -> Any:
        query = urlencode(params)
        response = self.http.send("GET", lambda: Prepared(path=path, query=query), costs=[(self.weight_bucket, weight)])
        return self.http.json(response, f"GET {path}")

    def _signed(
        self,
        method: str,
        path: str,
        params: list[tuple[str, str]],
        weight: float,
        *,
        order: bool = False,
        retry: RetryPolicy | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        key = self.key
        if key is None:
            raise VenueAuthError(VENUE, f"{method} {path} needs an API key: {NEEDS_KEY}")
        if not self.time.synced:
            self.sync_time()

        def prepare() -> Prepared:
            query = key.signed_query(dict(params), timestamp_ms=self.time.now_ms(), recv_window_ms=self.recv_window_ms)
            return Prepared(path=path, query=query, headers={"X-MBX-APIKEY": key.api_key})

        costs = [(self.weight_bucket, weight)] + ([(self.order_bucket, 1.0)] if order else [])
        for resync in (True, False):
            try:
                response = self.http.send(method, prepare, costs=costs, retry=retry, idempotent=idempotent)
                return self.http.json(response, f"{method} {path}")
            except VenueAuthError as exc:
                if exc.code == -1021 and resync:  # our clock drifted from Binance's: measure again, once
                    log.warning("binance: timestamp outside recvWindow; syncing the clock with the server again")
                    self.sync_time()
                    continue
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def server_time_ms(self) -> int:
        body = self._public("/api/v3/time", [], 1)
        return int(number(field(body, "serverTime", VENUE, "GET /api/v3/time"), VENUE, "serverTime"))

    def sync_time(self) -> int:
        """Measure the offset to Binance's clock; signed requests use it for `timestamp`. Returns it (ms)."""
        return self.time.measure(self.server_time_ms)

    # ------------------------------------------------------------------------------------- market data

    def candle_pages(
        self, symbol: str, timeframe_s: int, start_ts: int, end_ts: int, *, label: str | None = None
    ) -> Iterator[list[Candle]]:
        """Closed candles with `start_ts <= ts` and `ts + timeframe_s <= end_ts`, oldest first, a page at a time."""
        interval = INTERVALS.get(timeframe_s)
        if interval is None:
            raise ValueError(f"Binance serves klines of {', '.join(INTERVALS.values())}; not {timeframe_s} s")
        tf = timeframe_s
        start = -(-start_ts // tf) * tf
        last = (end_ts - tf) // tf * tf
        while start <= last:
            params = [
                ("symbol", symbol),
                ("interval", interval),
                ("startTime", str(start * 1000)),
                ("endTime", str((last + tf) * 1000 - 1)),
                ("limit", str(KLINES_PER_PAGE)),
            ]
            rows = self._public("/api/v3/klines", params, 2)
            if not isinstance(rows, list):
                raise MalformedAnswerError(VENUE, "answered GET /api/v3/klines with something that is not a list")
            page = [self._candle(r, label or symbol, tf) for r in rows]
            page = [c for c in page if start <= c.ts <= last]
            yield page
            if not page or len(rows) < KLINES_PER_PAGE:
                break
            start = page[-1].ts + tf

    def candles(self, symbol: str, timeframe_s: int, start_ts: int, end_ts: int) -> list[Candle]:
        return [c for page in self.candle_pages(symbol, timeframe_s, start_ts, end_ts) for c in page]

    @staticmethod
    def _candle(row: Any, symbol: str, tf: int) -> Candle:
        try:
            return Candle(
                symbol=symbol,
                ts=int(row[0]) // 1000,
                open=float(row[1]),
                high=float(row[2]),
                low=float(row[3]),
                close=float(row[4]),
                volume=float(row[5]),
                timeframe_s=tf,
            )
        except (IndexError, TypeError, ValueError) as exc:
            raise MalformedAnswerError(
                VENUE, f"sent a malformed kline for {symbol}: {str(row)[:160]} ({exc})"
            ) from None

    def book_ticker(self, symbol: str) -> BookTop:
        body = self._public("/api/v3/ticker/bookTicker", [("symbol", symbol)], 2)
        where = "GET /api/v3/ticker/bookTicker"
        return BookTop(
            venue=VENUE,
            symbol=str(field(body, "symbol", VENUE, where)),
            bid=number(field(body, "bidPrice", VENUE, where), VENUE, "bidPrice", positive=True),
            bid_size=number(field(body, "bidQty", VENUE, where), VENUE, "bidQty"),
            ask=number(field(body, "askPrice", VENUE, where), VENUE, "askPrice", positive=True),
            ask_size=number(field(body, "askQty", VENUE, where), VENUE, "askQty"),
            ts=int(self.clock()),  # the answer carries no time: when it was read
        )

    # ------------------------------------------------------------------------------------- orders

    @staticmethod
    def order_params(req: OrderRequest) -> list[tuple[str, str]]:
        kind = "STOP_LOSS_LIMIT" if req.kind == "stop_limit" else req.kind.upper()
        params = [("symbol", req.symbol), ("side", req.side.value.upper()), ("type", kind)]
        if req.kind in ("limit", "stop_limit"):
            params.append(("timeInForce", "GTC"))
        if req.base_size is not None:
            params.append(("quantity", decimal_text(req.base_size, "quantity")))
        else:
            params.append(("quoteOrderQty", decimal_text(req.quote_size or 0, "quoteOrderQty")))
        if req.limit_price is not None:
            params.append(("price", decimal_text(req.limit_price, "price")))
        if req.stop_price is not None:
            params.append(("stopPrice", decimal_text(req.stop_price, "stopPrice")))
        params += [("newClientOrderId", req.client_order_id), ("newOrderRespType", "FULL")]
        return params

    def create_order(self, req: OrderRequest) -> VenueOrder:
        """Place `req` exactly once: the breaker must allow a new order; after an unknown outcome the
        order is looked up by its client order id and sent again only when Binance does not have it."""
        self.breaker.allow_order()
        params = self.order_params(req)
        attempts = self.retry.attempts
        for attempt in range(attempts):
            try:
                return parse_order(self._signed("POST", "/api/v3/order", params, 1, order=True, retry=NO_RETRY))
            except CircuitOpenError:
                raise
            except RateLimitedError as exc:
                if attempt == attempts - 1 or exc.retry_after > self.retry.max_retry_after_s:
                    raise
            except InvalidOrderError as exc:
                if "duplicate" in exc.reason.lower():  # an open order holds this id: that is ours
                    return self.get_order(req.symbol, client_order_id=req.client_order_id)
                raise
            except TemporaryVenueError as exc:
                if attempt == attempts - 1 and not exc.maybe_executed:
                    raise
                if exc.maybe_executed:
                    log.warning(
                        "binance: order %s: %s; looking it up before sending it again",
                        req.client_order_id,
                        exc.reason,
                        extra={"venue": VENUE, "client_order_id": req.client_order_id},
                    )
                    found = self.find_order(req.symbol, req.client_order_id)
                    if found is not None:
                        return found
                    if attempt == attempts - 1:
                        raise
            self.sleep(self.retry.delay(attempt, self.rng))
        raise AssertionError("unreachable")  # pragma: no cover

    def get_order(self, symbol: str, *, client_order_id: str | None = None, order_id: str | None = None) -> VenueOrder:
        params = [("symbol", symbol), *_id_params(client_order_id, order_id)]
        return parse_order(self._signed("GET", "/api/v3/order", params, 4))

    def find_order(self, symbol: str, client_order_id: str) -> VenueOrder | None:
        """The order placed under `client_order_id`, or None when Binance has none."""
        try:
            return self.get_order(symbol, client_order_id=client_order_id)
        except OrderNotFoundError:
            return None

    def my_trades(self, symbol: str, order_id: str) -> list[VenueFill]:
        rows = self._signed("GET", "/api/v3/myTrades", [("symbol", symbol), ("orderId", order_id)], 5)
        if not isinstance(rows, list):
            raise MalformedAnswerError(VENUE, "answered GET /api/v3/myTrades with something that is not a list")
        return [parse_trade(r) for r in rows]

    def cancel_order(
        self, symbol: str, *, client_order_id: str | None = None, order_id: str | None = None
    ) -> VenueOrder:
        params = [("symbol", symbol), *_id_params(client_order_id, order_id)]
        return parse_order(self._signed("DELETE", "/api/v3/order", params, 1, idempotent=True))

    def api_restrictions(self) -> KeyPermissions:
        body = self._signed("GET", "/sapi/v1/account/apiRestrictions", [], 1)
        if not isinstance(body, dict):
            raise MalformedAnswerError(VENUE, "answered GET /sapi/v1/account/apiRestrictions with a non-object")
        return KeyPermissions(
            venue=VENUE,
            can_view=bool(body.get("enableReading")),
            can_trade=bool(body.get("enableSpotAndMarginTrading")),
            can_withdraw=any(
                bool(body.get(k)) for k in ("enableWithdrawals", "enableInternalTransfer", "permitsUniversalTransfer")
            ),
            detail=dict(body),
        )


# ------------------------------------------------------------------------------------------- parsing


def _id_params(client_order_id: str | None, order_id: str | None) -> list[tuple[str, str]]:
    if (client_order_id is None) == (order_id is None):
        raise ValueError("give exactly one of client_order_id or order_id")
    return [("origClientOrderId", client_order_id)] if client_order_id is not None else [("orderId", str(order_id))]


def parse_order(o: Any) -> VenueOrder:
    where = "order"
    executed = number(o.get("executedQty", 0) if isinstance(o, dict) else 0, VENUE, "executedQty")
    quote_done = optional_number(o.get("cummulativeQuoteQty")) if isinstance(o, dict) else None
    fills = o.get("fills") if isinstance(o, dict) else None
    raw_status = str(field(o, "status", VENUE, where))
    kind = str(o.get("type", "")).lower()
    kind = "stop_limit" if kind == "stop_loss_limit" else kind
    price = optional_number(o.get("price"))
    orig_quote = optional_number(o.get("origQuoteOrderQty"))
    orig_qty = optional_number(o.get("origQty"))
    return VenueOrder(
        venue=VENUE,
        order_id=str(field(o, "orderId", VENUE, where)),
        client_order_id=str(o.get("clientOrderId", "")),
        symbol=str(o.get("symbol", "")),
        side=_side(o.get("side")),
        kind=kind,
        status=_STATUS.get(raw_status, VenueOrderStatus.UNKNOWN),
        base_size=orig_qty or None,
        quote_size=orig_quote or None,
        limit_price=price if kind in ("limit", "stop_limit") and price else None,
        filled_size=executed,
        average_price=(quote_done / executed) if executed > 0 and quote_done else None,
        fees=sum(optional_number(f.get("commission")) or 0.0 for f in fills) if isinstance(fills, list) else 0.0,
        created_ts=int(optional_number(o.get("transactTime") or o.get("time")) or 0) // 1000,
        venue_status=raw_status,
    )


def parse_trade(t: Any) -> VenueFill:
    where = "trade"
    return VenueFill(
        venue=VENUE,
        trade_id=str(field(t, "id", VENUE, where)),
        order_id=str(field(t, "orderId", VENUE, where)),
        symbol=str(t.get("symbol", "")),
        side=Side.BUY if _truthy(t.get("isBuyer")) else Side.SELL,
        price=number(field(t, "price", VENUE, where), VENUE, "a trade price", positive=True),
        size=number(field(t, "qty", VENUE, where), VENUE, "a trade quantity", positive=True),
        fee=signed_fee(t.get("commission", 0), VENUE),
        fee_asset=str(t.get("commissionAsset", "")),
        ts=int(number(t.get("time", 0), VENUE, "a trade time")) // 1000,
        maker=_truthy(t.get("isMaker")),
    )


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _side(value: Any) -> Side:
    text = str(value).lower()
    if text not in ("buy", "sell"):
        raise MalformedAnswerError(VENUE, f"sent side {str(value)[:20]!r}, neither BUY nor SELL")
    return Side(text)


def classify(response: httpx.Response, where: str) -> VenueError:
    """A 4xx answer as the error tree has it (429/418/5xx are handled before this)."""
    status = response.status_code
    words = detail(response)
    try:
        body = response.json()
    except ValueError:
        body = None
    code = body.get("code") if isinstance(body, dict) and isinstance(body.get("code"), int) else None
    text = f"answered HTTP {status} to {where}" + (f": {words}" if words else "") + (f" ({code})" if code else "")
    if code in _AUTH_CODES or status == 401:
        hint = {
            -1021: " (the request's timestamp is outside recvWindow: the clock is off)",
            -1022: " (the signature does not match: check the API secret)",
        }.get(code or 0, " (check the API key, its permissions and IP restrictions)")
        return VenueAuthError(VENUE, text + hint, status=status, code=code)
    if status == 403:
        return TemporaryVenueError(VENUE, text + " (the web application firewall refused it)", status=status, code=code)
    if code == -2013 or (code == -2011 and "unknown order" in words.lower()):
        return OrderNotFoundError(VENUE, text, status=status, code=code)
    if code == -2010 and "insufficient" in words.lower():
        return InsufficientFundsError(VENUE, text, status=status, code=code)
    if code is not None and (code in (-2010, -2011, -1013) or -1199 <= code <= -1100):
        return InvalidOrderError(VENUE, text, status=status, code=code)
    if status == 400:
        return InvalidOrderError(VENUE, text, status=status, code=code)
    return VenueError(VENUE, text, status=status, code=code)
