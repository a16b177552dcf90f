"""The outbox on its own, over the embedded store: the work runs once per message, repeats get its
outputs back (the same bodies), a duplicate during the work gets nothing, a failure leaves no claim."""

from __future__ import annotations

import pytest

from coinswarm.adapters.memory_store import MemoryStore
from coinswarm.domain.models import Action
from coinswarm.ports.clock import SimulatedClock
from coinswarm.stages.messages import (
    DECISIONS,
    PLACEMENTS,
    DecidedStep,
    DecisionReady,
    Message,
    PlacementDone,
    ScoresReady,
    decode,
    encode,
)
from coinswarm.stages.outbox import NO_OUTBOX, Outbox, digest

NOW = 1_700_000_000


def scores(cycle: str = "c1") -> ScoresReady:
    return ScoresReady(cycle_id=cycle, symbol="BTC-USD", scored=())


def decided(cycle: str = "c1") -> list[tuple[str, Message]]:
    step = DecidedStep(NOW, Action.HOLD, 0.25, 100.0, NOW, 101.0)
    return [
        (DECISIONS, DecisionReady(cycle_id=cycle, symbol="BTC-USD", steps=(step,))),
        (PLACEMENTS, PlacementDone(cycle_id=cycle, symbol="BTC-USD", mark_price=101.0)),
    ]


class Work:
    def __init__(self, outputs: list[tuple[str, Message]], fail: int = 0) -> None:
        self.outputs, self.fail, self.runs = outputs, fail, 0

    def __call__(self) -> list[tuple[str, Message]]:
        self.runs += 1
        if self.fail:
            self.fail -= 1
            raise RuntimeError("the store went away")
        return self.outputs


@pytest.fixture
def outbox() -> Outbox:
    return Outbox(MemoryStore(), SimulatedClock(NOW))


def bodies(outputs: list[tuple[str, Message]]) -> list[tuple[str, str]]:
    return [(topic, encode(m)) for topic, m in outputs]


def test_a_redelivery_gets_the_kept_outputs_and_the_work_runs_once(outbox: Outbox) -> None:
    work = Work(decided())
    first = outbox.once("voted", scores(), "BTC-USD", work)
    again = outbox.once("voted", decode(ScoresReady, encode(scores())), "BTC-USD", work)
    assert work.runs == 1
    assert bodies(again) == bodies(first) == bodies(decided())
    assert [type(m) for _, m in again] == [DecisionReady, PlacementDone]


def test_another_message_another_stage_or_another_symbol_runs_again(outbox: Outbox) -> None:
    work = Work(decided())
    outbox.once("voted", scores(), "BTC-USD", work)
    outbox.once("voted", scores("c2"), "BTC-USD", work)
    outbox.once("scored", scores(), "BTC-USD", work)
    outbox.once("voted", scores(), "ETH-USD", work)
    assert work.runs == 4
    assert digest(scores()) != digest(scores("c2"))


def test_nothing_handed_on_is_kept_as_nothing(outbox: Outbox) -> None:
    work = Work([])
    assert outbox.once("ingested", scores(), "BTC-USD", work) == []
    assert outbox.once("ingested", scores(), "BTC-USD", work) == []
    assert work.runs == 1


def test_a_failure_drops_the_claim_so_the_retry_runs_the_work(outbox: Outbox) -> None:
    work = Work(decided(), fail=1)
    with pytest.raises(RuntimeError):
        outbox.once("voted", scores(), "BTC-USD", work)
    assert bodies(outbox.once("voted", scores(), "BTC-USD", work)) == bodies(decided())
    assert work.runs == 2


def test_a_duplicate_during_the_work_hands_on_nothing(outbox: Outbox) -> None:
    inner: list[list[tuple[str, Message]]] = []

    def work() -> list[tuple[str, Message]]:
        inner.append(outbox.once("voted", scores(), "BTC-USD", Work(decided())))  # arrives mid-run
        return decided()

    assert bodies(outbox.once("voted", scores(), "BTC-USD", work)) == bodies(decided())
    assert inner == [[]]


def test_no_outbox_runs_the_work_every_time_and_keeps_nothing() -> None:
    work = Work(decided())
    NO_OUTBOX.once("voted", scores(), "BTC-USD", work)
    NO_OUTBOX.once("voted", scores(), "BTC-USD", work)
    assert work.runs == 2
