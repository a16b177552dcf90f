"""The protections as order placement applies them: the ledger's exits, read as they are appended (a
cursor per process; a cold start reads the ledger once), plus the fills settled in this very call that
trade logging has not appended yet. The pauses in force are stored with their reasons and ends
(`protections:<account>`), for `coinswarm status`; they are computed from the ledger, never from that
document, so a lost or stale copy changes nothing."""

from __future__ import annotations

from collections.abc import Iterable

from coinswarm.domain.models import AccountOpened, Fill, FillRecorded
from coinswarm.domain.protections import ExitTape, Pause, ProtectionRules, blocking, pauses_at
from coinswarm.ports.history import HistoryStore
from coinswarm.ports.state import StateStore


def pauses_key(account: str) -> str:
    return f"protections:{account}"


class ProtectionWatch:
    def __init__(self, rules: ProtectionRules, history: HistoryStore, state: StateStore, *, stream: str, account: str):
        self.rules = rules
        self.history = history
        self.state = state
        self.stream = stream
        self.key = pauses_key(account)
        self.tape = ExitTape()
        self._seq = 0
        self._unlogged: set[str] = set()  # fills taken in before the ledger had them
        self._stored: list[dict[str, object]] | None = None

    @property
    def enabled(self) -> bool:
        return self.rules.enabled

    def take_in(self, fills: Iterable[Fill]) -> None:
        """Fills settled now, before trade logging appends them (they are not counted twice)."""
        if not self.enabled:
            return
        self._catch_up()
        for fill in fills:
            if fill.fill_id not in self._unlogged:
                self._unlogged.add(fill.fill_id)
                self.tape.add(fill)

    def pause_for(self, symbol: str, now: int) -> Pause | None:
        """The pause that stops a new entry on `symbol` at `now`, if any (and the pauses in force, stored)."""
        return blocking(self.refresh(now), symbol, now) if self.enabled else None

    def refresh(self, now: int) -> list[Pause]:
        """The pauses in force at `now`, stored when they changed."""
        if not self.enabled:
            return []
        self._catch_up()
        self.tape.forget_before(now - self.rules.horizon_s)
        pauses = pauses_at(self.rules, self.tape.exits, now)
        document = [p.to_dict() for p in pauses]
        if document != self._stored:
            found = self.state.get(self.key)
            if found is None or found.value.get("pauses") != document:
                self.state.put(self.key, {"pauses": document, "ts": now})
            self._stored = document
        return pauses

    def _catch_up(self) -> None:
        for event in self.history.read(self.stream, after_seq=self._seq):
            payload = event.payload
            if isinstance(payload, AccountOpened):
                self.tape.deposit(payload.cash)
            elif isinstance(payload, FillRecorded):
                if payload.fill.fill_id in self._unlogged:
                    self._unlogged.discard(payload.fill.fill_id)
                else:
                    self.tape.add(payload.fill)
            self._seq = event.seq


def stored_pauses(state: StateStore, account: str) -> list[Pause]:
    """The pauses placement found in force when it last looked (for status)."""
    found = state.get(pauses_key(account))
    if found is None:
        return []
    return [
        Pause(str(p["protection"]), str(p["scope"]), int(p["since_ts"]), int(p["until_ts"]), str(p["reason"]))
        for p in found.value.get("pauses", [])
    ]
