"""Coinbase Advanced Trade REST client (`/api/v3/brokerage`): market data, orders, fills, key permissions.

Endpoints (https://docs.cdp.coinbase.com/api-reference/advanced-trade-api/rest-api/):
- `GET  /products/{id}/candles?start&end&granularity&limit` (`/market/products/...` without a key):
  `{"candles": [{"start", "low", "high", "open", "close", "volume"}]}`, newest first, at most 350 a page.
- `GET  /best_bid_ask?product_ids=..`: `{"pricebooks": [{"product_id", "bids": [{"price", "size"}], "asks", "time"}]}`
- `GET  /product_book?product_id&limit`: `{"pricebook": {...}}`; `GET /products/{id}/ticker?limit=1`.
- `POST /orders` `{client_order_id, product_id, side, order_configuration: {market_market_ioc:
  {quote_size|base_size}} | {limit_limit_gtc: {base_size, limit_price, post_only}}}` answers
  `{"success": true, "success_response": {"order_id", ...}}` or `{"success": false, "error_response":
  {"error", "message", ...}}`. "If the ID provided is not unique, the order will not be created and the
  order corresponding with that ID will be returned instead": so after an unknown outcome (a timeout,
  a dropped connection, a 5xx) the client asks again with the same client order id, and gets back the
  order already placed rather than a second one.
- `POST /orders/preview`, `GET /orders/historical/{order_id}` (`{"order": {...}}`),
  `GET /orders/historical/fills?order_ids=..` (`{"fills": [...], "cursor"}`),
  `POST /orders/batch_cancel {"order_ids": [..]}` (`{"results": [{"success", "failure_reason", "order_id"}]}`),
  `GET /key_permissions` (`{"can_view", "can_trade", "can_transfer", ...}`),
  `GET /orders/historical/batch?product_ids&start_date&cursor` (`{"orders": [...], "has_next", "cursor"}`):
  how an order is found by its client order id after an unknown outcome, before anything is sent again.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import httpx
from pydantic import ValidationError

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
from coinswarm.venues.breaker import CircuitBreaker
from coinswarm.venues.coinbase_candles import granularity, pages, parse_candle
from coinswarm.venues.models import (
    BookTop,
    CancelResult,
    KeyPermissions,
    OrderBook,
    OrderPreview,
    OrderRequest,
    Ticker,
    VenueFill,
    VenueOrder,
    VenueOrderStatus,
    decimal_text,
)
from coinswarm.venues.parsing import epoch_s, field, number, optional_number, signed_fee
from coinswarm.venues.ratelimit import COINBASE_PRIVATE, COINBASE_PUBLIC, TokenBucket
from coinswarm.venues.retry import DEFAULT_RETRY, NO_RETRY, RetryPolicy
from coinswarm.venues.transport import Prepared, Transport, detail

if TYPE_CHECKING:  # the key (and the cryptography it signs with) loads only where one is made
    from coinswarm.venues.auth import CoinbaseKey

log = logging.getLogger("coinswarm.venues")
NEEDS_KEY = "configure the venue's api_key and api_secret"
VENUE = "coinbase"
API = "/api/v3/brokerage"
LOOKUP_WINDOW_S = 86_400  # how far back an order placed moments ago is searched for
FIND_PAGES = 20
_STATUS = {
    "PENDING": VenueOrderStatus.PENDING,
    "QUEUED": VenueOrderStatus.PENDING,
    "OPEN": VenueOrderStatus.OPEN,
    "CANCEL_QUEUED": VenueOrderStatus.OPEN,
    "FILLED": VenueOrderStatus.FILLED,
    "CANCELLED": VenueOrderStatus.CANCELLED,
    "EXPIRED": VenueOrderStatus.EXPIRED,
    "FAILED": VenueOrderStatus.REJECTED,
}


class CoinbaseClient:
    venue = VENUE

    def __init__(
        self,
        key: CoinbaseKey | None = None,
        *,
        base_url: str = "https://api.coinbase.com",
        client: httpx.Client | None = None,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 10.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        breaker: CircuitBreaker | None = None,
        private_bucket: TokenBucket | None = None,
        public_bucket: TokenBucket | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.key = key
        self.breaker = breaker or CircuitBreaker(VENUE)
        self.private_bucket = private_bucket or TokenBucket.within(COINBASE_PRIVATE, sleep=sleep)
        self.public_bucket = public_bucket or TokenBucket.within(COINBASE_PUBLIC, sleep=sleep)
        self.retry = retry
        self.sleep = sleep
        self.rng = rng
        self.clock = clock
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
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> CoinbaseClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------- plumbing

    def _call(
        self,
        method: str,
        path: str,
        params: list[tuple[str, str]] | None = None,
        body: Any = None,
        *,
        private: bool = True,
        retry: RetryPolicy | None = None,
        idempotent: bool | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> Any:
        full = API + path
        query = urlencode(params or [])
        if private and self.key is None:
            raise VenueAuthError(VENUE, f"{method} {full} needs an API key: {NEEDS_KEY}")
        key = self.key if private else None

        def prepare() -> Prepared:
            headers = {}
            if key is not None:
                headers["Authorization"] = f"Bearer {key.jwt(method, self.http.host, full)}"
            return Prepared(path=full, query=query, headers=headers, json_body=body)

        bucket = self.private_bucket if private else self.public_bucket
        response = self.http.send(
            method, prepare, costs=[(bucket, 1.0)], retry=retry, idempotent=idempotent, timeout=timeout
        )
        return self.http.json(response, f"{method} {full}")

    # ------------------------------------------------------------------------------------- market data

    def candle_pages(
        self, product_id: str, timeframe_s: int, start_ts: int, end_ts: int, *, symbol: str | None = None
    ) -> Iterator[list[Candle]]:
        """Closed candles with `start_ts <= ts` and `ts + timeframe_s <= end_ts`, oldest first, one page
        (at most 300 buckets) at a time. Keyed requests use the private path, else the public one."""
        granularity(timeframe_s)  # a size Coinbase does not serve is refused before any request
        tf = timeframe_s
        private = self.key is not None
        path = ("" if private else "/market") + f"/products/{quote(product_id, safe='')}/candles"
        where = f"GET {API}{path}"
        for start, count, params in pages(-(-start_ts // tf) * tf, (end_ts - tf) // tf * tf, tf):
            body = self._call("GET", path, list(params.items()), private=private)
            rows = body.get("candles") if isinstance(body, dict) else None
            if not isinstance(rows, list):
                raise MalformedAnswerError(VENUE, f"answered {where} without a list of candles")
            page = {c.ts: c for c in (self._candle(r, symbol or product_id, tf, where) for r in rows)}
            yield [page[ts] for ts in sorted(page) if start <= ts and ts + tf <= end_ts and ts < start + count * tf]

    def candles(self, product_id: str, timeframe_s: int, start_ts: int, end_ts: int) -> list[Candle]:
        return [c for page in self.candle_pages(product_id, timeframe_s, start_ts, end_ts) for c in page]

    @staticmethod
    def _candle(row: Any, symbol: str, tf: int, where: str = "the candles") -> Candle:
        try:
            return parse_candle(row, symbol, tf)
        except (KeyError, TypeError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
            reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else f"{type(exc).__name__}: {exc}"
            raise MalformedAnswerError(
                VENUE, f"sent a malformed candle for {symbol} ({where}): {str(row)[:200]} ({reason})"
            ) from None

    def best_bid_ask(self, product_ids: list[str]) -> list[BookTop]:
        body = self._call("GET", "/best_bid_ask", [("product_ids", p) for p in product_ids])
        books = _as_list(field(body, "pricebooks", VENUE, "GET best_bid_ask"), "pricebooks")
        return [self._top(b) for b in books]

    def _top(self, book: Any) -> BookTop:
        bids, asks = _levels(field(book, "bids", VENUE, "pricebook")), _levels(field(book, "asks", VENUE, "pricebook"))
        if not bids or not asks:
            raise MalformedAnswerError(VENUE, f"sent an empty book side for {book.get('product_id')}")
        return BookTop(
            venue=VENUE,
            symbol=str(book.get("product_id", "")),
            bid=bids[0][0],
            bid_size=bids[0][1],
            ask=asks[0][0],
            ask_size=asks[0][1],
            ts=epoch_s(book.get("time")) or int(self.clock()),
        )

    def product_book(self, product_id: str, limit: int = 50) -> OrderBook:
        body = self._call("GET", "/product_book", [("product_id", product_id), ("limit", str(limit))])
        book = field(body, "pricebook", VENUE, "GET product_book")
        return OrderBook(
            venue=VENUE,
            symbol=str(book.get("product_id", product_id)),
            bids=_levels(field(book, "bids", VENUE, "pricebook")),
            asks=_levels(field(book, "asks", VENUE, "pricebook")),
            ts=epoch_s(book.get("time")) or int(self.clock()),
        )

    def ticker_answer(self, product_id: str, *, timeout: httpx.Timeout | None = None) -> dict[str, Any]:
        """The ticker as Coinbase answers it, `{"trades": [{"price", "size", "time", ...}], "best_bid",
        "best_ask"}` (the last trade, at most): keyed requests use the private path, else the public one.
        `timeout`: this request's own (a probe that must answer quickly)."""
        private = self.key is not None
        path = ("" if private else "/market") + f"/products/{quote(product_id, safe='')}/ticker"
        body = self._call("GET", path, [("limit", "1")], private=private, timeout=timeout)
        if not isinstance(body, dict):
            raise MalformedAnswerError(VENUE, f"answered GET {API}{path} with JSON that is not an object")
        return body

    def ticker(self, product_id: str) -> Ticker:
        body = self.ticker_answer(product_id)
        trades = body.get("trades")
        if not isinstance(trades, list) or not trades:
            raise MalformedAnswerError(VENUE, f"answered the ticker of {product_id} without a trade")
        last = trades[0]
        return Ticker(
            venue=VENUE,
            symbol=product_id,
            price=number(field(last, "price", VENUE, "ticker"), VENUE, "a trade price", positive=True),
            bid=optional_number(body.get("best_bid")),
            ask=optional_number(body.get("best_ask")),
            ts=epoch_s(last.get("time")) or int(self.clock()),
        )

    # ------------------------------------------------------------------------------------- orders

    @staticmethod
    def order_body(req: OrderRequest, *, preview: bool = False) -> dict[str, Any]:
        if req.kind == "market":
            size = (
                {"base_size": decimal_text(req.base_size, "base_size")}
                if req.base_size is not None
                else {"quote_size": decimal_text(req.quote_size or 0, "quote_size")}
            )
            config: dict[str, Any] = {"market_market_ioc": size}
        elif req.kind == "stop_limit":  # a sell stop: triggers when the last trade falls to stop_price
            config = {
                "stop_limit_stop_limit_gtc": {
                    "base_size": decimal_text(req.base_size or 0, "base_size"),
                    "limit_price": decimal_text(req.limit_price or 0, "limit_price"),
                    "stop_price": decimal_text(req.stop_price or 0, "stop_price"),
                    "stop_direction": "STOP_DIRECTION_STOP_DOWN" if req.side is Side.SELL else "STOP_DIRECTION_STOP_UP",
                }
            }
        else:
            config = {
                "limit_limit_gtc": {
                    "base_size": decimal_text(req.base_size or 0, "base_size"),
                    "limit_price": decimal_text(req.limit_price or 0, "limit_price"),
                    "post_only": req.post_only,
                }
            }
        body: dict[str, Any] = {"product_id": req.symbol, "side": req.side.value.upper(), "order_configuration": config}
        if not preview:
            body = {"client_order_id": req.client_order_id, **body}
        return body

    def create_order(self, req: OrderRequest) -> VenueOrder:
        """Place `req` once, whatever happens on the way: the breaker must allow a new order; an unknown
        outcome is resolved by asking again under the same client order id (Coinbase then returns the
        order it holds instead of placing another). Returns the acknowledgement (status PENDING)."""
        self.breaker.allow_order()
        body = self.order_body(req)
        attempts = self.retry.attempts
        for attempt in range(attempts):
            try:
                answer = self._call("POST", "/orders", body=body, retry=NO_RETRY, idempotent=False)
                return self._created(answer, req)
            except CircuitOpenError:
                raise
            except RateLimitedError as exc:
                if attempt == attempts - 1 or exc.retry_after > self.retry.max_retry_after_s:
                    raise
                # the bucket, held by the transport, makes the next attempt wait out Retry-After
                self.sleep(self.retry.delay(attempt, self.rng))
            except TemporaryVenueError as exc:
                if exc.maybe_executed:
                    log.warning(
                        "coinbase: order %s: %s; looking it up by its client order id before anything else",
                        req.client_order_id,
                        exc.reason,
                        extra={"venue": VENUE, "client_order_id": req.client_order_id},
                    )
                    found = self._look_up(req)
                    if found is not None:
                        return found
                if attempt == attempts - 1:
                    raise
                self.sleep(self.retry.delay(attempt, self.rng))
        raise AssertionError("unreachable")  # pragma: no cover

    def _look_up(self, req: OrderRequest) -> VenueOrder | None:
        """The order under `req`'s client order id after an unknown outcome, or None when Coinbase has
        none (or cannot say right now: the next POST under the same id is then Coinbase's own dedup)."""
        try:
            return self.find_order(req.symbol, req.client_order_id, since_ts=int(self.clock()) - LOOKUP_WINDOW_S)
        except TemporaryVenueError:
            return None

    def find_order(self, product_id: str, client_order_id: str, *, since_ts: int) -> VenueOrder | None:
        """The order placed under `client_order_id` for `product_id` since `since_ts`, or None.

        Coinbase looks orders up by its own order id only; the list of a product's orders since a time
        (`GET /orders/historical/batch?product_ids&start_date`, newest first, paged by cursor) is
        searched for the client order id."""
        cursor = ""
        start = datetime.fromtimestamp(max(0, since_ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for _ in range(FIND_PAGES):
            params = [("product_ids", product_id), ("start_date", start), ("limit", "100")]
            params += [("cursor", cursor)] if cursor else []
            answer = self._call("GET", "/orders/historical/batch", params)
            rows = _as_list(field(answer, "orders", VENUE, "GET orders/historical/batch"), "orders")
            for row in rows:
                if isinstance(row, dict) and row.get("client_order_id") == client_order_id:
                    return parse_order(row)
            cursor = str(answer.get("cursor") or "")
            if not answer.get("has_next") or not cursor:
                return None
        return None

    def _created(self, answer: Any, req: OrderRequest) -> VenueOrder:
        if not isinstance(answer, dict):
            raise MalformedAnswerError(VENUE, "answered POST /orders with JSON that is not an object")
        if answer.get("success") is True:
            ok = answer.get("success_response") or {}
            order_id = str(ok.get("order_id") or answer.get("order_id") or "")
            if not order_id:
                raise MalformedAnswerError(VENUE, "accepted an order without giving its order_id")
            return VenueOrder(
                venue=VENUE,
                order_id=order_id,
                client_order_id=str(ok.get("client_order_id") or req.client_order_id),
                symbol=req.symbol,
                side=req.side,
                kind=req.kind,
                status=VenueOrderStatus.PENDING,
                base_size=optional_number(req.base_size),
                quote_size=optional_number(req.quote_size),
                limit_price=optional_number(req.limit_price),
            )
        err = answer.get("error_response") or {}
        reason = str(
            err.get("error")
            or err.get("preview_failure_reason")
            or err.get("new_order_failure_reason")
            or answer.get("failure_reason")
            or "UNKNOWN_FAILURE_REASON"
        )
        message = str(err.get("message") or err.get("error_details") or "")[:200]
        text = f"refused order {req.client_order_id}: {reason}" + (f" ({message})" if message else "")
        if "INSUFFICIENT_FUND" in reason:
            raise InsufficientFundsError(VENUE, text, code=reason)
        raise InvalidOrderError(VENUE, text, code=reason)

    def preview_order(self, req: OrderRequest) -> OrderPreview:
        answer = self._call("POST", "/orders/preview", body=self.order_body(req, preview=True), idempotent=True)
        if not isinstance(answer, dict):
            raise MalformedAnswerError(VENUE, "answered POST /orders/preview with JSON that is not an object")
        return OrderPreview(
            venue=VENUE,
            errors=tuple(str(e) for e in answer.get("errs") or ()),
            warnings=tuple(str(w) for w in answer.get("warning") or ()),
            order_total=optional_number(answer.get("order_total")),
            commission_total=optional_number(answer.get("commission_total")),
            best_bid=optional_number(answer.get("best_bid")),
            best_ask=optional_number(answer.get("best_ask")),
        )

    def get_order(self, order_id: str) -> VenueOrder:
        answer = self._call("GET", f"/orders/historical/{quote(order_id, safe='')}")
        return parse_order(field(answer, "order", VENUE, "GET orders/historical"))

    def fills(self, order_id: str, *, limit: int = 100) -> list[VenueFill]:
        out: list[VenueFill] = []
        cursor = ""
        for _ in range(100):  # pages; an order has few fills
            params = [("order_ids", order_id), ("limit", str(limit))] + ([("cursor", cursor)] if cursor else [])
            answer = self._call("GET", "/orders/historical/fills", params)
            rows = _as_list(field(answer, "fills", VENUE, "GET orders/historical/fills"), "fills")
            out.extend(parse_fill(r) for r in rows)
            cursor = str(answer.get("cursor") or "")
            if not cursor or len(rows) < limit:
                break
        return out

    def cancel(self, order_ids: list[str]) -> list[CancelResult]:
        answer = self._call("POST", "/orders/batch_cancel", body={"order_ids": order_ids}, idempotent=True)
        results = _as_list(field(answer, "results", VENUE, "POST orders/batch_cancel"), "results")
        return [
            CancelResult(
                order_id=str(r.get("order_id", "")),
                ok=bool(r.get("success")),
                reason="" if r.get("success") else str(r.get("failure_reason", "")),
            )
            for r in results
        ]

    def key_permissions(self) -> KeyPermissions:
        answer = self._call("GET", "/key_permissions")
        if not isinstance(answer, dict):
            raise MalformedAnswerError(VENUE, "answered GET /key_permissions with JSON that is not an object")
        return KeyPermissions(
            venue=VENUE,
            can_view=bool(answer.get("can_view")),
            can_trade=bool(answer.get("can_trade")),
            can_withdraw=bool(answer.get("can_transfer")),
            detail={k: answer[k] for k in ("portfolio_uuid", "portfolio_type") if k in answer},
        )


# ------------------------------------------------------------------------------------------- parsing


def parse_order(o: Any) -> VenueOrder:
    config = field(o, "order_configuration", VENUE, "order")
    kind, spec = next(iter(config.items())) if isinstance(config, dict) and config else ("", {})
    raw_status = str(o.get("status", ""))
    return VenueOrder(
        venue=VENUE,
        order_id=str(field(o, "order_id", VENUE, "order")),
        client_order_id=str(o.get("client_order_id", "")),
        symbol=str(o.get("product_id", "")),
        side=_side(o.get("side")),
        kind="market"
        if kind.startswith("market")
        else "stop_limit"
        if kind.startswith("stop_limit")
        else "limit"
        if "limit" in kind
        else kind,
        status=_STATUS.get(raw_status, VenueOrderStatus.UNKNOWN),
        base_size=optional_number(spec.get("base_size")) if isinstance(spec, dict) else None,
        quote_size=optional_number(spec.get("quote_size")) if isinstance(spec, dict) else None,
        limit_price=optional_number(spec.get("limit_price")) if isinstance(spec, dict) else None,
        filled_size=optional_number(o.get("filled_size")) or 0.0,
        average_price=optional_number(o.get("average_filled_price")) or None,
        fees=optional_number(o.get("total_fees")) or 0.0,
        created_ts=epoch_s(o.get("created_time")) or 0,
        venue_status=raw_status,
        note=str(o.get("reject_message") or o.get("cancel_message") or ""),
    )


def parse_fill(f: Any) -> VenueFill:
    symbol = str(f.get("product_id", "")) if isinstance(f, dict) else ""
    return VenueFill(
        venue=VENUE,
        trade_id=str(field(f, "trade_id", VENUE, "fill")),
        order_id=str(field(f, "order_id", VENUE, "fill")),
        symbol=symbol,
        side=_side(f.get("side")),
        price=number(field(f, "price", VENUE, "fill"), VENUE, "a fill price", positive=True),
        size=number(field(f, "size", VENUE, "fill"), VENUE, "a fill size", positive=True),
        fee=signed_fee(f.get("commission", 0) or 0, VENUE),
        fee_asset=symbol.partition("-")[2],
        ts=epoch_s(f.get("trade_time")) or 0,
        maker=str(f.get("liquidity_indicator", "")).upper() == "MAKER",
    )


def _side(value: Any) -> Side:
    text = str(value).lower()
    if text not in ("buy", "sell"):
        raise MalformedAnswerError(VENUE, f"sent side {str(value)[:20]!r}, neither BUY nor SELL")
    return Side(text)


def _as_list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise MalformedAnswerError(VENUE, f"sent `{what}` that is not a list")
    return value


def _levels(rows: Any) -> tuple[tuple[float, float], ...]:
    return tuple(
        (number(r.get("price"), VENUE, "a book price", positive=True), number(r.get("size"), VENUE, "a book size"))
        for r in _as_list(rows, "book levels")
    )


def classify(response: httpx.Response, where: str) -> VenueError:
    """A 4xx answer as the error tree has it (429/418/5xx are handled before this)."""
    status = response.status_code
    words = detail(response)
    try:
        body = response.json()
    except ValueError:
        body = None
    code = str(body.get("error", "")) if isinstance(body, dict) else ""
    text = f"answered HTTP {status} to {where}" + (f": {words}" if words else "")
    if status == 401 or code in ("UNAUTHENTICATED", "PERMISSION_DENIED") or status == 403:
        hint = " (check the key name, its private key, the machine's clock, and that the key may trade)"
        return VenueAuthError(VENUE, text + hint, status=status, code=code or None)
    if status == 404 or code == "NOT_FOUND":
        return OrderNotFoundError(VENUE, text, status=status, code=code or None)
    if "INSUFFICIENT_FUND" in code or "insufficient" in words.lower():
        return InsufficientFundsError(VENUE, text, status=status, code=code or None)
    if status in (400, 409, 422):
        return InvalidOrderError(VENUE, text, status=status, code=code or None)
    return VenueError(VENUE, text, status=status, code=code or None)
