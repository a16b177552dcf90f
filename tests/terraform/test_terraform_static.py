"""terraform/ as text: formatted, scanned by checkov, every variable typed and described."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from servers.terraform import ROOT, TERRAFORM_DIR, Terraform, all_modules, load_module


def test_terraform_is_formatted(terraform: Terraform) -> None:
    done = subprocess.run(
        [terraform.binary, "fmt", "-check", "-recursive", "-diff", "-no-color", str(TERRAFORM_DIR)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"run `terraform fmt -recursive terraform`; these files differ:\n{done.stdout}"


def test_checkov_finds_no_failed_check_and_every_skip_says_why(checkov: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    done = subprocess.run(
        [checkov, "-d", str(TERRAFORM_DIR), "--framework", "terraform", "--output", "json", "--skip-download"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,  # checkov may leave a cache beside it: never in the repository
        env={"BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false", "PATH": "/usr/bin:/bin"},
    )
    assert done.stdout.strip(), f"checkov printed nothing (exit {done.returncode}):\n{done.stderr[-3000:]}"
    report = json.loads(done.stdout)
    reports = report if isinstance(report, list) else [report]
    results = [r["results"] for r in reports if r.get("check_type") == "terraform"]
    assert results, f"checkov scanned no Terraform: {done.stdout[:500]}"
    failed = [c for r in results for c in r["failed_checks"]]
    assert not failed, "checkov failed checks:\n" + "\n".join(
        f"  {c['check_id']} {c['check_name']}: {c['resource']} ({c['file_path']}:{c['file_line_range']})"
        for c in failed
    )
    passed = [c for r in results for c in r["passed_checks"]]
    skipped = [c for r in results for c in r["skipped_checks"]]
    assert len(passed) > 50, f"checkov ran only {len(passed)} checks: did it scan terraform/?"
    unexplained = [c for c in skipped if len((c.get("check_result", {}).get("suppress_comment") or "").strip()) < 20]
    assert not unexplained, "a skip without a written reason: " + ", ".join(
        f"{c['check_id']} on {c['resource']}" for c in unexplained
    )


@pytest.mark.parametrize("module", all_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_variable_is_typed_and_described(module) -> None:  # type: ignore[no-untyped-def]
    variables = load_module(module).variables
    for name, body in variables.items():
        assert "type" in body, f"{module.name}: variable {name} has no type"
        assert len(body.get("description", "")) >= 15, (
            f"{module.name}: variable {name} has no description worth the name"
        )


def test_root_outputs_the_trigger_urls_tables_containers_and_cosmos_endpoint() -> None:
    outputs = load_module(TERRAFORM_DIR).outputs
    for name in ("http_trigger_urls", "manual_trade_url", "table_names", "container_names", "cosmos_endpoint"):
        assert name in outputs, f"the root module lacks the output {name}"
        assert outputs[name].get("description"), f"output {name} has no description"


# The oldest provider release with every argument the modules use (the newest is what the stand-in
# providers serve, and `terraform init` against them fails if a constraint excludes it).
OLDEST = {
    "aws": (5, 40),  # what the AWS module was first applied with
    "google": (6, 11),  # google_workflows_workflow.deletion_protection (default true from 6.11: set false)
    "azurerm": (4, 0),  # the 4.0 names: free_tier_enabled, automatic_failover_enabled, partition_key_paths
}


def test_provider_constraints_admit_only_releases_with_every_argument_used() -> None:
    constraints = {}
    for path in TERRAFORM_DIR.rglob("*.tf"):
        if ".terraform" in path.parts:
            continue
        for name, version in re.findall(
            r'(\w+) = \{\s*source\s*= "hashicorp/\w+"\s*version\s*= "([^"]+)"', path.read_text()
        ):
            constraints.setdefault(name, set()).add(version)
    assert set(constraints) == set(OLDEST)
    for name, versions in constraints.items():
        for version in versions:
            lowest = re.search(r">= ?(\d+)\.(\d+)", version)
            assert lowest, f"{name} {version}: no lower bound"
            assert (int(lowest[1]), int(lowest[2])) >= OLDEST[name], (
                f"{name} {version} admits releases before {OLDEST[name]}"
            )
            assert f"< {OLDEST[name][0] + 1}.0" in version, f"{name} {version}: the next major release is untested"
