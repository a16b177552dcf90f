"""The ledger service: appends events with the next sequence number, keeps the projection (positions,
cash, P&L folded from the events) up to date, and verifies the two agree.

Appends are idempotent on `event_id` (a fill's id): a fill delivered twice is recorded once. A crash
between an append and the projection update is harmless: the projection records the last sequence it
folded and catches up on the next call. A projection stored in an older format (see
`domain.portfolio.FORMAT`) is folded again from the first event and rewritten by the next `project`.
"""

from __future__ import annotations

from dataclasses import dataclass

from coinswarm.domain.models import AccountOpened, Fill, FillRecorded, LedgerEvent, trusted
from coinswarm.domain.portfolio import Portfolio, differences, fold
from coinswarm.errors import ConflictError, SequenceConflictError
from coinswarm.ports.history import HistoryStore
from coinswarm.ports.state import Versioned

RETRIES = 50


@dataclass(frozen=True, slots=True)
class VerifyReport:
    stream: str
    events: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


class Ledger:
    def __init__(self, history: HistoryStore, stream: str) -> None:
        self.history = history
        self.stream = stream

    def open_account(self, cash: float, ts: int) -> bool:
        """Record the starting cash once, as event 1. False when the account was opened already."""
        if self.history.last_seq(self.stream) > 0:
            return False
        event = LedgerEvent(
            stream=self.stream, seq=1, event_id=f"{self.stream}/opened", payload=AccountOpened(cash=cash, ts=ts)
        )
        try:
            self.history.append(self.stream, [event])
        except ConflictError:
            return False
        self.project()
        return True

    def record_fill(self, fill: Fill) -> bool:
        """Append the fill with the next sequence number. False when it was recorded already."""
        # A Fill is validated when made (a frozen record): its payload is built as validation would build
        # it, without validating it again; anything else is validated (and refused, naming the field).
        if type(fill) is Fill:
            payload = trusted(FillRecorded, {"kind": "fill", "fill": fill}, {"fill"})
        else:
            payload = FillRecorded(fill=fill)
        stream, fill_id = self.stream, payload.fill.fill_id
        for _ in range(RETRIES):
            seq = self.history.last_seq(stream) + 1
            # every field is valid by construction (a stream name, a sequence number from 1, the validated
            # fill's id and payload): built as validation would build it, without validating it again
            event = trusted(
                LedgerEvent,
                {"stream": stream, "seq": seq, "event_id": fill_id, "payload": payload},
                {"stream", "seq", "event_id", "payload"},
            )
            try:
                self.history.append(stream, [event])
                return True
            except SequenceConflictError:
                continue  # someone appended first: take the next number
            except ConflictError:
                return False  # this event id is in the ledger already
        raise ConflictError(f"ledger {self.stream}: {RETRIES} concurrent appends in a row; try again")

    def project(self) -> Portfolio:
        """Bring the stored projection up to the newest event and return it."""
        for _ in range(RETRIES):
            stored = self.history.get_projection(self.stream)
            portfolio = _start(stored)
            events = self.history.read(self.stream, after_seq=portfolio.seq)
            if not events and (stored is None or Portfolio.current(stored.value)):
                return portfolio
            fold(events, portfolio)
            try:
                self.history.put_projection(
                    self.stream, portfolio.to_dict(), expected_version=stored.version if stored else 0
                )
                return portfolio
            except ConflictError:
                continue
        raise ConflictError(f"projection of {self.stream}: {RETRIES} concurrent updates in a row; try again")

    def portfolio(self) -> Portfolio:
        """The projection as stored, caught up with any events it has not folded yet (read only)."""
        portfolio = _start(self.history.get_projection(self.stream))
        return fold(self.history.read(self.stream, after_seq=portfolio.seq), portfolio)

    def events(self) -> list[LedgerEvent]:
        return self.history.read(self.stream)

    def verify(self) -> VerifyReport:
        """Rebuild state from every event and compare it with the stored projection."""
        events = self.history.read(self.stream)
        problems: list[str] = []
        for expected, event in enumerate(events, start=1):
            if event.seq != expected:
                problems.append(f"event #{expected} carries sequence number {event.seq}")
                break
        try:
            rebuilt = fold(events)
        except ValueError as exc:
            return VerifyReport(self.stream, len(events), (*problems, f"events do not fold: {exc}"))
        stored = self.history.get_projection(self.stream)
        if stored is None:
            if events:
                problems.append("there are events but no stored projection")
        elif not Portfolio.current(stored.value):
            problems.append(
                "the stored projection is in an older format (entry fees of open positions counted as realized "
                "P&L); the next cycle rewrites it from the events, then verify again"
            )
        else:
            problems.extend(differences(rebuilt.to_dict(), stored.value))
        return VerifyReport(self.stream, len(events), tuple(problems))


def _start(stored: Versioned | None) -> Portfolio:
    """Where folding resumes: the stored projection, or the beginning when there is none or it is in an
    older format."""
    return Portfolio.from_dict(stored.value) if stored and Portfolio.current(stored.value) else Portfolio()
