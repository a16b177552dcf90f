"""Structured logging for the functions.

* `cycle_context(cycle_id)` binds the cycle id for everything logged inside it (a contextvar, so
  threads and asyncio tasks keep their own).
* `JsonLineFormatter` writes one JSON object per line with `severity`, `message`, `time`, `logger`,
  `cycle_id`, any `extra` fields, and Cloud Logging's `logging.googleapis.com/trace` field (derived
  from the cycle id), so the Logs Explorer groups a cycle's lines. AWS entry points use
  aws-lambda-powertools' Logger with the same cycle id as its correlation id.
* `SecretRedactor` is a logging filter that replaces every configured secret value with `***`
  in the message, the arguments and the extra fields, wherever a line comes from.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

CYCLE_ID: contextvars.ContextVar[str] = contextvars.ContextVar("coinswarm_cycle_id", default="")
TRACE_FIELD = "logging.googleapis.com/trace"
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


@contextmanager
def cycle_context(cycle_id: str) -> Iterator[None]:
    token = CYCLE_ID.set(cycle_id)
    try:
        yield
    finally:
        CYCLE_ID.reset(token)


def trace_id(cycle_id: str) -> str:
    """A stable 32-hex trace id for a cycle id (what Cloud Logging groups lines by)."""
    return hashlib.sha256(cycle_id.encode()).hexdigest()[:32]


class JsonLineFormatter(logging.Formatter):
    def __init__(self, project: str = "") -> None:
        super().__init__()
        self.project = project

    def format(self, record: logging.LogRecord) -> str:
        cycle = getattr(record, "cycle_id", "") or CYCLE_ID.get()
        line: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        if cycle:
            line["cycle_id"] = cycle
            if self.project:
                line[TRACE_FIELD] = f"projects/{self.project}/traces/{trace_id(cycle)}"
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in line and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, default=str)


class SecretRedactor(logging.Filter):
    """Replaces each secret value with *** in everything a record carries."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self.secrets:
                value = value.replace(secret, "***")
            return value
        if isinstance(value, dict):
            return {k: self._clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self._clean(v) for v in value)
        return value

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        record.msg = self._clean(record.getMessage())
        record.args = None
        if record.exc_info:  # a secret inside an exception's message would reach the traceback
            record.exc_text = self._clean(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD:
                setattr(record, key, self._clean(value))
        return True


def secret_values(settings: Any) -> list[str]:
    """Every SecretStr value in a settings model (venue keys, the Cosmos key, ...)."""
    from pydantic import BaseModel, SecretStr

    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, SecretStr):
            found.append(node.get_secret_value())
        elif isinstance(node, BaseModel):
            for name in type(node).model_fields:
                walk(getattr(node, name))
        elif isinstance(node, list | tuple):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for item in node.values():
                walk(item)

    walk(settings)
    return found


def configure_json_logging(
    *, level: int = logging.INFO, project: str = "", secrets: Iterable[str] = (), stream: Any = None
) -> logging.Handler:
    """Route the root logger to one JSON line per record on `stream` (stdout), secrets redacted."""
    import sys

    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonLineFormatter(project))
    handler.addFilter(SecretRedactor(secrets))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_coinswarm", False)]:
        root.removeHandler(old)
    handler._coinswarm = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    return handler
