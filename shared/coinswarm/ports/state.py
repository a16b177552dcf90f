"""Hot state: candles, documents with optimistic concurrency (features, paper book, risk day, flags)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from coinswarm.domain.models import Candle
from coinswarm.errors import ConflictError

JSON = dict[str, Any]


@dataclass(slots=True)
class Versioned:
    """A stored document and its version (1 on first write, +1 on every write). Read-only by convention
    (not frozen: reads are on the backtest's hot path, and a frozen dataclass is slower to build)."""

    value: JSON
    version: int


class StateStore(ABC):
    """Hot state shared by the functions of one deployment."""

    @abstractmethod
    def get(self, key: str) -> Versioned | None:
        """The document at `key`, or None when there is none (or it has expired)."""

    @abstractmethod
    def put(self, key: str, value: JSON, *, expected_version: int | None = None, ttl_s: int | None = None) -> int:
        """Write `value` at `key` and return its new version.

        `expected_version=None` writes unconditionally; `0` only if the key does not exist;
        `n` only if the stored version is `n`. Otherwise raises `ConflictError`.
        """

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove `key`; no error if it is absent."""

    @abstractmethod
    def put_candles(self, candles: Sequence[Candle]) -> int:
        """Store candles, keyed by (symbol, timeframe, ts); existing ones are kept. Returns how many were new."""

    @abstractmethod
    def recent_candles(self, symbol: str, timeframe_s: int, limit: int, *, until_ts: int | None = None) -> list[Candle]:
        """The newest `limit` candles with `ts <= until_ts` (all if None), oldest first."""

    @abstractmethod
    def last_candle_ts(self, symbol: str, timeframe_s: int) -> int | None:
        """Open time of the newest stored candle, or None."""


def read_document(store: StateStore, key: str, fresh: Callable[[], JSON]) -> tuple[JSON, int]:
    """The document at `key` as a copy to edit, and its version (0: never written, `fresh()` then)."""
    found = store.get(key)
    if found is None:
        return fresh(), 0
    return dict(found.value), found.version


def update_document(
    store: StateStore,
    key: str,
    fresh: Callable[[], JSON],
    change: Callable[[JSON], bool],
    *,
    retries: int,
    what: str,
    found: Versioned | None = None,
) -> None:
    """Read, change, write back with a version check: `change` edits the document in place and says whether
    to write it; a concurrent write in between reads it again, up to `retries` times, then ConflictError.
    `found`: the document as the caller just read it, the first attempt's (saves reading it twice)."""
    for _ in range(retries):
        if found is not None:
            document, version = dict(found.value), found.version
            found = None
        else:
            document, version = read_document(store, key, fresh)
        if not change(document):
            return
        try:
            store.put(key, document, expected_version=version)
            return
        except ConflictError:
            continue
    raise ConflictError(f"{what} {key}: {retries} concurrent updates in a row; try again")
