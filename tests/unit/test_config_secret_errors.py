"""No configuration error quotes a secret (issue 10, item 7).

Every path that refuses a configuration is driven here with known secret values (an API key, a PEM
private key with its real line breaks, a Cosmos key) and each output a user or a log could see is
searched for them: the exception's text, its formatted traceback (with its context and cause), and the
CLI's stdout and stderr. pydantic's own ValidationError quotes every input (`input_value=...`), so an
error that kept it, even as its context, would leak."""

from __future__ import annotations

import io
import json
import logging
import traceback
from pathlib import Path
from typing import Any

import pytest

from coinswarm.cli.main import main as cli
from coinswarm.config import ConfigError, load_settings
from coinswarm.config.loader import scrub, validate_settings
from functions.secret_settings import SecretSettingsError, with_secret_settings

API_KEY = "organizations/0c1d/apiKeys/KEY-7f3e9a21-SECRET"
PEM = (
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIBPEMSECRETLINEONEx9k2Jd8aQ1wVbT0c5u3yZr4mNn7pLqAoGCCqGSM49\n"
    "AwEHoUQDQgAEPEMSECRETLINETWOv0hJkLm3nOpQrStUvWxYz0123456789abcdefgh\n"
    "-----END EC PRIVATE KEY-----\n"
)
COSMOS_KEY = "c29zbW9zLWtleS1TRUNSRVQtMDEyMzQ1Njc4OQ=="
SSM_VALUE = "fetched-from-ssm-SECRET-5a5a5a5a"
# what would give any of them away: the whole values and the distinctive parts of each
MARKERS = ("KEY-7f3e9a21", "PEMSECRETLINEONE", "PEMSECRETLINETWO", "SECRET-MDEy", "c29zbW9z", "fetched-from-ssm")


def venue(**extra: object) -> dict[str, object]:
    return {"name": "coinbase", "fee_bps": 60, "api_key": API_KEY, "api_secret": PEM, **extra}


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for marker in MARKERS:
            assert marker not in text, f"{marker!r} appears in:\n{text}"


