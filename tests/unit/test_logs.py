"""Structured logs: one JSON line per record, the cycle id on every line, secrets never written."""

import io
import json
import logging

from coinswarm.config.settings import Settings
from coinswarm.observability.logs import (
    TRACE_FIELD,
    configure_json_logging,
    cycle_context,
    secret_values,
    trace_id,
)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_severity_cycle_and_trace(monkeypatch) -> None:
    out = io.StringIO()
    handler = configure_json_logging(project="my-proj", stream=out)
    try:
        log = logging.getLogger("coinswarm.test")
        with cycle_context("cycle-1700000060"):
            log.info("placed %s", "cs-BTC-USD-1-b", extra={"symbol": "BTC-USD"})
        log.warning("outside a cycle")
    finally:
        logging.getLogger().removeHandler(handler)
    first, second = lines(out)
    assert first["severity"] == "INFO" and first["message"] == "placed cs-BTC-USD-1-b"
    assert first["cycle_id"] == "cycle-1700000060" and first["symbol"] == "BTC-USD"
    assert first[TRACE_FIELD] == f"projects/my-proj/traces/{trace_id('cycle-1700000060')}"
    assert len(trace_id("x")) == 32 and trace_id("x") == trace_id("x") != trace_id("y")
    assert second["severity"] == "WARNING" and "cycle_id" not in second


def test_secrets_are_redacted_from_message_arguments_and_extras() -> None:
    out = io.StringIO()
    handler = configure_json_logging(secrets=["TOPSECRET-123"], stream=out)
    try:
        log = logging.getLogger("coinswarm.test")
        log.error("key was %s", "TOPSECRET-123", extra={"headers": {"authorization": "Bearer TOPSECRET-123"}})
        try:
            raise RuntimeError("boom TOPSECRET-123")
        except RuntimeError:
            log.exception("failed")
    finally:
        logging.getLogger().removeHandler(handler)
    assert "TOPSECRET-123" not in out.getvalue()
    first, second = lines(out)
    assert "RuntimeError: boom ***" in second["exception"]
    assert first["message"] == "key was ***" and first["headers"] == {"authorization": "Bearer ***"}


def test_secret_values_finds_every_secret_in_the_settings() -> None:
    s = Settings.model_validate(
        {
            "venues": [{"name": "coinbase", "fee_bps": 60, "api_key": "k-1234", "api_secret": "s-5678"}],
            "azure": {"cosmos_key": "c-9999"},
        }
    )
    assert sorted(secret_values(s)) == ["c-9999", "k-1234", "s-5678"]
