"""Secret Manager for the Google Cloud functions: a secret version's payload (`access_secret`, through
the REST API with the function's service account), and the rotating signing secrets of the manual
trade endpoint and the signed push (an environment variable when set, for local runs, else the latest
version; several, comma-separated, during a rotation). Raises `SecretUnavailableError`.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from typing import Any

from coinswarm.config import Settings
from coinswarm.errors import CoinswarmError
from coinswarm.http.signing import rotation

MANUAL_TRADE_SECRET_ENV = "COINSWARM_MANUAL_TRADE_SECRET"
MANUAL_TRADE_SECRET_ID = "manual-trade-secret"
PUSH_SECRET_ID = "push-secret"
SECRET_MANAGER_URL = "https://secretmanager.googleapis.com/v1"


class SecretUnavailableError(CoinswarmError, RuntimeError):
    """Secret Manager did not give the secret: its status, or an answer without a payload."""


def manual_trade_secrets(settings: Settings, env: Mapping[str, str] | None = None, *, session: Any = None) -> list[str]:
    """The manual trade endpoint's signing secrets: COINSWARM_MANUAL_TRADE_SECRET when set (local runs),
    else the latest version of the secret `manual-trade-secret` in Secret Manager."""
    return rotating_secrets(settings, MANUAL_TRADE_SECRET_ENV, MANUAL_TRADE_SECRET_ID, env, session=session)


def rotating_secrets(
    settings: Settings, env_name: str, secret_id: str, env: Mapping[str, str] | None = None, *, session: Any = None
) -> list[str]:
    """Secrets from the environment variable `env_name` when set (local runs), else the latest version
    of `secret_id` in Secret Manager. Several, comma-separated, during a rotation (the first signs,
    any verifies)."""
    env = os.environ if env is None else env
    raw = env.get(env_name) or access_secret(
        f"projects/{settings.gcp.project}/secrets/{secret_id}/versions/latest", session=session
    )
    return rotation(raw)


def access_secret(name: str, *, session: Any = None) -> str:
    """A Secret Manager secret version's payload, through its REST API with the function's service
    account (google-auth, which the Pub/Sub client brings along; no other library)."""
    if session is None:
        import google.auth
        from google.auth.transport.requests import AuthorizedSession

        credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
        session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
    response = session.get(f"{SECRET_MANAGER_URL}/{name}:access", timeout=10)
    if response.status_code != 200:
        raise SecretUnavailableError(f"Secret Manager answered {response.status_code} for {name}")
    try:
        return base64.b64decode(response.json()["payload"]["data"]).decode()
    except (KeyError, TypeError, ValueError):
        raise SecretUnavailableError(f"Secret Manager's answer for {name} carries no payload") from None
