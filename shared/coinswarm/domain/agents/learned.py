"""Learned: a gradient-boosted model's forecast of the next `horizon` candles' return, net of a round
trip's fees (docs/agents-learned.md). Trained by `coinswarm train`; the model is a JSON file.

Signal: the forecast over the model's `scale` (the 90th percentile of |forecast| in training), so a
typical strong forecast is a full vote; confidence: the same magnitude. It abstains, saying why,
when the model is missing or unreadable, was trained on other features, was trained for another
candle length, is older than `max_age_days` at the candle being scored (stale), or was trained on
this very candle (in sample: its vote would be hindsight).

The model is read once per process (`coinswarm.learning.artifact`, the only I/O, behind a cache keyed
by the file's path and modification time); the features are computed incrementally
(`coinswarm.learning.features`), so scoring a candle is a few indicator updates and a walk down each tree.
"""

from __future__ import annotations

from typing import Any

from coinswarm.domain.agents.base import EMPTY_VIEW, Agent, MarketView
from coinswarm.domain.models import AgentScore, Candle
from coinswarm.learning.features import FEATURES, WARMUP, Features

DEFAULT_MODEL = "models/learned.json"
_DAY_S = 86_400


class LearnedAgent(Agent):
    name = "learned"
    stateful = ("features",)

    def __init__(self, model: str = DEFAULT_MODEL, max_age_days: float = 30.0, min_edge_bps: float = 0.0) -> None:
        if max_age_days <= 0:
            raise ValueError("learned: max_age_days must be above 0")
        if min_edge_bps < 0:
            raise ValueError("learned: min_edge_bps must be 0 or more")
        self.model_path = model
        self.max_age_s = max_age_days * _DAY_S
        self.min_edge = min_edge_bps / 1e4
        self._loaded: Any = None
        self._forest: Any = None
        self._refusal = ""
        self._load()
        super().__init__()

    def reset(self) -> None:
        self.features = Features()

    def _load(self) -> None:
        from coinswarm.learning.loading import load_model  # the agent's one I/O: reading its model file

        loaded = load_model(self.model_path)
        if isinstance(loaded, str):
            self._refusal = loaded
            return
        artifact, forest = loaded
        if tuple(artifact.features) != FEATURES:
            self._refusal = (
                f"model {artifact.version} was trained on other features ({len(artifact.features)}, "
                f"this agent computes {len(FEATURES)}): retrain with `coinswarm train`"
            )
            return
        self._loaded, self._forest = artifact, forest

    @property
    def model_version(self) -> str:
        return "" if self._loaded is None else str(self._loaded.version)

    def observe(self, candle: Candle, view: MarketView = EMPTY_VIEW) -> AgentScore:
        row = self.features.update(candle)
        artifact = self._loaded
        if artifact is None:
            return self.abstain(self._refusal)
        if candle.timeframe_s != artifact.timeframe_s:
            return self.abstain(
                f"model {artifact.version} is for {artifact.timeframe_s} s candles, these are {candle.timeframe_s} s"
            )
        if candle.ts <= artifact.train_end:
            return self.abstain(f"in sample: model {artifact.version} was trained on this candle's period")
        if candle.ts - artifact.train_end > self.max_age_s:
            return self.abstain(f"stale: model {artifact.version} is older than {self.max_age_s / _DAY_S:g} days")
        if row is None:
            return self.abstain(f"warming up: needs {WARMUP} candles")
        forecast = float(self._forest.predict(row))
        if abs(forecast) <= self.min_edge:
            return self.abstain(f"forecast within the minimum edge of {self.min_edge * 1e4:g} bps")
        strength = forecast / artifact.scale
        return self.score(
            signal=strength,
            confidence=abs(strength),
            reason=f"model {artifact.version}: {forecast * 1e4:+.1f} bps net over {artifact.horizon} candles",
        )


AGENT = LearnedAgent
