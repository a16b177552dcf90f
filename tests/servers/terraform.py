"""Terraform as a tool for the tests: the binary with a CLI configuration that installs hashicorp/aws from the
local mirror (apply against moto), the stand-in providers of all three clouds (validate and plan, their
schemas trimmed to the types terraform/ declares), where checkov is, and terraform/ parsed with
python-hcl2 (tests/terraform uses these)."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = ROOT / "terraform"
AWS_EXAMPLE = "examples/aws-only"
MIRROR_ENV = "COINSWARM_TF_PROVIDER_MIRROR"
# Where the hashicorp/aws provider mirror is looked for (the first that holds it), after $COINSWARM_TF_PROVIDER_MIRROR.
MIRROR_CANDIDATES = (
    Path("/opt/tf-plugins"),
    Path.home() / ".terraform.d" / "plugins",
    Path("/usr/share/terraform/plugins"),
    Path("/usr/local/share/terraform/plugins"),
)
# The stand-in providers (real schemas of hashicorp/google, azurerm and aws; validate and plan only), kept
# beside the project, and the mirror scripts/setup-terraform-standin.sh builds from them.
STANDIN_SOURCE = ROOT.parent / "shared" / "tools" / "terraform-standin"
STANDIN_CONFIG = ROOT / ".servers" / "terraform-standin.tfrc"
CHECKOV_CANDIDATES = (ROOT / ".servers" / "checkov" / "bin" / "checkov", ROOT / ".venv" / "bin" / "checkov")
COMMAND_TIMEOUT_S = 300


@dataclass(frozen=True)
class Terraform:
    """terraform with a CLI configuration that installs hashicorp/aws from the local mirror only."""

    binary: str
    cli_config: Path

    def run(
        self, workdir: Path, *args: str, timeout_s: float = COMMAND_TIMEOUT_S, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """terraform -chdir=workdir ARGS; a failure fails the test (with check=False, the caller looks)."""
        env = {
            **os.environ,
            "TF_CLI_CONFIG_FILE": str(self.cli_config),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",  # no version check over the network
        }
        for name in ("TF_DATA_DIR", "TF_WORKSPACE", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            env.pop(name, None)
        done = subprocess.run(
            [self.binary, f"-chdir={workdir}", *args, "-no-color"],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if check and done.returncode != 0:
            pytest.fail(
                f"terraform {' '.join(args)} failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
            )
        return done


def copy_tree(into: Path) -> Path:
    """A copy of terraform/ (and the workflows/ its modules read) under `into`, without local state or
    provider caches: Terraform writes where it runs, never in the repository. The copy's terraform/."""
    tree = into / "terraform"
    shutil.copytree(
        TERRAFORM_DIR, tree, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "*.auto.tfvars.json")
    )
    shutil.copytree(TERRAFORM_DIR.parent / "workflows", into / "workflows")
    return tree


def trimmed_standin(into: Path) -> Path:
    """A copy of the stand-in mirror whose schemas hold only the resource and data source types terraform/
    declares, exactly as the full schemas give them; its CLI configuration. Terraform reads a provider's
    whole schema at each start (15 MB for aws: most of a plan's time); an undeclared type changes nothing,
    and a misspelt one is missing from both."""
    declared = {
        kind: {
            name
            for file in TERRAFORM_DIR.rglob("*.tf")
            for name in re.findall(rf'^{kind}\s+"(\w+)"', file.read_text(), re.M)
        }
        for kind in ("resource", "data")
    }
    mirror = STANDIN_CONFIG.with_suffix("")
    copy = into / "mirror"
    shutil.copytree(mirror / "registry.terraform.io", copy / "registry.terraform.io")
    for launcher in (copy / "registry.terraform.io").rglob("terraform-provider-*"):
        name = launcher.parts[-4]
        full = json.loads((mirror / ".schemas" / f"{name}.json").read_text())
        (schema,) = full["provider_schemas"].values()
        schema["resource_schemas"] = {k: v for k, v in schema["resource_schemas"].items() if k in declared["resource"]}
        data = schema.get("data_source_schemas", {})
        schema["data_source_schemas"] = {k: v for k, v in data.items() if k in declared["data"]}
        trimmed = into / f"{name}.json"
        trimmed.write_text(json.dumps(full))
        launcher.write_text(launcher.read_text().replace(str(mirror / ".schemas" / f"{name}.json"), str(trimmed)))
    config = into / "terraform.rc"
    config.write_text(STANDIN_CONFIG.read_text().replace(f'"{mirror}"', f'"{copy}"'))
    return config


def provider_mirror() -> Path | None:
    given = os.environ.get(MIRROR_ENV)
    for root in (Path(given),) if given else MIRROR_CANDIDATES:
        if (root / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
            return root
    return None


# -- the parsed HCL ------------------------------------------------------------------------------------


def _clean(node: Any) -> Any:
    """python-hcl2's output without its markers: keys unquoted, string literals unquoted, comments dropped."""
    if isinstance(node, dict):
        return {_unquote(k): _clean(v) for k, v in node.items() if k not in ("__comments__", "__is_block__")}
    if isinstance(node, list):
        return [_clean(v) for v in node]
    if isinstance(node, str):
        return _unquote(node)
    return node


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return text


@dataclass(frozen=True)
class Module:
    """One Terraform module's blocks, merged over its files."""

    path: Path
    resources: dict[str, dict[str, dict[str, Any]]]  # type -> name -> body
    locals: dict[str, Any]
    variables: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any]]


class LazyModule:
    """A module parsed at its first use rather than at import: a test file's module-level `AWS = ...` then
    costs nothing at collection, which every pytest-xdist worker does, and only the worker that runs the
    checks parses the files (about 0.3 s a module). Reads as the `Module` it stands for."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __getattr__(self, name: str) -> Any:
        return getattr(load_module(self.path), name)


@functools.cache  # parsed once a session: the checks only read it (a module's files take ~20 ms each to parse)
def load_module(path: Path) -> Module:
    import hcl2

    resources: dict[str, dict[str, dict[str, Any]]] = {}
    local_values: dict[str, Any] = {}
    variables: dict[str, dict[str, Any]] = {}
    outputs: dict[str, dict[str, Any]] = {}
    for file in sorted(path.glob("*.tf")):
        with file.open() as fh:
            parsed = _clean(hcl2.load(fh))
        for block in parsed.get("resource", []):
            for kind, named in block.items():
                resources.setdefault(kind, {}).update(named)
        for block in parsed.get("locals", []):
            local_values.update(block)
        for block in parsed.get("variable", []):
            variables.update(block)
        for block in parsed.get("output", []):
            outputs.update(block)
    return Module(path, resources, local_values, variables, outputs)


def all_modules() -> list[Path]:
    """Every folder of terraform/ that holds .tf files."""
    return sorted({f.parent for f in TERRAFORM_DIR.rglob("*.tf") if ".terraform" not in f.parts})
