"""The LLM agent's advisor: an OpenAI-compatible chat completions client that fails safe.

Contract: `ChatAdvisor.ask(question)` returns an `Answer` and never raises. It POSTs
`{base_url}/chat/completions` (DeepSeek, Qwen/DashScope, Vertex AI's OpenAI endpoint, Groq, Ollama:
all speak it) with `response_format: {"type": "json_object"}`, and validates the message content
with pydantic (`LlmVote`: signal in [-1, 1], confidence in [0, 1], a reason). Everything else is an
abstention with its reason: no base URL or model configured, no API key in the named environment
variable, the daily call or token limit reached, a 429 (and no call until its Retry-After has
passed), any other HTTP error, a connection error, an answer later than `timeout_s` (a hard
deadline over the whole exchange), a refusal, malformed JSON or a vote outside the schema.

Replays never call: a question about a candle that closed more than two candles ago (by the wall
clock) is answered only from the recorded answers (`recorded`, a JSON-lines file each live answer
is appended to), or abstains. The key is read from the environment at each call and never appears in
a reason or a log line.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from coinswarm.domain.agents.llm import Answer, Question

SYSTEM = (
    "You are one voting member of a crypto trading committee. From the market summary, vote on buying "
    "(signal near 1), selling (near -1) or neither (0), with your confidence in [0, 1]. "
    'Reply with JSON only: {"signal": number, "confidence": number, "reason": "one short line"}.'
)
ANSWER_TOKENS = 80
REPLAY_CANDLES = 2  # a candle closed longer ago than this many candles is history: recorded answers only


class LlmVote(BaseModel):
    model_config = ConfigDict(extra="ignore")

    signal: float = Field(ge=-1.0, le=1.0)
    confidence: float = Field(ge=0.0, le=1.0)
    reason: str = Field(min_length=1, max_length=300)


@dataclass
class DailyUsage:
    day: str = ""
    calls: int = 0
    tokens: int = 0

    def roll(self, now: float) -> None:
        today = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")
        if today != self.day:
            self.day, self.calls, self.tokens = today, 0, 0


@dataclass
class ChatAdvisor:
    base_url: str
    model: str
    api_key_env: str = ""
    timeout_s: float = 8.0
    max_calls_per_day: int = 200
    max_tokens_per_day: int = 200_000
    recorded: str = ""
    clock: Callable[[], float] = time.time
    transport: httpx.BaseTransport | None = None
    usage: DailyUsage = field(default_factory=DailyUsage)
    blocked_until: float = 0.0
    _answers: dict[tuple[str, int], Answer] = field(default_factory=dict)
    _client: httpx.Client | None = None

    def __post_init__(self) -> None:
        if self.recorded:
            self._answers = read_recorded(self.recorded)

    def ask(self, question: Question) -> Answer:
        recorded = self._answers.get((question.symbol, question.ts))
        if recorded is not None:
            return recorded
        now = self.clock()
        if now - question.ts > REPLAY_CANDLES * question.timeframe_s:
            return _abstain("replay: no recorded answer for this candle (a replay never calls a model)")
        if not self.base_url or not self.model:
            return _abstain("not configured: set [agents.llm] base_url and model")
        key = os.environ.get(self.api_key_env, "") if self.api_key_env else ""
        if self.api_key_env and not key:
            return _abstain(f"no API key: the environment variable {self.api_key_env} is not set")
        if now < self.blocked_until:
            return _abstain(f"rate limited: no call before {int(self.blocked_until - now)} s from now")
        self.usage.roll(now)
        if self.usage.calls >= self.max_calls_per_day:
            return _abstain(f"daily limit: {self.max_calls_per_day} calls made today")
        if self.usage.tokens >= self.max_tokens_per_day:
            return _abstain(f"daily limit: {self.usage.tokens} of {self.max_tokens_per_day} tokens used today")
        self.usage.calls += 1
        answer = self._within_budget(question, key, now)
        if not answer.abstained and self.recorded:
            _append(self.recorded, question, answer, self.model)
        return answer

    def _within_budget(self, question: Question, key: str, now: float) -> Answer:
        """The call in a worker thread, waited for `timeout_s` at most: the cycle goes on when the
        deadline passes, whatever the connection does (httpx's own timeouts end the worker later)."""
        future = _pool().submit(self._call, question, key, now)
        try:
            return future.result(timeout=self.timeout_s)
        except concurrent.futures.TimeoutError:
            return _abstain(f"late: no whole answer within {self.timeout_s:g} s")
        except Exception as exc:  # the advisor never raises: any surprise is an abstention
            return _abstain(f"failed: {type(exc).__name__}")

    def _call(self, question: Question, key: str, now: float) -> Answer:
        body = {
            "model": self.model,
            "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt(question)}],
            "response_format": {"type": "json_object"},
            "temperature": 0,
            "max_tokens": ANSWER_TOKENS,
        }
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        deadline = time.monotonic() + self.timeout_s
        try:
            raw = bytearray()
            with self._http().stream("POST", _endpoint(self.base_url), json=body, headers=headers) as response:
                for chunk in response.iter_bytes():
                    raw.extend(chunk)
                    if time.monotonic() > deadline:
                        return _abstain(f"late: no whole answer within {self.timeout_s:g} s")
                status = response.status_code
                retry_after = response.headers.get("retry-after")
        except httpx.TimeoutException:
            return _abstain(f"late: no answer within {self.timeout_s:g} s")
        except httpx.HTTPError as exc:
            return _abstain(f"unreachable: {type(exc).__name__}")
        if time.monotonic() > deadline:
            return _abstain(f"late: no whole answer within {self.timeout_s:g} s")
        if status == 429:
            wait = _seconds(retry_after)
            self.blocked_until = now + wait
            return _abstain(f"rate limited (429): retry after {wait:g} s")
        if status >= 400:
            return _abstain(f"the model's API answered {status}")
        return self._parse(bytes(raw))

    def _parse(self, raw: bytes) -> Answer:
        try:
            data = json.loads(raw)
            choice = data["choices"][0]
            message = choice["message"]
            usage = data.get("usage") or {}
            self.usage.tokens += int(usage.get("total_tokens", 0))
        except (ValueError, KeyError, IndexError, TypeError):
            return _abstain("malformed response: not a chat completion")
        if message.get("refusal") or choice.get("finish_reason") == "content_filter":
            return _abstain("refused: the model declined to answer")
        content = message.get("content")
        if not isinstance(content, str):
            return _abstain("malformed answer: no content")
        try:
            vote = LlmVote.model_validate_json(_strip_fence(content))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "answer"
            return _abstain(f"malformed answer: {where}: {first.get('msg', 'invalid')}")
        return Answer(signal=vote.signal, confidence=vote.confidence, reason=f"LLM: {vote.reason}")

    def _http(self) -> httpx.Client:
        if self._client is None:
            connect = min(self.timeout_s, 3.0)
            self._client = httpx.Client(
                timeout=httpx.Timeout(self.timeout_s, connect=connect), transport=self.transport
            )
        return self._client


_POOL: concurrent.futures.ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> concurrent.futures.ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="llm-call")
        return _POOL


