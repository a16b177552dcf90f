"""The model artifact: one JSON file, versioned, checked, and small enough to ship in a function.

Contract: `ModelArtifact` holds the forest (coinswarm.learning.forest), the feature names it was
trained on (in order), the label's horizon and fees, the training window (first and last candle
open time whose label was learned), the walk-forward metrics and a `checksum`: the SHA-256 of the
canonical JSON of everything else. `dumps()` writes it; `loads(text)` refuses (ArtifactError, saying
what is wrong) a file that is not an artifact, has another format version, or whose checksum does not
match its content. `version` is the first 12 hex digits of the checksum: it names the model in the
agent's reasons and in episodes. Standard library only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coinswarm.learning.forest import Forest, ForestError

FORMAT = "coinswarm-model"
FORMAT_VERSION = 1


class ArtifactError(ValueError):
    """A model file that cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class ModelArtifact:
    features: tuple[str, ...]
    horizon: int  # candles ahead the label looks
    fee_bps: float  # one side's fee, twice of which the label is net of
    timeframe_s: int
    train_start: int  # open time of the first candle whose label was learned
    train_end: int  # open time of the last such candle (its label reached `horizon` candles further)
    scale: float  # a prediction of this size is a full signal (the 90th percentile of |prediction| in training)
    forest: dict[str, Any]
    algorithm: str = "sklearn.ensemble.HistGradientBoostingRegressor"
    metrics: dict[str, Any] = field(default_factory=dict)
    symbols: tuple[str, ...] = ()
    checksum: str = ""

    def body(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "algorithm": self.algorithm,
            "features": list(self.features),
            "horizon": self.horizon,
            "fee_bps": self.fee_bps,
            "timeframe_s": self.timeframe_s,
            "train_start": self.train_start,
            "train_end": self.train_end,
            "scale": self.scale,
            "symbols": list(self.symbols),
            "metrics": self.metrics,
            "forest": self.forest,
        }

    @property
    def version(self) -> str:
        return self.checksum[:12]

    def sealed(self) -> ModelArtifact:
        """This artifact with its checksum computed."""
        return ModelArtifact(**{**self.__dict__, "checksum": _checksum(self.body())})

    def dumps(self) -> str:
        sealed = self if self.checksum else self.sealed()
        return json.dumps({**sealed.body(), "checksum": sealed.checksum}, separators=(",", ":"))

    def write(self, path: str | Path) -> Path:
        """Write atomically (a temporary file renamed over the target): a reader never sees half a model."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(self.dumps(), encoding="utf-8")
        tmp.replace(target)
        return target

    def load_forest(self) -> Forest:
        try:
            return Forest.from_json(self.forest)
        except ForestError as exc:
            raise ArtifactError(f"model {self.version}: {exc}") from None


def loads(text: str, *, where: str = "the model") -> ModelArtifact:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{where} is not JSON ({exc}): retrain with `coinswarm train`") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ArtifactError(f"{where} is not a Coinswarm model (no format {FORMAT!r})")
    if data.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(
            f"{where} has format version {data.get('format_version')!r}, this Coinswarm reads {FORMAT_VERSION}: "
            "retrain with `coinswarm train`"
        )
    checksum = data.pop("checksum", "")
    if _checksum(data) != checksum:
        raise ArtifactError(f"{where}: its checksum does not match its content (changed or truncated); retrain it")
    try:
        return ModelArtifact(
            features=tuple(data["features"]),
            horizon=int(data["horizon"]),
            fee_bps=float(data["fee_bps"]),
            timeframe_s=int(data["timeframe_s"]),
            train_start=int(data["train_start"]),
            train_end=int(data["train_end"]),
            scale=float(data["scale"]),
            forest=data["forest"],
            algorithm=str(data["algorithm"]),
            metrics=dict(data["metrics"]),
            symbols=tuple(data["symbols"]),
            checksum=checksum,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"{where} lacks a field or has a wrong one: {exc}") from None


def read(path: str | Path) -> ModelArtifact:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ArtifactError(f"no model file {p} (train one with `coinswarm train FILES... --out {p}`)") from None
    except OSError as exc:
        raise ArtifactError(f"cannot read {p}: {exc.strerror}") from None
    return loads(text, where=str(p))


def _checksum(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
