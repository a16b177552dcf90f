"""The manual trade endpoint's OpenAPI 3.1 description, `openapi()` (or `OPENAPI`): built on first use,
never at import (only tools and tests read it)."""

from __future__ import annotations

import functools
from typing import Any

from coinswarm.http.json_http import JSON_TYPE
from coinswarm.http.manual_request import request_validator
from coinswarm.http.manual_trade import MAX_BODY_BYTES
from coinswarm.http.owner_actions import OWNER_ACTION_DONE
from coinswarm.http.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER


@functools.cache
@functools.cache
def openapi() -> dict[str, Any]:
    """The endpoint's OpenAPI 3.1 description (built once, on first use; treat it as read-only)."""
    request_schema = request_validator().json_schema(ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = dict(request_schema.pop("$defs", {}))
    schemas["ManualRequest"] = request_schema
    schemas["Error"] = {
        "type": "object",
        "required": ["error", "detail"],
        "properties": {
            "error": {"type": "string", "description": "a short, stable code"},
            "detail": {"type": "string", "description": "what was wrong and what to do"},
            "fields": {
                "type": "array",
                "description": "with invalid_request: each field in error (values are never echoed)",
                "items": {
                    "type": "object",
                    "required": ["loc", "msg", "type"],
                    "properties": {"loc": {"type": "string"}, "msg": {"type": "string"}, "type": {"type": "string"}},
                },
            },
            "client_order_id": {"type": "string"},
        },
    }
    schemas["Placed"] = {
        "type": "object",
        "required": ["client_order_id", "status", "symbol", "side", "duplicate"],
        "properties": {
            "client_order_id": {"type": "string", "description": "the order's id at the broker"},
            "status": {"type": "string", "enum": ["pending", "filled", "rejected", "cancelled"]},
            "symbol": {"type": "string"},
            "side": {"type": "string", "enum": ["buy", "sell"]},
            "notional": {"type": ["number", "null"]},
            "quantity": {"type": ["number", "null"]},
            "reference_price": {
                "type": "number",
                "description": "the latest stored close the trade was sized at (not on a repeat)",
            },
            "duplicate": {"type": "boolean", "description": "true: this client_id's order, placed earlier"},
            "note": {"type": "string"},
        },
    }
    schemas["OwnerActionDone"] = OWNER_ACTION_DONE
    schemas["CycleRun"] = {
        "type": "object",
        "required": ["action", "result"],
        "properties": {"action": {"const": "run_cycle"}, "result": {"type": "object"}},
    }

    def error(description: str) -> dict[str, Any]:
        return {
            "description": description,
            "content": {JSON_TYPE: {"schema": {"$ref": "#/components/schemas/Error"}}},
        }

    def ok(description: str, schema: str) -> dict[str, Any]:
        return {
            "description": description,
            "content": {JSON_TYPE: {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        }

    header = {"required": False, "schema": {"type": "string"}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Coinswarm manual trade endpoint",
            "version": "1",
            "description": (
                "Place a paper (or, when configured, live) trade by hand, or run a trading cycle now. Every "
                "trade passes the same risk checks as the committee's. Sign each request: "
                f"{TIMESTAMP_HEADER} is the unix time in seconds, {SIGNATURE_HEADER} is "
                '"v1=" + hex(HMAC-SHA256(secret, f"{timestamp}.{METHOD}.{path}.".encode() + body)); '
                "requests older or newer than 300 s, or seen before, are refused. Or, where configured, "
                "send Authorization: Bearer <token>."
            ),
        },
        "paths": {
            "/": {
                "post": {
                    "operationId": "manualTrade",
                    "summary": "Trade by hand, or run a cycle now",
                    "parameters": [
                        {
                            "name": TIMESTAMP_HEADER,
                            "in": "header",
                            **header,
                            "description": "unix seconds (signed requests)",
                        },
                        {
                            "name": SIGNATURE_HEADER,
                            "in": "header",
                            **header,
                            "description": "v1=<hex hmac-sha256> (signed requests)",
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            JSON_TYPE: {
                                "schema": {"$ref": "#/components/schemas/ManualRequest"},
                                "examples": {
                                    "buy": {
                                        "value": {
                                            "action": "trade",
                                            "symbol": "BTC-USD",
                                            "side": "buy",
                                            "notional": 100.0,
                                            "client_id": "my-buy-1",
                                        }
                                    },
                                    "sell": {
                                        "value": {
                                            "action": "trade",
                                            "symbol": "BTC-USD",
                                            "side": "sell",
                                            "quantity": 0.01,
                                        }
                                    },
                                    "run_cycle": {"value": {"action": "run_cycle"}},
                                },
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "a repeat of a trade placed earlier with this client_id (the same "
                            "order), or what an owner's action (pause, resume, kill_switch, flatten) did",
                            "content": {
                                JSON_TYPE: {
                                    "schema": {
                                        "oneOf": [
                                            {"$ref": "#/components/schemas/Placed"},
                                            {"$ref": "#/components/schemas/OwnerActionDone"},
                                        ]
                                    }
                                }
                            },
                        },
                        "202": {
                            "description": "the order is placed (it fills at the next price seen), or the cycle ran",
                            "content": {
                                JSON_TYPE: {
                                    "schema": {
                                        "oneOf": [
                                            {"$ref": "#/components/schemas/Placed"},
                                            {"$ref": "#/components/schemas/CycleRun"},
                                        ]
                                    }
                                }
                            },
                        },
                        "400": error("invalid_json: the body is not JSON"),
                        "401": error("unauthorized: missing, stale, replayed or wrong credentials"),
                        "405": error("method_not_allowed: only POST"),
                        "409": error("already_handled or client_id_conflict: use a new client_id"),
                        "413": error(
                            f"body_too_large: over the limit ({MAX_BODY_BYTES} bytes unless configured otherwise)"
                        ),
                        "415": error("unsupported_media_type: send Content-Type: application/json"),
                        "422": error("invalid_request, unknown_symbol, too_large or refused_by_risk"),
                        "500": error("internal_error: nothing wrong with the request that we know of"),
                        "501": error("not_available: this deployment wires no owner controls"),
                        "503": error(
                            "busy: the store is contended; retry with the same client_id. market_data_unavailable: "
                            "run_cycle could not read the market data (the detail says why); retry later"
                        ),
                    },
                    "security": [{"signature": []}, {"bearer": []}],
                }
            }
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "signature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": SIGNATURE_HEADER,
                    "description": f"HMAC-SHA256 request signature, with {TIMESTAMP_HEADER} (see info.description)",
                },
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }


def __getattr__(name: str) -> Any:
    """`OPENAPI`, the description, made when first asked for rather than at import."""
    if name == "OPENAPI":
        return openapi()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
