"""The committee: a weighted vote of the agents, with a quorum, a confidence threshold and a pattern cache.

Arithmetic, over the agents that vote (confidence > 0), with weight w, signal s and confidence c, each
quantized to a step of 0.05 first so that repeated states can be served from the cache:
  confidence = |sum(w*c*s)| / sum(w)       (1 only when every voter is sure and agrees)
  signal     = sum(w*c*s) / sum(w*c)       (which way, and how hard, the confident voters lean)
A decision acts (buy when signal > 0, sell when < 0) only when at least `quorum` agents voted and the
confidence reaches `threshold`.

The vote on a set of quantized votes is taken once and remembered. The pattern cache remembers the
discretized states seen: the market state (price bucket, volume regime, RSI zone) and the quantized
votes; a decision on a state seen before says so ("[pattern cache]"), and the cache counts hits and
misses. Because the vote is computed on quantized votes, a hit gives exactly what a fresh vote would:
the cache never changes a decision.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from coinswarm.domain.models import Action, AgentScore, Decision, Vote, trusted

STEP = 20.0  # quantization: 1 / 0.05
LEVELS = 41 * 21  # quantized (signal, confidence) pairs: -1.0 .. 1.0 by 0.05, 0.0 .. 1.0 by 0.05
MEMO_SIZE = 65_536
VOTE_RECORDS = 4_096  # vote records kept for reuse (~1 kB each; reasons that carry numbers rarely repeat)
ROUNDER = 1.5 * 2.0**52  # x + ROUNDER - ROUNDER is x rounded to a whole number, half to even (|x| < 2**51)
FLOAT_CODE_AGENTS = 5  # LEVELS ** 5 < 2 ** 53: the quantized votes of up to 5 agents, exactly, in one float
_DECISION_FIELDS = frozenset(Decision.model_fields)


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    signal: float
    confidence: float
    summary: str


@dataclass(frozen=True, slots=True)
class Ballot:
    """A verdict with the quantized votes it was taken on, and whether the cache served it."""

    verdict: Verdict
    quantized: tuple[tuple[str, float, float], ...] | None  # None: nobody voted (every vote is 0 @ 0)
    from_cache: bool


class PatternCache:
    """A bounded LRU of the states seen (state keys), with hit and miss counts: a verdict comes from the
    committee's own table of votes, which a hit gives exactly as a miss would."""

    __slots__ = ("_entries", "hits", "max_entries", "misses")

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[object, ...], None] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def seen(self, key: tuple[object, ...]) -> bool:
        """Whether `key` is cached (a hit, counted, and now the most recent); if not, it is cached now (a
        miss, counted), the least recent key going beyond `max_entries`."""
        entries = self._entries
        if key in entries:
            self.hits += 1
            entries.move_to_end(key)
            return True
        self.misses += 1
        entries[key] = None
        if len(entries) > self.max_entries:
            entries.popitem(last=False)
        return False

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class Committee:
    def __init__(
        self,
        weights: Mapping[str, float],
        *,
        quorum: int = 2,
        threshold: float = 0.8,
        cache: PatternCache | None = None,
    ) -> None:
        if quorum < 1:
            raise ValueError("quorum must be at least 1")
        if not 0.0 < threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")
        self.weights = {agent: _weight(agent, w) for agent, w in weights.items()}
        self.quorum = quorum
        self.threshold = threshold
        self._threshold_text = f"{threshold:.2f}"  # as the verdicts' summaries print it
        self.cache = cache
        self._silence = Ballot(self._no_quorum_verdict(0, quorum), None, False)
        self._memo: dict[tuple[tuple[str, ...], float], tuple[Ballot, Ballot]] = {}
        self._no_quorum = [self._no_quorum_verdict(n, quorum) for n in range(quorum)]
        self._vote_records: dict[tuple[str, float, float, str], Vote] = {}  # see record

    @staticmethod
    def _no_quorum_verdict(voters: int, quorum: int) -> Verdict:
        return Verdict(Action.HOLD, 0.0, 0.0, f"no quorum: {voters} of {quorum} agents voted")

    def verdict(self, symbol: str, scores: Sequence[AgentScore], state_key: str) -> Ballot:
        """The committee's verdict on these scores, from the cache when the state repeats."""
        for s in scores:
            if s.confidence != 0.0:
                break
        else:  # nobody voted: no quorum, nothing to quantize
            return self._silence
        # The quantized votes, as the agents' names and one number: each vote is a signal step in
        # -20..20 and a confidence step in 0..20, one of LEVELS pairs (a tuple of floats per agent took
        # longer to hash than to vote on). The steps are rounded as round() does (half to even) by
        # adding and taking away ROUNDER, in a third of the time; the number is a float, exact up to
        # FLOAT_CODE_AGENTS agents, and an int beyond.
        if len(scores) <= FLOAT_CODE_AGENTS:
            code: float = 0.0
            for s in scores:
                code = code * LEVELS + (
                    (s.signal * STEP + ROUNDER - ROUNDER) * 21.0 + (s.confidence * STEP + ROUNDER - ROUNDER)
                )
        else:
            code = 0
            for s in scores:
                code = code * LEVELS + round(s.signal * STEP) * 21 + round(s.confidence * STEP)
        votes = (tuple([s.agent for s in scores]), code)
        ballots = self._memo.get(votes)
        if ballots is None:
            ballots = self._ballots(votes, scores)
        cache = self.cache
        if cache is None:
            return ballots[0]
        return ballots[1] if cache.seen((symbol, state_key, votes)) else ballots[0]

    def _ballots(self, votes: tuple[tuple[str, ...], float], scores: Sequence[AgentScore]) -> tuple[Ballot, Ballot]:
        """The vote on quantized votes not seen yet, taken once and remembered, as a fresh ballot and as the
        pattern cache's: a few thousand distinct votes come back over and over (the pattern cache's key
        also holds the market state, so it misses most of them)."""
        if len(self._memo) >= MEMO_SIZE:
            self._memo.clear()
        quantized = tuple([(s.agent, round(s.signal * STEP) / STEP, round(s.confidence * STEP) / STEP) for s in scores])
        verdict = self._vote(quantized)
        ballots = self._memo[votes] = (Ballot(verdict, quantized, False), Ballot(verdict, quantized, True))
        return ballots

    def record(
        self,
        ballot: Ballot,
        *,
        cycle_id: str,
        symbol: str,
        ts: int,
        scores: Sequence[AgentScore],
        state_key: str,
    ) -> Decision:
        """The audit record of a verdict: every agent's vote, weight and reason."""
        # With the vote stage's types of ids, time and state, every value below is valid by construction,
        # so the records are built as validation would build them, without validating them again (a third
        # of the vote stage's cost on a bar that trades): the quantized votes are the agents' checked
        # scores (AgentScore) rounded within their ranges, the weights were checked and made floats in
        # __init__, the verdict's signal and confidence are clamped by _vote, and the ids, symbol, time and
        # state are checked here. Of other types, every value is validated (pydantic converts them, or
        # refuses them naming the field).
        valid = type(cycle_id) is str and type(symbol) is str and type(ts) is int and type(state_key) is str
        verdict = ballot.verdict
        pairs = zip(ballot.quantized or [(s.agent, 0.0, 0.0) for s in scores], scores, strict=True)
        if valid:
            votes = tuple([self._vote_record(a, sig, conf, s.reason) for (a, sig, conf), s in pairs])
        else:
            votes = tuple(
                Vote(agent=a, signal=sig, confidence=conf, weight=self.weights.get(a, 0.0), reason=s.reason)
                for (a, sig, conf), s in pairs
            )
        fields = {
            "decision_id": f"{symbol}-{ts}",
            "cycle_id": cycle_id,
            "symbol": symbol,
            "ts": ts,
            "action": verdict.action,
            "signal": verdict.signal,
            "confidence": verdict.confidence,
            "votes": votes,
            "reason": verdict.summary + " [pattern cache]" if ballot.from_cache else verdict.summary,
            "market_state": state_key,
            "from_cache": ballot.from_cache,
        }
        return trusted(Decision, fields, set(_DECISION_FIELDS)) if valid else Decision(**fields)

    def _vote_record(self, agent: str, signal: float, confidence: float, reason: str) -> Vote:
        """An agent's vote record, of values valid by construction (see record). The same for the same
        quantized vote and reason (a weight is fixed): made once and shared, as a frozen record may be (a
        sma_cross's few reasons come back on every cross; a reason that carries numbers just misses). The
        numbers are round()'s ints over 20, never -0.0, so equal keys are the same values, sign included."""
        key = (agent, signal, confidence, reason)
        known = self._vote_records
        vote = known.get(key)
        if vote is None:
            if len(known) >= VOTE_RECORDS:
                known.clear()
            vote = known[key] = trusted(
                Vote,
                {
                    "agent": agent,
                    "signal": signal,
                    "confidence": confidence,
                    "weight": self.weights.get(agent, 0.0),
                    "reason": reason,
                },
                {"agent", "signal", "confidence", "weight", "reason"},
            )
        return vote

    def decide(self, *, cycle_id: str, symbol: str, ts: int, scores: Sequence[AgentScore], state_key: str) -> Decision:
        """Verdict and audit record in one call."""
        ballot = self.verdict(symbol, scores, state_key)
        return self.record(ballot, cycle_id=cycle_id, symbol=symbol, ts=ts, scores=scores, state_key=state_key)

    def _vote(self, quantized: Sequence[tuple[str, float, float]]) -> Verdict:
        # The sums are sum() over lists, as they were over generators: the same additions in the same order
        # (whatever sum's float algorithm on this Python), a third faster. The threshold's text is made once.
        weights = self.weights
        voting = [(w, sig, conf) for a, sig, conf in quantized if conf > 0.0 and (w := weights.get(a, 0.0)) > 0]
        if len(voting) < self.quorum:
            return self._no_quorum[len(voting)]
        total_w = sum([w for w, _, _ in voting])
        pull = sum([w * conf * sig for w, sig, conf in voting])
        sure = sum([w * conf for w, _, conf in voting])
        confidence = min(1.0, abs(pull) / total_w)
        signal = max(-1.0, min(1.0, pull / sure))
        if confidence + 1e-12 < self.threshold or pull == 0.0:
            return Verdict(
                Action.HOLD, signal, confidence, f"confidence {confidence:.2f} is below {self._threshold_text}"
            )
        if pull > 0:
            return Verdict(
                Action.BUY, signal, confidence, f"buy with confidence {confidence:.2f} >= {self._threshold_text}"
            )
        return Verdict(
            Action.SELL, signal, confidence, f"sell with confidence {confidence:.2f} >= {self._threshold_text}"
        )


def _weight(agent: str, weight: object) -> float:
    """An agent's weight as a float from 0 up (the audit record's Vote holds it as it is, unvalidated)."""
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0.0 <= weight < float("inf"):
        raise ValueError(f"committee weight of agent {agent!r} must be a number from 0 up, got {weight!r}")
    return float(weight)
