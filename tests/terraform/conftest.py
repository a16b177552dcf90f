"""The Terraform checks' fixtures: terraform (with the local aws provider mirror) and checkov, each found or
reported missing through `servers.missing`, and an initialised copy of the AWS example.

Terraform writes provider caches, lock files and state where it runs, so every command runs in a copy
of terraform/ under the test's tmp dir: nothing is ever left in the repository.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from servers import missing
from servers.moto import _SERIALISED_MOTO, serve_moto
from servers.terraform import (
    AWS_EXAMPLE,
    CHECKOV_CANDIDATES,
    MIRROR_CANDIDATES,
    MIRROR_ENV,
    STANDIN_CONFIG,
    STANDIN_SOURCE,
    Terraform,
    copy_tree,
    provider_mirror,
    trimmed_standin,
)


@pytest.fixture(scope="session")
def terraform(tmp_path_factory: pytest.TempPathFactory) -> Terraform:
    binary = shutil.which("terraform")
    if binary is None:
        missing("terraform is not installed (https://developer.hashicorp.com/terraform/install)")
    mirror = provider_mirror()
    if mirror is None:
        missing(
            f"no local mirror of the hashicorp/aws provider (looked in {MIRROR_ENV} and "
            f"{', '.join(map(str, MIRROR_CANDIDATES))}); make one with `terraform providers mirror DIR`"
        )
    config = tmp_path_factory.mktemp("terraform-cli") / "terraform.rc"
    config.write_text(
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path    = "{mirror}"\n'
        '    include = ["registry.terraform.io/hashicorp/aws"]\n  }\n'
        '  direct {\n    exclude = ["registry.terraform.io/hashicorp/aws"]\n  }\n'
        "}\n"
    )
    return Terraform(binary, config)


@pytest.fixture(scope="session")
def aws_example(terraform: Terraform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A copy of terraform/ with the AWS example initialised from the mirror; its directory."""
    # the AWS module reads the Step Functions template from ../workflows (chain "workflow")
    workdir = copy_tree(tmp_path_factory.mktemp("terraform")) / AWS_EXAMPLE
    terraform.run(workdir, "init", "-backend=false")
    yield workdir


@pytest.fixture(scope="session")
def standin_terraform(tmp_path_factory: pytest.TempPathFactory) -> Terraform:
    """terraform with the stand-in providers (real schemas; validate and plan, no apply) for all three clouds."""
    binary = shutil.which("terraform")
    if binary is None:
        missing("terraform is not installed (https://developer.hashicorp.com/terraform/install)")
    if not (STANDIN_SOURCE / "setup.sh").is_file():
        missing(
            f"the stand-in Terraform providers are not in {STANDIN_SOURCE} (the shared folder beside the project): "
            "without them no Google Cloud or Azure module can be validated or planned offline"
        )
    if not STANDIN_CONFIG.is_file():
        missing(
            "the stand-in Terraform providers are not set up: run `make servers` (scripts/setup-terraform-standin.sh)"
        )
    return Terraform(binary, trimmed_standin(tmp_path_factory.mktemp("terraform-standin")))


@pytest.fixture(scope="session")
def checkov() -> str:
    for candidate in CHECKOV_CANDIDATES:
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("checkov")
    if found is None:
        missing("checkov is not installed (`make servers` installs it into .servers/checkov)")
    return found


# moto has no ValidateStateMachineDefinition, which the aws provider calls while planning a state machine
# (and retries 25 times on moto's 500), nor ListStateMachineVersions, which it calls after creating one.
# This answers the first the way Step Functions does for a definition that parses as JSON with StartAt
# and States, refusing anything else (the definition itself is executed on moto's engine by
# tests/integration/test_step_functions_cycle.py), and the second with no versions (none is published).
# Everything else is moto's.
_VALIDATING_MOTO = (
    """
import json
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

_moto = DomainDispatcherApplication.__call__


def _answer(start_response, answer):
    start_response("200 OK", [("Content-Type", "application/x-amz-json-1.0")])
    return [json.dumps(answer).encode()]


def _validating(self, environ, start_response):
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target == "AWSStepFunctions.ListStateMachineVersions":
        return _answer(start_response, {"stateMachineVersions": []})
    if target != "AWSStepFunctions.ValidateStateMachineDefinition":
        return _moto(self, environ, start_response)
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    try:
        definition = json.loads(json.loads(body)["definition"])
        ok = isinstance(definition.get("States"), dict) and definition.get("StartAt") in definition["States"]
    except (ValueError, KeyError, AttributeError):
        ok = False
    failed = {"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "message": "not ASL"}
    return _answer(start_response, {"result": "OK" if ok else "FAIL", "diagnostics": [] if ok else [failed]})


DomainDispatcherApplication.__call__ = _validating
"""
    + _SERIALISED_MOTO
)


@pytest.fixture(scope="session")
def sfn_moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto server that also answers ValidateStateMachineDefinition (see above); its endpoint URL."""
    yield from serve_moto(_VALIDATING_MOTO, tmp_path_factory.mktemp("moto-sfn") / "server.log")
