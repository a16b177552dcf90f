"""`make package` (coinswarm.packaging): what each zip holds, that it imports as its cloud loads it,
that a rebuild is byte-identical, and that the platform limits are enforced.

The dependencies are copied from this environment (`FromEnvironment`: host platform, no network); the
pip path for Lambda's platform is run for real against a local folder of wheels (no index reached).
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from coinswarm.config.deploy import FUNCTIONS, PACKAGED, deployed_name
from coinswarm.config.settings import Settings
from coinswarm.http.push_wire import received_on
from coinswarm.packaging import archive
from coinswarm.packaging.__main__ import main
from coinswarm.packaging.archive import Limits
from coinswarm.packaging.build import PackageTooLargeError, build
from coinswarm.packaging.deps import FromEnvironment, PipPlatform
from coinswarm.packaging.plan import PackagingError, requirement_names

ROOT = Path(__file__).resolve().parents[2]
FAKE_COSMOS = {"cosmos_endpoint": "https://example.documents.azure.com:443/", "cosmos_key": "fake-key"}


def _settings(**store: str) -> Settings:
    azure = FAKE_COSMOS if store.get("history") == "cosmos" else {}
    return Settings.model_validate({"store": store, "azure": azure})


def _names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as z:
        return z.namelist()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """order_placement and manual_trade for both clouds, the default configuration."""
    out = tmp_path_factory.mktemp("dist")
    build(
        Settings(),
        out,
        root=ROOT,
        installers={"aws": FromEnvironment()},
        functions=["order_placement", "manual_trade"],
        say=lambda line: None,
    )
    return out


# -- what each package needs ---------------------------------------------------------------------------


def test_the_default_configuration_needs_only_the_core_and_the_clouds_own() -> None:
    assert requirement_names("aws", Settings(), ROOT) == ["aws-lambda-powertools", "httpx", "pydantic"]
    assert requirement_names("gcp", Settings(), ROOT) == [
        "functions-framework",
        "google-cloud-pubsub",
        "httpx",
        "pydantic",
    ]


def test_configured_adapters_bring_their_sdk_and_only_theirs() -> None:
    cosmos = _settings(state="dynamodb", coordination="dynamodb", history="cosmos")
    assert requirement_names("aws", cosmos, ROOT) == ["aws-lambda-powertools", "azure-cosmos", "httpx", "pydantic"]
    # boto3 is in Lambda's runtime, not on Cloud Functions: a GCP function on DynamoDB carries it
    assert "boto3" in requirement_names("gcp", cosmos, ROOT)
    firestore = _settings(state="firestore", coordination="firestore")
    assert "google-cloud-firestore" in requirement_names("aws", firestore, ROOT)
    assert not any(n.startswith(("google", "azure")) for n in requirement_names("aws", Settings(), ROOT))


# -- contents -------------------------------------------------------------------------------------------


def test_an_aws_zip_holds_its_entry_the_library_and_its_dependencies_and_nothing_else(built: Path) -> None:
    names = _names(built / "aws" / "order_placement.zip")
    functions = sorted(n for n in names if n.startswith("functions/"))
    assert functions == [
        "functions/__init__.py",
        "functions/aws_common.py",
        "functions/cold_start.py",  # run by the package's __init__: a cheaper cold start
        "functions/order_placement/__init__.py",
        "functions/order_placement/aws.py",
        "functions/secret_settings.py",  # the secret settings read from SSM at cold start
        "functions/workflow_step.py",  # the workflow chain's payload and answer
    ]
    assert "coinswarm/stages/placement.py" in names and "coinswarm/py.typed" in names
    assert any(n.startswith("pydantic_core/") for n in names) and any(
        n.startswith("aws_lambda_powertools/") for n in names
    )
    tops = {n.split("/")[0] for n in names}
    assert not tops & {"tests", "google", "azure", "boto3", "botocore", "bin", "main.py", "requirements.txt"}
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    with zipfile.ZipFile(built / "aws" / "order_placement.zip") as z:
        assert {i.date_time for i in z.infolist()} == {archive.EPOCH}


def _rehearsal_or_tooling(names: list[str]) -> list[str]:
    """What a zip must not hold: tests, the fake exchange (rehearsals), this build tool; no test module of ours."""
    banned = ("tests/", "coinswarm/venues/fake/", "coinswarm/packaging/", "benchmarks/")
    ours = [n for n in names if n.startswith(("coinswarm/", "functions/")) or "/" not in n]
    return [n for n in names if n.startswith(banned)] + [
        n for n in ours if n.split("/")[-1].startswith(("conftest", "test_"))
    ]


def test_no_zip_holds_test_rehearsal_or_build_code(built: Path, tmp_path: Path) -> None:
    """Every function's GCP zip, and AWS zips (the same library; their dependencies copied from here):
    only what runs in the cloud. The fake exchange is for tests and rehearsals (`coinswarm fake-exchange`)."""
    packages = build(Settings(), tmp_path, root=ROOT, installers={}, clouds=["gcp"], say=lambda line: None)
    zips = [p.stats.path for p in packages] + sorted((built / "aws").glob("*.zip"))
    assert len(zips) >= len(FUNCTIONS) + 2
    for path in zips:
        names = _names(path)
        assert "coinswarm/venues/coinbase.py" in names, path  # the real venue clients stay
        assert _rehearsal_or_tooling(names) == [], path


def test_a_gcp_zip_is_source_with_main_py_and_requirements_txt(built: Path) -> None:
    path = built / "gcp" / "manual_trade.zip"
    names = _names(path)
    assert "functions/manual_trade/gcp.py" in names and "functions/gcp_common.py" in names
    assert "functions/manual_trade/aws.py" not in names and "functions/aws_common.py" not in names
    assert not any(n.startswith(("pydantic/", "google/", "flask/")) for n in names), "Cloud Build installs them"
    with zipfile.ZipFile(path) as z:
        requirements = z.read("requirements.txt").decode().split()
        main_py = z.read("main.py").decode()
    assert [r.split("==")[0] for r in requirements] == [
        "functions-framework",
        "google-cloud-pubsub",
        "httpx",
        "pydantic",
    ]
    assert deployed_name("manual_trade") in ast.get_docstring(ast.parse(main_py), clean=True)


# -- it imports as the cloud loads it ----------------------------------------------------------------


def _python_without_the_project(paths: list[Path], code: str, cwd: Path) -> str:
    """Run `code` on the base interpreter without site-packages (-S): only `paths` and the stdlib."""
    base = getattr(sys, "_base_executable", sys.executable)
    env = {"PYTHONPATH": os.pathsep.join(map(str, paths)), "PATH": os.environ.get("PATH", "")}
    done = subprocess.run(
        [base, "-S", "-B", "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_lambda_handler_imports_from_the_extracted_zip_alone(built: Path, tmp_path: Path) -> None:
    task = tmp_path / "task"  # Lambda's /var/task
    zipfile.ZipFile(built / "aws" / "order_placement.zip").extractall(task)
    runtime = tmp_path / "runtime"  # what the Lambda runtime adds: boto3 and botocore
    FromEnvironment().install(["boto3"], runtime)
    out = _python_without_the_project(
        [task, runtime],
        "import functions.order_placement.aws as m, coinswarm, pydantic_core, sys\n"
        "print(m.__file__, coinswarm.__file__, pydantic_core.__file__, callable(m.handler), sep='\\n')\n"
        "print(any(k.split('.')[0] in ('google', 'azure') for k in sys.modules))",
        cwd=tmp_path,
    )
    *files, callable_handler, foreign = out.split()
    assert all(Path(f).is_relative_to(task) for f in files), files
    assert callable_handler == "True" and foreign == "False"


def test_the_cloud_functions_entry_point_is_main_py_at_the_root(built: Path, tmp_path: Path) -> None:
    source = tmp_path / "source"
    zipfile.ZipFile(built / "gcp" / "order_placement.zip").extractall(source)
    # Cloud Build installs requirements.txt; here this environment provides them, the source comes first
    code = "import main, functions, coinswarm\nprint(main.__file__, functions.__file__, coinswarm.__file__)\n"
    code += "print(main.order_placement.__module__)"
    done = subprocess.run(
        [sys.executable, "-B", "-c", code],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(source)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    *files, module = done.stdout.split()
    assert all(Path(f).is_relative_to(source) for f in files), files
    assert module == "functions.order_placement.gcp"


# -- reproducible -----------------------------------------------------------------------------------------


def _project_copy(tmp: Path) -> Path:
    root = tmp / "project"
    shutil.copytree(ROOT / "functions", root / "functions", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(
        ROOT / "shared" / "coinswarm", root / "shared" / "coinswarm", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def test_a_rebuild_is_byte_identical_and_changes_only_with_the_content(tmp_path: Path) -> None:
    root = _project_copy(tmp_path)

    def package(out: str) -> bytes:
        build(
            Settings(), tmp_path / out, root=root, installers={}, clouds=["gcp"], functions=["tick_ingest"], say=print
        )
        return (tmp_path / out / "gcp" / "tick_ingest.zip").read_bytes()

    first = package("one")
    os.utime(root / "functions" / "tick_ingest" / "gcp.py", (1_000_000_000, 1_000_000_000))  # touched only
    assert package("two") == first
    with (root / "functions" / "tick_ingest" / "gcp.py").open("a") as f:
        f.write("\n# changed\n")
    assert package("three") != first


def test_the_aws_build_is_byte_identical_too(built: Path, tmp_path: Path) -> None:
    build(
        Settings(),
        tmp_path,
        root=ROOT,
        installers={"aws": FromEnvironment()},
        clouds=["aws"],
        functions=["order_placement"],
        say=print,
    )
    assert (tmp_path / "aws" / "order_placement.zip").read_bytes() == (
        built / "aws" / "order_placement.zip"
    ).read_bytes()


# -- limits ---------------------------------------------------------------------------------------------


def test_a_zip_over_its_limit_is_named_and_fails_the_build(tmp_path: Path) -> None:
    tiny = {"aws": Limits(10**9, 10**9, "roomy"), "gcp": Limits(50_000, 10**9, "a fake 50 kB limit")}
    with pytest.raises(PackageTooLargeError) as caught:
        build(Settings(), tmp_path, root=ROOT, installers={}, clouds=["gcp"], functions=["tick_ingest"], limits=tiny)
    message = str(caught.value)
    assert str(tmp_path / "gcp" / "tick_ingest.zip") in message and "a fake 50 kB limit" in message
    assert "zipped >" in message and "unzipped" not in message.split("zipped >")[1].split("(")[0]


def test_the_command_exits_1_naming_the_zip_over_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(archive.LIMITS, "gcp", Limits(10**9, 100_000, "a fake 100 kB unzipped limit"))
    code = main(["--out", str(tmp_path), "--cloud", "gcp", "--function", "committee_vote", "--root", str(ROOT)])
    err = capsys.readouterr().err
    assert code == 1
    assert "gcp/committee_vote.zip" in err and "unzipped >" in err and "fake 100 kB" in err


def test_a_function_without_the_clouds_entry_point_is_refused(tmp_path: Path) -> None:
    root = _project_copy(tmp_path)
    (root / "functions" / "trade_logging" / "gcp.py").unlink()
    with pytest.raises(PackagingError, match="trade_logging has no gcp entry point"):
        build(Settings(), tmp_path / "out", root=root, installers={}, clouds=["gcp"], functions=["trade_logging"])


# -- pip for Lambda's platform, offline ----------------------------------------------------------------------


def _wheel(folder: Path, arch: str) -> None:
    tag = f"cp312-cp312-manylinux2014_{arch}"
    info = "fakebin-1.0.dist-info"
    files = {
        "fakebin/__init__.py": f"ARCH = {arch!r}\n",
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: fakebin\nVersion: 1.0\n",
        f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\nTag: {tag}\n",
    }
    files[f"{info}/RECORD"] = "".join(f"{name},,\n" for name in [*files, f"{info}/RECORD"])
    with zipfile.ZipFile(folder / f"fakebin-1.0-{tag}.whl", "w") as z:
        for name, text in files.items():
            z.writestr(name, text)


@pytest.mark.subprocess  # pip, started inside PipPlatform (tests/tiers.py reads only the tests' own code)
def test_pip_installs_the_aarch64_wheel_for_lambda(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels, "x86_64")
    _wheel(wheels, "aarch64")
    # a loopback index nobody answers: should the cached wheels not do, pip fails here instead of going out
    installer = PipPlatform(wheels, python_version="3.12", index_url="http://127.0.0.1:9/simple", retries=0)
    installer.install(["fakebin==1.0"], tmp_path / "site")
    assert (tmp_path / "site" / "fakebin" / "__init__.py").read_text() == "ARCH = 'aarch64'\n"
    with pytest.raises(PackagingError, match="could not download"):
        installer.install(["notcached==1.0"], tmp_path / "other")


def test_the_push_receiver_is_packaged_for_the_cloud_that_receives_pushes(tmp_path: Path) -> None:
    """Terraform deploys a push receiver on a cloud that consumes a topic the other cloud hands on, so
    `make package` builds its zip by default; the manifest marks it placed only there."""
    split = Settings.model_validate({"deploy": {"placement": {"trade_logging": "gcp"}}})
    packages = build(split, tmp_path / "dist", root=ROOT, installers={}, clouds=["gcp"], say=lambda line: None)
    assert {p.function for p in packages} == set(PACKAGED)  # every function, the push receiver included
    manifest = json.loads((tmp_path / "dist" / "manifest.json").read_text())
    receiver = next(e for e in manifest if e["function"] == "push_receiver")
    assert receiver["placed"] is True  # trade_logging on GCP receives the placements AWS hands on
    assert "functions/push_receiver/gcp.py" in _names(tmp_path / "dist" / "gcp" / "push_receiver.zip")
    assert {p.function for p in packages if p.placed} == {"trade_logging", "push_receiver"}

    all_aws = build(Settings(), tmp_path / "one", root=ROOT, installers={}, clouds=["gcp"], say=lambda line: None)
    assert not any(p.placed for p in all_aws if p.function == "push_receiver")
    assert received_on({**dict.fromkeys(FUNCTIONS, "aws"), "committee_vote": "gcp"}, "aws") == {"decisions"}


def test_the_manifest_names_each_function_as_terraform_deploys_it(tmp_path: Path) -> None:
    prefixed = Settings.model_validate({"aws": {"table_prefix": "bot1"}})
    build(prefixed, tmp_path, root=ROOT, installers={}, clouds=["gcp"], functions=["tick_ingest"], say=lambda _: None)
    (row,) = json.loads((tmp_path / "manifest.json").read_text())
    assert row["name"] == deployed_name("tick_ingest", "bot1") == "bot1-tick-ingest"
