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
from servers.terraform import (
    AWS_EXAMPLE,
    CHECKOV_CANDIDATES,
    MIRROR_CANDIDATES,
    MIRROR_ENV,
    TERRAFORM_DIR,
    Terraform,
    provider_mirror,
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
    tree = tmp_path_factory.mktemp("terraform") / "terraform"
    shutil.copytree(
        TERRAFORM_DIR, tree, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "*.auto.tfvars.json")
    )
    workdir = tree / AWS_EXAMPLE
    terraform.run(workdir, "init", "-backend=false")
    yield workdir


@pytest.fixture(scope="session")
def checkov() -> str:
    for candidate in CHECKOV_CANDIDATES:
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("checkov")
    if found is None:
        missing("checkov is not installed (`make servers` installs it into .servers/checkov)")
    return found
