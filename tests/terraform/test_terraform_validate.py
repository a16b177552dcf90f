"""`terraform validate` of every Terraform root and module in the repository against the real schemas of
hashicorp/aws, google and azurerm (the stand-in providers): every argument, block, type and required
flag checked as the real providers would."""

from __future__ import annotations

from pathlib import Path

import pytest

from servers.terraform import ROOT, TERRAFORM_DIR, Terraform, all_modules, copy_tree


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_tree(tmp_path_factory.mktemp("validate"))


def test_every_root_and_module_is_found() -> None:
    found = {str(m.relative_to(TERRAFORM_DIR)) for m in all_modules()}
    assert {".", "modules/aws", "modules/gcp", "modules/azure", "examples/aws-only"} <= found


@pytest.mark.parametrize("module", all_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_terraform_validate_passes(standin_terraform: Terraform, tree: Path, module: Path) -> None:
    workdir = tree / module.relative_to(TERRAFORM_DIR)
    standin_terraform.run(workdir, "init", "-backend=false", "-input=false")
    done = standin_terraform.run(workdir, "validate")
    assert "The configuration is valid" in done.stdout
