"""The records a trading bar builds without validating again (committee.record, sizing.intent_for, the
ledger's events) are exactly the records validation builds: the same fields, types, fields set, dump and
equality; and what they cannot vouch for is still validated and refused, naming what is wrong."""

import random

import pytest
from pydantic import BaseModel, ValidationError

from coinswarm.adapters.memory_store import MemoryStore
from coinswarm.domain.committee import Committee, PatternCache
from coinswarm.domain.models import Action, AgentScore, Fill, LedgerEvent, Side
from coinswarm.domain.sizing import SizingRule, intent_for
from coinswarm.stages.ledger import Ledger

AGENTS = ("trend", "mean_reversion", "arbitrage")


def assert_as_validated(record: BaseModel) -> None:
    """`record` is what its class's validation makes of the same values, nested records included."""
    given = {name: getattr(record, name) for name in record.model_fields_set}  # what a constructor was given
    again = type(record).model_validate(given)
    assert again == record
    assert again.model_fields_set == record.model_fields_set
    assert list(vars(again)) == list(vars(record))
    assert [type(v) for v in vars(again).values()] == [type(v) for v in vars(record).values()]
    assert again.model_dump_json() == record.model_dump_json()
    for value in vars(record).values():
        for inner in value if isinstance(value, tuple) else (value,):
            if isinstance(inner, BaseModel):
                assert_as_validated(inner)


def test_decisions_and_intents_are_the_records_validation_makes() -> None:
    rng = random.Random(15)
    committee = Committee(
        {"trend": 2, "mean_reversion": 1.0, "arbitrage": 0}, quorum=1, threshold=0.3, cache=PatternCache()
    )
    rules = (SizingRule(), SizingRule(buy_notional=None, buy_fraction=0.5, sell_fraction=0.25))
    seen = set()
    for ts in range(60, 60 * 400, 60):
        scores = [
            AgentScore(
                agent=a,
                signal=rng.choice((-0.9, -0.2, 0.4, 1)),
                confidence=rng.choice((0.0, 0.7, 1)),
                reason=rng.choice((a, "why")),
            )
            for a in AGENTS
        ]
        decision = committee.decide(cycle_id="c", symbol="BTC-USD", ts=ts, scores=scores, state_key=str(ts % 7))
        assert_as_validated(decision)
        seen.add((decision.action, decision.from_cache))
        for rule in rules:
            intent = intent_for(decision, price=100.0 + ts, rule=rule)
            if intent is not None:
                assert_as_validated(intent)
    # every kind of record was made: buys, sells and holds, fresh and from the pattern cache
    assert {a for a, _ in seen} == set(Action) and {c for _, c in seen} == {True, False}


def test_an_int_weight_is_kept_as_a_float_and_a_bad_weight_is_refused() -> None:
    assert Committee({"trend": 2}).weights == {"trend": 2.0}
    assert type(Committee({"trend": 2}).weights["trend"]) is float
    for bad in (-1.0, float("nan"), float("inf"), "1", True):
        with pytest.raises(ValueError, match="committee weight of agent 'trend' must be a number from 0 up"):
            Committee({"trend": bad})


