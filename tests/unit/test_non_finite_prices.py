"""Non-finite prices (issue 10, item 9): a high of 1e999 (read as infinity) used to be accepted and then
held the trend agent's ATR at infinity for good, so the agent never spoke again for that symbol. Now such
a value is refused at every boundary with a clear error (the candle model, which candle files, venue
answers and queued messages all go through; the push envelope), and an indicator refuses it without
changing, so even a value that got past could not disable an agent (nor could a poisoned saved state)."""

from __future__ import annotations

import json
import math

import httpx
import pytest
from pydantic import ValidationError

from coinswarm.adapters.memory_store import MemoryStore
from coinswarm.domain.agents.trend import TrendAgent
from coinswarm.domain.indicators import ATR, EMA, MAX_INPUT, RSI, SMA, Bollinger, ZScore
from coinswarm.domain.market_state import MarketStateTracker
from coinswarm.domain.models import Candle, Quote
from coinswarm.errors import MalformedAnswerError, MarketDataUnavailableError
from coinswarm.http.push_wire import BadEnvelopeError, read_envelope
from coinswarm.marketdata.coinbase_public import CoinbasePublicMarketData
from coinswarm.marketdata.synthetic import synthetic_candles
from coinswarm.stages.agent_memory import AgentMemory, StoredAgentMemory
from coinswarm.stages.messages import CandlesReady, decode
from coinswarm.venues.binance import BinanceClient
from coinswarm.venues.coinbase import CoinbaseClient

BAD = ["1e999", "inf", "-inf", "nan", "1e300", "0", "-1"]
GOOD = {"symbol": "BTC-USD", "ts": 60, "open": 100.0, "high": 101.0, "low": 99.0, "close": 100.5, "volume": 3.0}


@pytest.mark.parametrize("bad", BAD)
def test_the_candle_model_refuses_a_price_that_is_not_finite_positive_and_sane(bad: str) -> None:
    with pytest.raises(ValidationError, match="high"):
        Candle(**{**GOOD, "high": float(bad)})
    with pytest.raises(ValidationError, match="price"):
        Quote(venue="coinbase", symbol="BTC-USD", price=float(bad), ts=60)


def test_a_queued_message_with_an_infinite_price_is_refused() -> None:
    body = json.dumps({"cycle_id": "c", "symbol": "BTC-USD", "candles": [GOOD]}).replace(
        '"high": 101.0', '"high": 1e999'
    )
    with pytest.raises(ValidationError, match="finite number"):
        decode(CandlesReady, body)


@pytest.mark.parametrize("number", ["1e999", "-1e999", "NaN", "Infinity"])
def test_a_pushed_envelope_with_a_number_that_is_not_finite_is_refused(number: str) -> None:
    body = (
        '{"topic": "decisions", "cycle_id": "c", "push_id": "' + "a" * 32 + '", "message": {"price": ' + number + "}}"
    )
    with pytest.raises(BadEnvelopeError, match=r"finite|not a number JSON allows"):
        read_envelope(body.encode())


@pytest.mark.parametrize("bad", BAD)
def test_a_venue_answer_with_a_bad_candle_price_is_a_malformed_answer(bad: str) -> None:
    coinbase = {"start": "60", "open": "100", "high": bad, "low": "99", "close": "100.5", "volume": "3"}
    with pytest.raises(MalformedAnswerError):
        CoinbaseClient._candle(coinbase, "BTC-USD", 60)
    binance = [60_000, "100", bad, "99", "100.5", "3"]
    with pytest.raises(MalformedAnswerError):
        BinanceClient._candle(binance, "BTC-USD", 60)
    # the public market data reads Coinbase through the venue client: the same refusal, as its port's error
    answers = httpx.MockTransport(lambda request: httpx.Response(200, json={"candles": [coinbase]}))
    with (
        httpx.Client(transport=answers) as http,
        CoinbasePublicMarketData("http://127.0.0.1:9", client=http) as market,
        pytest.raises(MarketDataUnavailableError, match="malformed candle"),
    ):
        market.fetch_candles("BTC-USD", 60, since_ts=60, until_ts=120)


# -- indicators and agents: one bad value never disables anything -------------------------------------


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan, MAX_INPUT, -MAX_INPUT * 2])
def test_an_indicator_refuses_a_bad_input_and_is_unchanged(bad: float) -> None:
    for make in (lambda: SMA(3), lambda: EMA(3), lambda: RSI(3), lambda: ZScore(3), lambda: Bollinger(3)):
        indicator, twin = make(), make()
        for x in (1.0, 2.0, 3.0, 2.5):
            indicator.update(x)
            twin.update(x)
        with pytest.raises(ValueError, match="refused the input"):
            indicator.update(bad)
        assert indicator.to_state() == twin.to_state()
        assert indicator.update(4.0) == twin.update(4.0)
    atr, twin_atr = ATR(3), ATR(3)
    for bar in ((2.0, 1.0, 1.5), (3.0, 2.0, 2.5), (3.5, 2.5, 3.0)):
        atr.update(*bar)
        twin_atr.update(*bar)
    with pytest.raises(ValueError, match="refused the input"):
        atr.update(bad, 1.0, 1.5)
    assert atr.to_state() == twin_atr.to_state() and atr.update(4.0, 3.0, 3.5) == twin_atr.update(4.0, 3.0, 3.5)


def test_a_trend_agent_that_meets_an_infinite_high_keeps_scoring_like_one_that_never_did() -> None:
    candles = synthetic_candles("BTC-USD", 300, seed=3, start_ts=0)
    agent, twin = TrendAgent(), TrendAgent()
    for c in candles[:200]:
        agent.observe(c)
        twin.observe(c)
    # a candle that got past every check (built without validation): its ATR refuses it, unchanged
    poisoned = Candle.model_construct(**{**candles[200].model_dump(), "high": math.inf})
    with pytest.raises(ValueError, match="refused the input"):
        agent.observe(poisoned)
    twin.observe(candles[200])  # the twin sees the same bar as it really was
    scores = [(agent.observe(c), twin.observe(c)) for c in candles[201:]]
    assert all(math.isfinite(a.signal) and (a.confidence > 0) == (b.confidence > 0) for a, b in scores)
    late = scores[-20:]  # a missed bar fades from the ATR: (13/14) ** 80 is below 0.3 %
    assert any(b.confidence > 0.1 for _, b in late)
    assert all(abs(a.signal - b.signal) < 0.01 and a.reason == b.reason for a, b in late)


def test_a_saved_agent_memory_holding_an_infinity_is_dropped_so_the_agent_warms_up_again() -> None:
    store = MemoryStore()
    memories = StoredAgentMemory(store)

    def fresh() -> AgentMemory:
        return AgentMemory([TrendAgent()], MarketStateTracker())

    memory = fresh()
    for c in synthetic_candles("BTC-USD", 150, seed=5, start_ts=0):
        memory.agents[0].observe(c)
    memory.last_ts = 150 * 60
    state = memory.to_state()
    state["agents"]["trend"]["atr"]["atr"] = math.inf  # what the old code saved after a high of 1e999
    store.put("agents:BTC-USD", json.loads(json.dumps(state)))
    loaded = memories.load("BTC-USD", fresh)
    assert loaded.last_ts is None, "the poisoned memory is dropped, not restored"
    assert loaded.agents[0].to_state() == TrendAgent().to_state()