def everything_about(exc: BaseException) -> str:
    """The exception as any logger or crash report could show it: text, repr, traceback, the chain
    (even a suppressed context) and its arguments."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    parts = ["".join(traceback.format_exception(e)) for e in chain]
    parts += [repr(e) for e in chain] + [repr(a) for e in chain for a in e.args]
    return "\n".join(parts)


ENV_CASES = {
    # the likeliest: a PEM pasted with its real line breaks, which is not JSON
    "invalid JSON (PEM with real line breaks)": (
        f'[{{"name": "coinbase", "fee_bps": 60, "api_key": "{API_KEY}", "api_secret": "{PEM}"}}]',
        "is not valid JSON",
    ),
    "a venue listed twice": (json.dumps([venue(), venue()]), "a venue is listed twice"),
    "a bare string": (API_KEY, "give a list"),
    "a bare PEM": (PEM, "give a list"),
    "an object, not a list": (json.dumps(venue()), "give a list"),
    "a list of strings": (json.dumps([API_KEY, PEM]), "venues.0"),
    "another field of the venue wrong": (json.dumps([venue(fee_bps="sixty")]), "venues.0.fee_bps"),
    "an unknown venue": (json.dumps([venue(name="kraken")]), "venues.0.name"),
    "an unknown field beside the keys": (json.dumps([venue(passphrase=PEM)]), "unknown setting"),
    "a key of the wrong type": (json.dumps([venue(api_key=[API_KEY])]), "venues.0.api_key"),
    "a trailing comma": (json.dumps([venue()])[:-1] + ",]", "is not valid JSON"),
}


@pytest.mark.parametrize(("raw", "says"), list(ENV_CASES.values()), ids=list(ENV_CASES))
def test_a_bad_coinswarm_venues_is_refused_without_quoting_its_keys(raw: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env={"COINSWARM_VENUES": raw})
    assert says in str(caught.value)
    assert "COINSWARM_VENUES" in str(caught.value), "the message says where the value came from"
    assert_no_secret(everything_about(caught.value))


def test_a_short_plain_value_is_still_quoted_so_the_user_sees_the_mistake() -> None:
    with pytest.raises(ConfigError, match=r"venues\.0\.name: .*\(got 'kraken'\)") as caught:
        load_settings(env={"COINSWARM_VENUES": json.dumps([venue(name="kraken")])})
    assert_no_secret(everything_about(caught.value))


def test_other_secret_settings_are_never_quoted_either() -> None:
    cases = [
        {"COINSWARM_AZURE": COSMOS_KEY},  # a section given as a bare string
        {"COINSWARM_AZURE": json.dumps({"cosmos_key": COSMOS_KEY, "cosmos_endpoint": 5})},
        {"COINSWARM_AZURE__COSMOS_KEY": json.dumps([COSMOS_KEY])},
        {"COINSWARM_AZURE__COSMOS_KEY": COSMOS_KEY, "COINSWARM_STORE__HISTORY": "cosmos"},  # no endpoint
        {
            "COINSWARM_MODE": "live",
            "COINSWARM_VENUES": json.dumps([{"name": "coinbase", "fee_bps": 1, "api_key": API_KEY}]),
        },
    ]
    for env in cases:
        with pytest.raises(ConfigError) as caught:
            load_settings(env=env)
        assert_no_secret(everything_about(caught.value))


def test_a_configuration_file_with_a_venue_twice_does_not_quote_its_keys(tmp_path: Path) -> None:
    table = f'[[venues]]\nname = "coinbase"\nfee_bps = 60\napi_key = "{API_KEY}"\napi_secret = """\n{PEM}"""\n'
    f = tmp_path / "c.toml"
    f.write_text(table + table)
    with pytest.raises(ConfigError, match="a venue is listed twice") as caught:
        load_settings(f, env={})
    assert_no_secret(everything_about(caught.value))
    broken = tmp_path / "broken.toml"  # a PEM in a one-line string: not TOML
    broken.write_text(f'[[venues]]\nname = "coinbase"\nfee_bps = 60\napi_secret = "{PEM}"\n')
    with pytest.raises(ConfigError, match="is not valid TOML") as caught:
        load_settings(broken, env={})
    assert_no_secret(everything_about(caught.value))


def test_validating_settings_from_data_quotes_no_secret_and_keeps_no_pydantic_error() -> None:
    with pytest.raises(ConfigError) as caught:
        validate_settings({"venues": [venue(), venue()], "symbols": ["mydata"]})
    text = str(caught.value)
    assert "a venue is listed twice" in text and "'mydata' is not a symbol" in text
    assert caught.value.__context__ is None and caught.value.__cause__ is None
    assert "input_value" not in everything_about(caught.value)
    assert_no_secret(everything_about(caught.value))


def test_scrub_masks_a_secret_however_it_was_quoted() -> None:
    text = f"a {PEM!r} b {json.dumps(PEM)} c {PEM} d {PEM.splitlines()[1]}"
    assert_no_secret(scrub(text, [PEM]))


# -- functions/secret_settings.py: the secrets fetched at cold start ---------------------------------


def fetch(where: str) -> str:
    return SSM_VALUE


@pytest.mark.parametrize(
    ("venues", "says"),
    [
        (f'[{{"name": "coinbase", "fee_bps": 60, "api_secret": "{PEM}"}}]', "COINSWARM_VENUES is not valid JSON"),
        (json.dumps(API_KEY), "must be a JSON array of venues"),
        (json.dumps([API_KEY]), "venue 0 is not a JSON object"),
    ],
    ids=["invalid JSON", "a bare string", "a list of strings"],
)
def test_secret_settings_refuse_a_bad_venue_list_without_quoting_it(venues: str, says: str) -> None:
    env = {"COINSWARM_VENUES": venues, "SECRET_SETTINGS": json.dumps({"venues.0.api_key": "/p/api-key"})}
    with pytest.raises(SecretSettingsError, match=says) as caught:
        with_secret_settings(env, fetch)
    assert_no_secret(everything_about(caught.value))


def test_a_fetched_secret_in_a_configuration_refused_later_is_not_quoted() -> None:
    env = {
        "COINSWARM_VENUES": json.dumps([{"name": "binance", "fee_bps": 10}, {"name": "binance", "fee_bps": 10}]),
        "SECRET_SETTINGS": json.dumps({"venues.0.api_key": "/p/k", "venues.1.api_secret": "/p/s"}),
    }
    with pytest.raises(ConfigError, match="a venue is listed twice") as caught:
        load_settings(env=with_secret_settings(env, fetch))
    assert_no_secret(everything_about(caught.value))


# -- the command line: what it prints ---------------------------------------------------------------

COMMANDS: list[list[str]] = [["config", "show"], ["status"], ["budget"], ["run", "--cycles", "1"]]


@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(a) for a in COMMANDS])
@pytest.mark.parametrize("raw", [v for v, _ in ENV_CASES.values()][:4], ids=list(ENV_CASES)[:4])
def test_the_cli_prints_the_problem_and_no_secret(
    argv: list[str],
    raw: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COINSWARM_VENUES", raw)
    code = cli(argv)
    out, err = capsys.readouterr()
    assert code == 2, err
    assert "invalid configuration" in err or "is not valid JSON" in err, err
    assert_no_secret(out, err)


# -- a cloud function's cold start: what its logs say -----------------------------------------------


def test_a_lambda_that_cannot_load_its_configuration_logs_the_problem_and_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("aws_lambda_powertools", reason="aws-lambda-powertools is not installed (.[aws])")
    from coinswarm.http.json_http import HttpRequest
    from coinswarm.wiring.cloud import reset_container_app
    from function_url import function_url
    from functions.manual_trade import aws as manual_trade

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COINSWARM_VENUES", json.dumps([venue(), venue()]))
    monkeypatch.setenv("COINSWARM_MANUAL_TRADE_SECRET", "manual-trade-secret-FAKE-0000000000")
    handler: logging.StreamHandler[Any] = manual_trade.function.logger.registered_handler
    log = io.StringIO()
    earlier = handler.setStream(log)  # the function's own log stream (stdout in Lambda)
    reset_container_app()
    try:
        answer = function_url(manual_trade.handler)(HttpRequest("POST", "/", {}, b"{}"))
    finally:
        reset_container_app()
        if earlier is not None:
            handler.setStream(earlier)
    out, err = capfd.readouterr()
    assert answer.status == 500 and "see the function's logs" in answer.body["detail"]
    assert "a venue is listed twice" in log.getvalue(), "the log says what is wrong"
    assert_no_secret(log.getvalue(), out, err, json.dumps(answer.body))
