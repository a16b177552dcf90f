"""Fused wiring: one call runs every stage for a symbol, in this process, with no serialization."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from coinswarm.stages.messages import TICK, CycleTick, Message
from coinswarm.wiring.bootstrap import Route

Tap = Callable[[str, Message], None]


def run_fused(routes: Mapping[str, Route], tick: CycleTick, tap: Tap | None = None) -> None:
    """Run the cycle for each symbol in turn, every stage of one symbol before the next symbol."""
    for symbol in tick.symbols:
        one = tick if len(tick.symbols) == 1 else replace(tick, symbols=(symbol,))
        dispatch(routes, TICK, one, tap)


def dispatch(routes: Mapping[str, Route], topic: str, message: Message, tap: Tap | None) -> None:
    """Hand `message` to its stage, and what that stage hands on to theirs, depth first."""
    if tap is not None:
        tap(topic, message)
    route = routes.get(topic)
    if route is None:
        return
    for next_topic, next_message in route(message):
        dispatch(routes, next_topic, next_message, tap)
