"""The search space of `coinswarm optimize`: which settings a trial varies, over which ranges.

Contract: `search_space(settings)` is `[optimize.space]` when given, else `default_space(settings)`: the
built-in agents that have a weight (their main parameters), the committee's weights, threshold and
quorum, the exits and the buy size. A dimension is a dotted path into the configuration
(`agents.trend.fast`, `committee.weights.trend`, `exits.stop_loss_pct`), so any agent parameter, a
user's agent's included, can be searched. `suggest(trial, space)` draws one value per path;
`with_params(settings, params)` is the configuration with them set, validated like a file's (a
combination the configuration refuses raises `InvalidParamsError`, and the trial is pruned).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from coinswarm.config.loader import explain
from coinswarm.config.settings import SearchRange, Settings

Space = dict[str, SearchRange]

#: The main parameters of each built-in agent; ranges that never cross (fast < slow, oversold <
#: overbought), so every draw builds.
AGENT_RANGES: dict[str, dict[str, SearchRange]] = {
    "trend": {
        "fast": SearchRange(low=5, high=50),
        "slow": SearchRange(low=60, high=300),
        "full_spread": SearchRange(low=0.25, high=4.0, log=True),
    },
    "mean_reversion": {
        "period": SearchRange(low=10, high=60),
        "k": SearchRange(low=1.0, high=3.0),
        "oversold": SearchRange(low=20.0, high=45.0),
        "overbought": SearchRange(low=55.0, high=80.0),
    },
    "arbitrage": {
        "min_edge_bps": SearchRange(low=2.0, high=40.0),
        "full_edge_bps": SearchRange(low=50.0, high=200.0),
    },
    "sma_cross": {"fast": SearchRange(low=3, high=30), "slow": SearchRange(low=35, high=200)},
}

#: The exit rules of `[exits]` (docs/exits.md): the stop-loss always (it is on by default), a take-profit
#: at any time held (`roi` from minute 0), and a trailing stop and a longest hold that may be off.
EXIT_RANGES: dict[str, SearchRange] = {
    "stop_loss_pct": SearchRange(low=1.0, high=20.0),
    "roi.0": SearchRange(low=0.5, high=15.0),
    "trailing_stop_pct": SearchRange(choices=["off", 1.0, 2.0, 3.0, 5.0, 8.0]),
    "max_hold_minutes": SearchRange(choices=["off", 60, 240, 720, 1440, 2880]),
}


class InvalidParamsError(ValueError):
    """Parameters the configuration refuses (the message says which setting and why)."""


def default_space(settings: Settings) -> Space:
    active = [name for name, w in settings.committee.weights.items() if w > 0]
    space: Space = {}
    for name in active:
        for param, rng in AGENT_RANGES.get(name, {}).items():
            space[f"agents.{name}.{param}"] = rng
    if len(active) > 1:
        for name in active:
            space[f"committee.weights.{name}"] = SearchRange(low=0.1, high=2.0)
        space["committee.quorum"] = SearchRange(low=1, high=len(active))
    space["committee.threshold"] = SearchRange(low=0.3, high=1.0)
    for param, rng in EXIT_RANGES.items():
        space[f"exits.{param}"] = rng
    space["sizing.buy_fraction"] = SearchRange(low=0.05, high=1.0)
    return space


def search_space(settings: Settings) -> Space:
    return dict(settings.optimize.space) or default_space(settings)


def suggest(trial: Any, space: Mapping[str, SearchRange]) -> dict[str, Any]:
    """One value per dimension, drawn by an optuna trial."""
    out: dict[str, Any] = {}
    for path, rng in space.items():
        if rng.choices is not None:
            out[path] = trial.suggest_categorical(path, rng.choices)
        elif rng.integer:
            assert isinstance(rng.low, int) and isinstance(rng.high, int)
            step = int(rng.step) if rng.step is not None else 1
            out[path] = trial.suggest_int(path, rng.low, rng.high, step=step, log=rng.log)
        else:
            assert rng.low is not None and rng.high is not None
            out[path] = trial.suggest_float(
                path, float(rng.low), float(rng.high), step=None if rng.step is None else float(rng.step), log=rng.log
            )
    return out


def split_path(path: str) -> list[str]:
    """A dotted path's parts; an agent's name may itself hold dots (`package.module:Class`):
    `agents.NAME.PARAM` and `committee.weights.NAME` keep it whole."""
    if path.startswith("agents.") and path.count(".") >= 2:
        name, _, param = path[len("agents.") :].rpartition(".")
        return ["agents", name, param]
    if path.startswith("committee.weights."):
        return ["committee", "weights", path[len("committee.weights.") :]]
    return path.split(".")


def with_params(settings: Settings, params: Mapping[str, Any]) -> Settings:
    """`settings` with each dotted path set to its value; `InvalidParamsError` naming the setting at fault."""
    data = settings.model_dump()
    for path, value in params.items():
        parts = split_path(path)
        node = data
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise InvalidParamsError(f"optimize.space: {path!r}: {part} is not a section of the configuration")
            node = child
        node[parts[-1]] = value
        if parts == ["sizing", "buy_fraction"]:
            data["sizing"]["buy_notional"] = None  # one buy size: the searched fraction replaces the notional
        elif parts == ["sizing", "buy_notional"]:
            data["sizing"]["buy_fraction"] = None
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise InvalidParamsError(explain(exc)) from None


def nested(params: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted paths as nested tables: {"agents.trend.fast": 9} -> {"agents": {"trend": {"fast": 9}}}."""
    out: dict[str, Any] = {}
    for path, value in params.items():
        *parents, leaf = split_path(path)
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out
