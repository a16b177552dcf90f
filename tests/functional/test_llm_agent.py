"""The LLM agent against a local server speaking the OpenAI chat completions API: a good answer is a
vote; every fault (late, malformed, off the schema, refused, 429, 5xx, unreachable, over the daily
limit) is an abstention with its reason and never an exception; a repeated market state costs no
call; a replay only reads recorded answers and never reaches the server; the key stays secret."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from coinswarm.adapters.llm_chat import ChatAdvisor
from coinswarm.backtest.engine import BacktestOptions, run_backtest
from coinswarm.config.settings import Settings
from coinswarm.domain.agents.llm import LlmAgent, Question
from coinswarm.domain.models import Candle
from llm_server import ChatServer, chat_server

KEY = "sk-test-very-secret-0123456789"
TF = 300


@pytest.fixture
def server() -> Iterator[ChatServer]:
    with chat_server() as s:
        yield s


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_TEST_KEY", KEY)


def candles(n: int, end_ts: int, *, flat: bool = False) -> list[Candle]:
    """`n` five-minute candles whose last one closes at `end_ts`; a gentle zigzag (or flat) path."""
    first = end_ts - n * TF
    out = []
    for i in range(n):
        price = 100.0 if flat else 100.0 + (i % 7) * 0.3 + i * 0.01
        out.append(
            Candle(
                symbol="ETH-USD",
                ts=first + i * TF,
                open=price,
                high=price * 1.002,
                low=price * 0.998,
                close=price,
                volume=10.0 + (i % 3),
                timeframe_s=TF,
            )
        )
    return out


def question(ts: int) -> Question:
    return Question("ETH-USD", ts, TF, 100.0, "p0|vol:normal|rsi:neutral", (("ret_1", 0.001),))


def advisor(server: ChatServer, model: str, **kw: object) -> ChatAdvisor:
    return ChatAdvisor(base_url=server.base_url, model=model, api_key_env="LLM_TEST_KEY", **kw)  # type: ignore[arg-type]


def test_a_good_answer_is_a_vote_and_the_request_has_the_openai_shape(server: ChatServer) -> None:
    answer = advisor(server, "ok").ask(question(int(time.time())))
    assert not answer.abstained
    assert (answer.signal, answer.confidence) == (0.6, 0.7)
    assert "momentum" in answer.reason
    (request,) = server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["auth"] == f"Bearer {KEY}"
    body = request["body"]
    assert body["model"] == "ok" and body["response_format"] == {"type": "json_object"}
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "ETH-USD" in body["messages"][1]["content"]


def test_a_fenced_json_answer_is_read(server: ChatServer) -> None:
    assert not advisor(server, "fenced").ask(question(int(time.time()))).abstained


@pytest.mark.parametrize(
    ("model", "needle"),
    [
        ("malformed", "malformed answer"),
        ("off-schema", "malformed answer: signal"),
        ("refusal", "refused"),
        ("filtered", "refused"),
        ("429", "rate limited (429): retry after 30"),
        ("500", "answered 500"),
        ("garbage", "malformed response"),
    ],
)
def test_every_fault_is_an_abstention_with_its_reason(server: ChatServer, model: str, needle: str) -> None:
    answer = advisor(server, model).ask(question(int(time.time())))
    assert answer.abstained and needle in answer.reason
    assert KEY not in answer.reason


def test_a_late_answer_is_cut_at_the_time_budget(server: ChatServer) -> None:
    started = time.monotonic()
    answer = advisor(server, "slow", timeout_s=0.3).ask(question(int(time.time())))
    assert answer.abstained and answer.reason.startswith("late")
    assert time.monotonic() - started < 5  # the server would have held it 30 s


def test_an_unreachable_server_is_an_abstention() -> None:
    answer = ChatAdvisor(base_url="http://127.0.0.1:9/v1", model="ok", timeout_s=1).ask(question(int(time.time())))
    assert answer.abstained and ("unreachable" in answer.reason or "late" in answer.reason)


def test_after_a_429_no_call_is_made_until_retry_after_has_passed(server: ChatServer) -> None:
    now = [time.time()]
    a = advisor(server, "429", clock=lambda: now[0])
    a.ask(question(int(now[0])))
    second = a.ask(question(int(now[0])))
    assert len(server.requests) == 1 and "no call before" in second.reason
    now[0] += 31
    a.ask(question(int(now[0])))
    assert len(server.requests) == 2


def test_the_daily_limits_stop_the_calls(server: ChatServer) -> None:
    now = int(time.time())
    calls = advisor(server, "ok", max_calls_per_day=2)
    answers = [calls.ask(question(now)) for _ in range(3)]
    assert [a.abstained for a in answers] == [False, False, True] and "2 calls" in answers[2].reason
    tokens = advisor(server, "ok", max_tokens_per_day=500)
    assert [tokens.ask(question(now)).abstained for _ in range(3)] == [False, False, True]  # 340 tokens each
    assert len(server.requests) == 4


def test_no_key_no_call(server: ChatServer) -> None:
    answer = ChatAdvisor(base_url=server.base_url, model="ok", api_key_env="NO_SUCH_KEY_VAR").ask(
        question(int(time.time()))
    )
    assert answer.abstained and "NO_SUCH_KEY_VAR" in answer.reason and not server.requests


def test_the_agent_asks_once_per_market_state_and_never_fails(server: ChatServer) -> None:
    agent = LlmAgent(advisor=advisor(server, "ok"))
    scores = [agent.observe(c) for c in candles(130, int(time.time()), flat=True)]
    voted = [s for s in scores if s.confidence > 0]
    assert voted and all(s.signal == 0.6 for s in voted)
    assert len(server.requests) == 1  # a flat market stays in one state: every later vote is the cached one
    assert "cached" in voted[-1].reason
    failing = LlmAgent(advisor=advisor(server, "500"))
    assert all(s.confidence == 0 for s in (failing.observe(c) for c in candles(130, int(time.time()))))


def test_the_agent_state_round_trips_with_its_cached_answers(server: ChatServer) -> None:
    agent = LlmAgent(advisor=advisor(server, "ok"))
    series = candles(140, int(time.time()), flat=True)
    for c in series[:120]:
        agent.observe(c)
    asked = len(server.requests)
    restored = LlmAgent(advisor=advisor(server, "ok"))
    restored.restore(json.loads(json.dumps(agent.to_state())))
    resumed = [restored.observe(c) for c in series[120:]]
    asked_resumed = len(server.requests) - asked
    assert resumed == [agent.observe(c) for c in series[120:]]
    assert len(server.requests) - asked == 2 * asked_resumed  # the cached states cost neither agent a call
    assert any("cached" in s.reason for s in resumed)


def test_a_replay_reads_recorded_answers_and_never_calls(server: ChatServer, tmp_path: Path) -> None:
    record = tmp_path / "answers.jsonl"
    live = advisor(server, "ok", recorded=str(record))
    now = int(time.time())
    live.ask(question(now))
    assert len(server.requests) == 1 and record.exists()
    replay = advisor(server, "ok", recorded=str(record), clock=lambda: now + 86_400.0)
    assert not replay.ask(question(now)).abstained  # the recorded answer
    unknown = replay.ask(question(now - 3_600))
    assert unknown.abstained and unknown.reason.startswith("replay")
    assert len(server.requests) == 1


def test_a_backtest_with_the_llm_agent_never_reaches_the_model(server: ChatServer) -> None:
    settings = Settings.model_validate(
        {
            "committee": {"weights": {"trend": 1.0, "mean_reversion": 1.0, "llm": 1.0}},
            "agents": {"llm": {"base_url": server.base_url, "model": "ok", "api_key_env": "LLM_TEST_KEY"}},
        }
    )
    result = run_backtest(candles(400, 1_700_000_000), settings, BacktestOptions())
    assert result.metrics.bars == 400
    assert server.requests == []


def test_budget_shows_the_llm_month_at_the_configured_cadence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from coinswarm.cli.main import main

    config = tmp_path / "coinswarm.toml"
    body = (
        'symbols = ["ETH-USD", "BTC-USD"]\ntimeframe = "5m"\n[committee.weights]\ntrend = 1.0\nllm = 1.0\n'
        '[agents.llm]\nbase_url = "http://127.0.0.1:9/v1"\nmodel = "m"\nevery = 3\n'
    )
    config.write_text(body)
    main(["budget", "--config", str(config)])
    assert "at most 5,760 questions a month" in capsys.readouterr().out  # 2 symbols x 8,640 candles / 3
    config.write_text(body + "max_calls_per_day = 10\n")
    main(["budget", "--config", str(config)])
    out = capsys.readouterr().out
    assert "300 calls" in out and "capped by the daily limits" in out
