"""Small, strict readers of venue JSON: a malformed answer is a VenueError naming the field, never a KeyError."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from coinswarm.errors import MalformedAnswerError


def field(obj: Any, key: str, venue: str, where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise MalformedAnswerError(venue, f"answered {where} without `{key}`: {str(obj)[:160]}")
    return obj[key]


def number(value: Any, venue: str, what: str, *, positive: bool = False) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise MalformedAnswerError(venue, f"sent {what} {str(value)[:40]!r}, which is not a number") from None
    if not math.isfinite(x) or (positive and x <= 0) or x < 0:
        raise MalformedAnswerError(venue, f"sent {what} {x!r}, out of range")
    return x


def optional_number(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def epoch_s(value: Any) -> int | None:
    """`2024-04-24T09:56:38.063595Z` (or with nanoseconds) -> 1713952598; None when it is not such a time."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}" if digits else head + rest
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(moment.timestamp()) if moment.tzinfo is not None else None


def signed_fee(value: Any, venue: str) -> float:
    """A fill's fee as the venue sent it, negative included: the live broker judges a negative fee (flags it,
    does not book it); only a value that is not a finite number is malformed."""
    x = optional_number(value)
    if x is None:
        raise MalformedAnswerError(venue, f"sent a commission {str(value)[:40]!r}, which is not a finite number")
    return x
