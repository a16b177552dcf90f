"""Writing an agent (issue 10, item 20): `observe` is the one required method, and an agent is loaded from
a file by its path (no PYTHONPATH), with errors that name the right place."""

from __future__ import annotations

import json

import pytest

from coinswarm.agent_registry import UnknownAgentError, agent_class, build_agents, load_agent_file
from coinswarm.config import ConfigError, load_settings
from coinswarm.domain.agents.base import EMPTY_VIEW, Agent, MarketView
from coinswarm.domain.indicators import EMA
from coinswarm.domain.models import AgentScore, Candle


def candles(closes: list[float]) -> list[Candle]:
    return [
        Candle(symbol="BTC-USD", ts=i * 60, open=c, high=c * 1.001, low=c * 0.999, close=c, volume=1.0)
        for i, c in enumerate(closes)
    ]


class GreenCandleAgent(Agent):
    def observe(self, candle: Candle, view: MarketView = EMPTY_VIEW) -> AgentScore:
        return self.score(1.0 if candle.close > candle.open else -1.0, 0.5, "the candle's colour")


class FastEmaAgent(Agent):
    """State in an indicator made in __init__; no reset(), no stateful."""

    def __init__(self, period: int = 3) -> None:
        self.period = period
        self.ema = EMA(period)
        super().__init__()

    def observe(self, candle: Candle, view: MarketView = EMPTY_VIEW) -> AgentScore:
        value = self.ema.update(candle.close)
        if value is None:
            return self.abstain("warming up")
        return self.score(candle.close - value, 1.0, f"close vs EMA{self.period}")


def test_one_method_is_a_whole_agent() -> None:
    agent = GreenCandleAgent()
    assert agent.name == "green_candle"
    assert agent.observe(candles([100.0])[0]).signal == -1.0
    agent.reset()
    assert agent.to_state() == {}
    agent.restore({})


def test_an_indicator_made_in_init_is_the_state_without_declaring_it() -> None:
    series = candles([100.0, 101.0, 103.0, 102.0, 104.0, 107.0, 105.0, 108.0])
    kept, saved = FastEmaAgent(), FastEmaAgent()
    for c in series[:4]:
        kept.observe(c)
        saved.observe(c)
    state = json.loads(json.dumps(saved.to_state()))
    assert set(state) == {"ema"}
    restored = FastEmaAgent()
    restored.restore(state)
    assert [restored.observe(c) for c in series[4:]] == [kept.observe(c) for c in series[4:]]


def test_the_default_reset_returns_to_the_fresh_state() -> None:
    agent = FastEmaAgent()
    for c in candles([100.0, 101.0, 102.0, 103.0]):
        agent.observe(c)
    assert not agent.observe(candles([104.0])[0]).abstains
    agent.reset()
    assert agent.observe(candles([100.0])[0]).abstains


def test_plain_data_named_in_stateful_is_kept_too() -> None:
    class LastCloseAgent(Agent):
        stateful = ("last",)

        def __init__(self) -> None:
            self.last: float | None = None
            super().__init__()

        def observe(self, candle: Candle, view: MarketView = EMPTY_VIEW) -> AgentScore:
            before, self.last = self.last, candle.close
            if before is None:
                return self.abstain("first candle")
            return self.score(candle.close - before, 1.0, "change")

    a = LastCloseAgent()
    a.observe(candles([100.0])[0])
    b = LastCloseAgent()
    b.restore(json.loads(json.dumps(a.to_state())))
    assert b.observe(candles([101.0])[0]).signal == 1.0
    b.reset()
    assert b.last is None


AGENT_FILE = """
from coinswarm.domain.agents.base import EMPTY_VIEW, Agent, MarketView
from coinswarm.domain.models import AgentScore, Candle


class DojiAgent(Agent):
    name = "doji"

    def __init__(self, tolerance: float = 0.001) -> None:
        self.tolerance = tolerance
        super().__init__()

    def observe(self, candle: Candle, view: MarketView = EMPTY_VIEW) -> AgentScore:
        return self.abstain("indecision") if abs(candle.close / candle.open - 1) < self.tolerance else self.score(
            0.1, 0.1, "a body")
"""


