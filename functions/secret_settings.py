"""Secret settings read at cold start from the cloud's secret store, never carried in a function's
environment (the Cosmos DB key, the exchange's API key and secret).

Terraform sets `SECRET_SETTINGS` on each function: a JSON object from a setting's dotted path to where
its value is kept, an SSM SecureString parameter on AWS (`{"azure.cosmos_key": "/coinswarm/cosmos-key"}`)
or a Secret Manager version on Google Cloud (`projects/<p>/secrets/cosmos-key/versions/latest`). It is
deliberately not a `COINSWARM_*` variable: it says where secrets are, it is not a setting.

`with_secret_settings(env, fetch)` returns the environment with each of those values added as the
`COINSWARM_*` variable the loader reads, for `load_settings(env=...)`; `fetch(where)` reads one value
(`ssm_fetch(client)`; on Google Cloud `functions.gcp_common.access_secret`). `aws_environment()` is the
whole step on Lambda: the process environment plus what SSM holds (call it once, when the container's App
is built).
Two kinds of path: `<section>.<field>` (`azure.cosmos_key`) and `venues.<index>.<field>` (the venue
list travels whole in `COINSWARM_VENUES`, so the value goes into that list, or into the default list
when the configuration names no venue).
The values become secret settings (SecretStr), which every log line redacts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from coinswarm.errors import CoinswarmError

SECRET_SETTINGS_ENV = "SECRET_SETTINGS"
ENV_PREFIX = "COINSWARM_"
VENUES_ENV = "COINSWARM_VENUES"

Fetch = Callable[[str], str]


class SecretSettingsError(CoinswarmError, RuntimeError):
    """SECRET_SETTINGS cannot be honoured; the message names the setting and where, never a value."""


def with_secret_settings(env: Mapping[str, str], fetch: Fetch) -> dict[str, str]:
    out = dict(env)
    raw = env.get(SECRET_SETTINGS_ENV)
    if not raw:
        return out
    wanted = _wanted(raw)
    for path, where in wanted.items():
        parts = path.split(".")
        value = _fetched(fetch, path, where)
        if len(parts) == 3 and parts[0] == "venues" and parts[1].isdigit() and parts[2]:
            venues = _venues(out.get(VENUES_ENV))
            index = int(parts[1])
            if index >= len(venues):
                raise SecretSettingsError(
                    f"{SECRET_SETTINGS_ENV}: {path} names venue {index}, but the configuration has "
                    f"{len(venues)} venue(s)"
                )
            if not isinstance(venues[index], dict):
                raise SecretSettingsError(
                    f"{VENUES_ENV}: venue {index} is not a JSON object; give each venue as "
                    '{"name": ..., "fee_bps": ...}'
                )
            venues[index][parts[2]] = value
            out[VENUES_ENV] = json.dumps(venues, separators=(",", ":"))
        elif len(parts) == 2 and all(parts):
            out[ENV_PREFIX + "__".join(p.upper() for p in parts)] = json.dumps(value)  # JSON: always a string
        else:
            raise SecretSettingsError(
                f"{SECRET_SETTINGS_ENV}: {path!r} is not a setting path (give <section>.<field>, "
                "e.g. azure.cosmos_key, or venues.<index>.<field>, e.g. venues.0.api_key)"
            )
    return out


def aws_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment (`os.environ` by default) with the secret settings SECRET_SETTINGS names, read from
    SSM in the function's region (and `aws.endpoint_url`, a local stand-in, when set). Without
    SECRET_SETTINGS, the environment as it is, and boto3 is not imported."""
    env = os.environ if env is None else env
    if not env.get(SECRET_SETTINGS_ENV):
        return dict(env)
    import boto3

    region = _plain(env.get("COINSWARM_AWS__REGION")) or env.get("AWS_REGION")
    client = boto3.client("ssm", region_name=region, endpoint_url=_plain(env.get("COINSWARM_AWS__ENDPOINT_URL")))
    return with_secret_settings(env, ssm_fetch(client))


def ssm_fetch(client: Any) -> Fetch:
    """Read an SSM SecureString parameter, decrypted (the function's role may read only its own)."""
    return lambda name: str(client.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])


def _wanted(raw: str) -> dict[str, str]:
    try:
        wanted = json.loads(raw)
    except ValueError:
        wanted = None
    if not isinstance(wanted, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in wanted.items()):
        raise SecretSettingsError(
            f"{SECRET_SETTINGS_ENV} must be a JSON object from a setting to where its secret is kept, "
            'e.g. {"azure.cosmos_key": "/coinswarm/cosmos-key"} (Terraform sets it)'
        )
    return wanted


def _fetched(fetch: Fetch, path: str, where: str) -> str:
    try:
        return fetch(where)
    except Exception as exc:  # the SDK's own error may quote the request; say what and where only
        raise SecretSettingsError(
            f"cannot read the secret setting {path} from {where} ({type(exc).__name__}): check that it exists "
            "and that this function may read it (terraform apply creates both)"
        ) from None


def _venues(raw: str | None) -> list[Any]:
    """The venue list of COINSWARM_VENUES (or the default one). Its errors never quote it: it may
    carry API keys."""
    if not raw:
        return _default_venues()
    venues, problem = None, ""
    try:
        venues = json.loads(raw)
    except json.JSONDecodeError as exc:  # its `doc` is the whole value: raised below, outside this block
        problem = f"{exc.msg.removesuffix(' at')} at line {exc.lineno} column {exc.colno}"
    except ValueError:
        pass
    if problem:
        raise SecretSettingsError(
            f"{VENUES_ENV} is not valid JSON ({problem}); write it as one JSON array, with each line break "
            "inside a string written as \\n"
        )
    if not isinstance(venues, list):
        raise SecretSettingsError(
            f'{VENUES_ENV} must be a JSON array of venues, e.g. [{{"name": "coinbase", "fee_bps": 60}}]'
        )
    return venues


def _plain(value: str | None) -> str | None:
    """A setting's variable as the loader reads it: JSON when it parses (a quoted string), else raw."""
    if not value:
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    return parsed if isinstance(parsed, str) else value


def _default_venues() -> list[dict[str, Any]]:
    from coinswarm.config.settings import Settings

    default = Settings.model_fields["venues"].get_default(call_default_factory=True)
    return [v.model_dump(mode="json", exclude_none=True) for v in default]