def test_values_of_another_type_are_still_validated() -> None:
    committee = Committee({"trend": 1.0}, quorum=1, threshold=0.5)
    score = AgentScore(agent="trend", signal=1.0, confidence=1.0, reason="up")
    with pytest.raises(ValidationError, match="ts"):
        committee.decide(cycle_id="c", symbol="BTC-USD", ts="soon", scores=[score], state_key="s")  # type: ignore[arg-type]
    decision = committee.decide(cycle_id="c", symbol="BTC-USD", ts=60, scores=[score], state_key="s")
    with pytest.raises(ValidationError, match="reference_price"):
        intent_for(decision, price=0.0, rule=SizingRule())
    converted = intent_for(decision, price=5, rule=SizingRule())  # an int price: converted, as before
    assert converted is not None and type(converted.reference_price) is float


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        (SizingRule(buy_notional=-5.0), "notional"),
        (SizingRule(buy_notional=None, buy_fraction=1.5), "fraction"),
        (SizingRule(buy_notional=None, buy_fraction=None), "exactly one of notional, quantity or fraction"),
    ],
)
def test_a_bad_sizing_rule_is_refused_naming_the_field(rule: SizingRule, field: str) -> None:
    committee = Committee({"trend": 1.0}, quorum=1, threshold=0.5)
    score = AgentScore(agent="trend", signal=1.0, confidence=1.0, reason="up")
    decision = committee.decide(cycle_id="c", symbol="BTC-USD", ts=60, scores=[score], state_key="s")
    for _ in range(2):  # refused every time, not only the first
        with pytest.raises(ValidationError, match=field):
            intent_for(decision, price=100.0, rule=rule)


def test_the_ledger_events_of_fills_are_the_records_validation_makes() -> None:
    store = MemoryStore()
    ledger = Ledger(store, "acct")
    ledger.open_account(10_000.0, 0)
    fills = [
        Fill(
            fill_id=f"f{i}",
            client_order_id=f"o{i}",
            symbol="BTC-USD",
            side=side,
            quantity=1,
            price=100 + i,
            fee=0.1,
            ts=60 * i,
        )
        for i, side in enumerate((Side.BUY, Side.SELL, Side.BUY))
    ]
    assert [ledger.record_fill(f) for f in fills] == [True, True, True]
    assert ledger.record_fill(fills[1]) is False  # a fill delivered again is recorded once
    events = ledger.events()
    assert [e.seq for e in events] == [1, 2, 3, 4]
    for event in events[1:]:
        assert_as_validated(event)
        assert event == LedgerEvent(
            stream="acct", seq=event.seq, event_id=event.event_id, payload={"kind": "fill", "fill": event.payload.fill}
        )
    ledger.project()
    assert ledger.verify().ok


def test_a_fill_of_another_type_is_validated_before_it_is_recorded() -> None:
    ledger = Ledger(MemoryStore(), "acct")
    with pytest.raises(ValidationError, match="fill"):
        ledger.record_fill({"fill_id": "f"})  # type: ignore[arg-type]
    assert ledger.events() == []


def test_each_vote_record_holds_its_own_agents_reason_when_records_are_shared() -> None:
    committee = Committee({"trend": 1.0, "arbitrage": 1.0}, quorum=1, threshold=0.3)
    decisions = [
        committee.decide(
            cycle_id="c",
            symbol="BTC-USD",
            ts=60 * i,
            scores=[
                AgentScore(agent="trend", signal=0.5, confidence=1.0, reason=f"reason {i % 3}"),
                AgentScore(agent="arbitrage", signal=0.5, confidence=1.0, reason="same"),
            ],
            state_key="s",
        )
        for i in range(1, 10)
    ]
    assert [d.votes[0].reason for d in decisions] == [f"reason {i % 3}" for i in range(1, 10)]
    assert {d.votes[1].reason for d in decisions} == {"same"}
    assert all(d.votes[0].weight == 1.0 and d.votes[0].signal == 0.5 for d in decisions)


def test_the_vote_records_kept_for_reuse_are_bounded() -> None:
    from coinswarm.domain.committee import VOTE_RECORDS

    committee = Committee({"trend": 1.0}, quorum=1, threshold=0.3)
    for i in range(VOTE_RECORDS + 10):  # a reason that carries a number never repeats
        score = AgentScore(agent="trend", signal=0.5, confidence=1.0, reason=f"spread {i}")
        decision = committee.decide(cycle_id="c", symbol="BTC-USD", ts=60 * (i + 1), scores=[score], state_key="s")
        assert decision.votes[0].reason == f"spread {i}"
    assert len(committee._vote_records) <= VOTE_RECORDS
