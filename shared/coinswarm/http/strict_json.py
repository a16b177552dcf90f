"""Strict JSON for request bodies: UTF-8 only, no NaN or Infinity, no key twice in one object.

`parse_json(body)` returns the parsed value or raises `BadJsonError` whose message names what is wrong
(and where) without quoting the input.
"""

from __future__ import annotations

import json
from typing import Any

from coinswarm.errors import CoinswarmError


class BadJsonError(CoinswarmError, ValueError):
    """The body is not JSON we accept; the message says why without quoting the input."""

    http_status = 400


def _refuse_constant(name: str) -> Any:
    raise BadJsonError(f"{name} is not a number JSON allows")


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise BadJsonError("a key appears twice in one object")
    return obj


def parse_json(body: bytes) -> Any:
    """The body as JSON; BadJsonError with a short, input-free reason when it is not."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadJsonError("the body is not UTF-8 text") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_refuse_duplicates)
    except BadJsonError:
        raise
    except json.JSONDecodeError as exc:
        raise BadJsonError(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise BadJsonError("the JSON is nested too deeply") from None
    except ValueError:  # e.g. an integer longer than Python will convert
        raise BadJsonError("a value in the JSON cannot be read") from None