def advisor_from_params(**params: Any) -> ChatAdvisor:
    """The factory the LLM agent's `client` parameter names by default."""
    return ChatAdvisor(**params)


def prompt(question: Question) -> str:
    when = datetime.fromtimestamp(question.ts, UTC).strftime("%Y-%m-%d %H:%M")
    lines = [
        f"{question.symbol}, {question.timeframe_s // 60}-minute candles, closed {when} UTC at {question.close:.8g}.",
        f"Market state: {question.market_state}.",
    ]
    lines += [f"{name}: {value:.4g}" for name, value in question.features]
    return "\n".join(lines)


def read_recorded(path: str) -> dict[tuple[str, int], Answer]:
    """The recorded answers by (symbol, candle close time); a missing file is none; a bad line is skipped."""
    out: dict[tuple[str, int], Answer] = {}
    p = Path(path)
    if not p.exists():
        return out
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            d = json.loads(line)
            out[(str(d["symbol"]), int(d["ts"]))] = Answer(
                signal=float(d["signal"]), confidence=float(d["confidence"]), reason=f"{d['reason']} [recorded]"
            )
        except (ValueError, KeyError, TypeError):
            continue
    return out


def _append(path: str, question: Question, answer: Answer, model: str) -> None:
    record = {
        "symbol": question.symbol,
        "ts": question.ts,
        "market_state": question.market_state,
        "signal": answer.signal,
        "confidence": answer.confidence,
        "reason": answer.reason,
        "model": model,
    }
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
    except OSError:
        pass  # the vote stands; only the record for later replays is lost


def _endpoint(base_url: str) -> str:
    return base_url.rstrip("/") + "/chat/completions"


def _seconds(retry_after: str | None) -> float:
    try:
        return max(1.0, float(retry_after)) if retry_after else 60.0
    except ValueError:
        return 60.0  # an HTTP date, or garbage: wait a minute


def _strip_fence(content: str) -> str:
    text = content.strip()
    if text.startswith("```"):
        text = text.strip("`")
        text = text.removeprefix("json").strip()
    return text


def _abstain(reason: str) -> Answer:
    return Answer(reason=reason, abstained=True)
