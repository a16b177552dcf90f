"""The owner's controls as actions of the manual trade endpoint (coinswarm.http.manual_trade), the same as
the CLI's (`coinswarm pause`, `resume`, `kill-switch`, `flatten`; docs/owner-controls.md):

    {"action": "pause", "reason": "holiday"}     no new entries; exits go on
    {"action": "resume"}                          entries allowed again
    {"action": "kill_switch", "on": true}         the bot sends no order at all (stops resting at the venue stay)
    {"action": "flatten", "symbol": "BTC-USD"}    exit now at market, reason flatten (also {"all": true})

Each answers 200 with what it did (a flatten whose exit risk refused answers 422 with the reason).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from coinswarm.config.settings import SYMBOL_RE
from coinswarm.domain.models import Fill
from coinswarm.http.json_http import HttpResponse, error, respond
from coinswarm.ports.clock import Clock
from coinswarm.ports.state import StateStore

if TYPE_CHECKING:
    from coinswarm.stages.controls import Placing

logger = logging.getLogger(__name__)

Reason = Annotated[str, Field(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$", description="why (shown by status)")]
_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)


class PauseRequest(BaseModel):
    """Pause new entries: the committee's BUYs are refused; exits go on."""

    model_config = ConfigDict(**_STRICT, title="PauseRequest")
    action: Literal["pause"]
    reason: Reason = ""


class ResumeRequest(BaseModel):
    """Allow new entries again."""

    model_config = ConfigDict(**_STRICT, title="ResumeRequest")
    action: Literal["resume"]


class KillSwitchRequest(BaseModel):
    """On: the bot sends no order at all (stops resting at the venue stay; flatten still exits). Off: orders flow."""

    model_config = ConfigDict(**_STRICT, title="KillSwitchRequest")
    action: Literal["kill_switch"]
    on: bool
    reason: Reason = ""


class FlattenRequest(BaseModel):
    """Exit now at market with reason `flatten`: one symbol, or every position with `all`. It goes out while
    paused and with the kill switch on."""

    model_config = ConfigDict(**_STRICT, title="FlattenRequest")
    action: Literal["flatten"]
    symbol: Annotated[str, Field(pattern=SYMBOL_RE.pattern, examples=["BTC-USD"])] | None = None
    all: bool = False

    @model_validator(mode="after")
    def _one_target(self) -> FlattenRequest:
        if (self.symbol is None) == (not self.all):
            raise ValueError('give either a symbol, or "all": true to exit every position')
        return self


OwnerRequest = PauseRequest | ResumeRequest | KillSwitchRequest | FlattenRequest
OWNER_ACTIONS = ("pause", "resume", "kill_switch", "flatten")
OWNER_ACTION_DONE: dict[str, Any] = {
    "type": "object",
    "required": ["action"],
    "properties": {
        "action": {"type": "string", "enum": list(OWNER_ACTIONS)},
        "entries_paused": {"type": "object", "description": "pause, resume: the flag as stored"},
        "on": {"type": "boolean", "description": "kill_switch: whether it is on now"},
        "note": {"type": "string"},
        "flattened": {"type": "array", "items": {"type": "object"}, "description": "flatten: per symbol"},
    },
}


@dataclass
class OwnerControls:
    """What the owner's actions act on, each built on first use (a cold start builds none of them): the
    hot state (the flags), order placement, the ledger (`record`), the newest prices."""

    state_of: Callable[[], StateStore]
    placement_of: Callable[[], Placing]
    record: Callable[[list[Fill]], None]
    price_of: Callable[[str], float | None]
    clock: Clock

    @property
    def state(self) -> StateStore:
        return self.state_of()

    def handle(self, command: OwnerRequest) -> HttpResponse:
        # The stages load with the first command, not with the endpoint (its cold start: a trade needs none).
        from coinswarm.stages.controls import pause_document, set_paused
        from coinswarm.stages.placement import set_kill_switch

        now = self.clock.now()
        if isinstance(command, PauseRequest | ResumeRequest):
            on = isinstance(command, PauseRequest)
            set_paused(self.state, on, reason=command.reason if isinstance(command, PauseRequest) else "", ts=now)
            logger.info("owner: entries %s", "paused" if on else "resumed")
            return respond(200, {"action": command.action, "entries_paused": pause_document(self.state)})
        if isinstance(command, KillSwitchRequest):
            set_kill_switch(self.state, command.on, reason=command.reason, ts=now)
            logger.warning("owner: kill switch %s", "ON" if command.on else "off")
            body: dict[str, Any] = {"action": "kill_switch", "on": command.on}
            if command.on:
                body["note"] = "the bot sends no order; stops resting at the venue stay; flatten still exits"
            return respond(200, body)
        return self._flatten(command, now)

    def _flatten(self, command: FlattenRequest, now: int) -> HttpResponse:
        from coinswarm.stages.controls import flatten

        done = flatten(
            self.placement_of(),
            None if command.all else [command.symbol or ""],
            now=now,
            price_of=self.price_of,
            record=self.record,
        )
        results = [f.to_dict() for f in done]
        logger.warning("owner: flatten %s: %d position(s)", "all" if command.all else command.symbol, len(done))
        refused = [f for f in done if f.rejection is not None]
        if refused:
            return error(
                422,
                "refused_by_risk",
                refused[0].rejection.reason if refused[0].rejection else "",
                extra={"flattened": results},
            )
        return respond(200, {"action": "flatten", "flattened": results})


def owner_controls(app: Any) -> OwnerControls:
    """The owner's controls over an App (coinswarm.wiring.bootstrap): its hot state, its placement stage,
    its ledger, the newest stored close of each symbol."""

    def price_of(symbol: str) -> float | None:
        candles = app.state.recent_candles(symbol, app.settings.timeframe_s, 1)
        return candles[-1].close if candles else None

    def record(fills: list[Fill]) -> None:
        for fill in fills:
            app.ledger.record_fill(fill)
        app.ledger.project()

    return OwnerControls(lambda: app.state, lambda: app.stages.placement, record, price_of, app.clock)