def test_an_agent_file_named_by_its_path_relative_to_the_configuration(tmp_path, monkeypatch) -> None:
    (tmp_path / "bot" / "agents").mkdir(parents=True)
    (tmp_path / "bot" / "agents" / "doji.py").write_text(AGENT_FILE)
    (tmp_path / "bot" / "coinswarm.toml").write_text(
        '[committee.weights]\ntrend = 1.0\ndoji = 2.0\n\n[agents.doji]\npath = "agents/doji.py"\ntolerance = 0.01\n'
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    settings = load_settings(tmp_path / "bot" / "coinswarm.toml", env={})
    assert settings.agents["doji"]["path"] == str(tmp_path / "bot" / "agents" / "doji.py")
    agents, weights = build_agents(settings.committee.weights, settings.agents)
    assert [a.name for a in agents] == ["trend", "doji"] and weights == {"trend": 1.0, "doji": 2.0}
    assert agents[1].tolerance == 0.01  # type: ignore[attr-defined]
    assert agent_class("doji", str(tmp_path / "bot" / "agents" / "doji.py")) is type(agents[1]), "loaded once"


def test_a_missing_agent_file_is_named_where_it_was_looked_for(tmp_path) -> None:
    (tmp_path / "coinswarm.toml").write_text(
        '[committee.weights]\ntrend = 1.0\nmine = 1.0\n\n[agents.mine]\npath = "agents/mine.py"\n'
    )
    with pytest.raises(ConfigError) as exc:
        load_settings(tmp_path / "coinswarm.toml", env={})
    assert f"agents.mine.path: no file {tmp_path / 'agents' / 'mine.py'}" in str(exc.value)


def test_a_file_without_one_agent_class_says_what_to_do(tmp_path) -> None:
    (tmp_path / "two.py").write_text(AGENT_FILE + "\n\nclass OtherAgent(DojiAgent):\n    name = 'other'\n")
    with pytest.raises(UnknownAgentError, match=r"2 agent classes \(DojiAgent, OtherAgent\).*AGENT = YourAgent"):
        load_agent_file(tmp_path / "two.py")
    assert load_agent_file(tmp_path / "two.py", "OtherAgent").name == "other"


def test_an_agent_file_that_fails_to_load_names_the_error(tmp_path) -> None:
    (tmp_path / "broken.py").write_text("import not_a_module_anywhere\n")
    with pytest.raises(UnknownAgentError, match=r"broken\.py failed to load: ModuleNotFoundError"):
        load_agent_file(tmp_path / "broken.py")


def test_a_module_that_is_not_installed_names_the_module_not_a_path() -> None:
    with pytest.raises(UnknownAgentError) as exc:
        agent_class("my_agents.momentum:MomentumAgent")
    text = str(exc.value)
    assert "no installed module my_agents.momentum" in text and 'path = "path/to/file.py"' in text
    assert "coinswarm/domain/agents" not in text
    assert exc.value.loc == ("committee", "weights", "my_agents.momentum:MomentumAgent")


def test_a_class_without_observe_is_refused(tmp_path) -> None:
    (tmp_path / "lazy.py").write_text(
        "from coinswarm.domain.agents.base import Agent\n\nclass LazyAgent(Agent):\n    pass\n"
    )
    with pytest.raises(UnknownAgentError, match="defines no agent class"):
        load_agent_file(tmp_path / "lazy.py")
    with pytest.raises(UnknownAgentError, match="does not implement observe"):
        load_agent_file(tmp_path / "lazy.py", "LazyAgent")


@pytest.mark.parametrize(
    ("signal", "confidence", "reason", "wrong"),
    [
        (float("nan"), 0.5, "x", "signal"),
        (0.5, float("inf"), "x", "confidence"),
        (1.5, 0.5, "x", "signal"),
        (0.5, -0.1, "x", "confidence"),
        ("0.5", 0.5, "x", "signal"),
        (True, 0.5, "x", "signal"),
        (0.2, 0.5, 7, "reason"),
    ],
)
def test_a_score_out_of_place_is_refused_naming_the_field(signal, confidence, reason, wrong: str) -> None:
    with pytest.raises(ValueError, match=wrong):
        AgentScore("trend", signal, confidence, reason)


def test_a_score_travels_between_stages_unchanged_and_is_checked_on_arrival() -> None:
    from coinswarm.stages.messages import ScoredCandle, ScoresReady, decode, encode

    candle = candles([100.0])[0]
    scores = (AgentScore("trend", -0.25, 0.5, "down"), AgentScore("arbitrage", 0.0, 0.0, "one venue"))
    sent = ScoresReady(cycle_id="c", symbol="BTC-USD", scored=(ScoredCandle(candle, scores, "k", 100.0, 0),))
    body = encode(sent)
    assert json.loads(body)["scored"][0]["scores"][0] == {
        "agent": "trend",
        "signal": -0.25,
        "confidence": 0.5,
        "reason": "down",
    }
    assert decode(ScoresReady, body) == sent
    with pytest.raises(ValueError, match="signal"):
        decode(ScoresReady, body.replace('"signal":-0.25', '"signal":-7'))


def test_an_agent_whose_numbers_are_ints_still_gets_float_scores() -> None:
    class WholeNumbers(Agent):
        def observe(self, candle: Candle, view: MarketView = EMPTY_VIEW) -> AgentScore:
            return self.score(1, 0, "ints")

    score = WholeNumbers().observe(candles([1.0])[0])
    assert (score.signal, score.confidence) == (1.0, 0.0)
    assert type(score.signal) is float and type(score.confidence) is float
