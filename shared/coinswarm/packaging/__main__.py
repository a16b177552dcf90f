"""`python -m coinswarm.packaging` (`make package`): see `--help`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import get_args

import coinswarm
from coinswarm.config import ConfigError, load_settings
from coinswarm.config.deploy import PACKAGED, Cloud
from coinswarm.packaging import GCP_RUNTIME, LAMBDA_RUNTIME
from coinswarm.packaging.archive import LIMITS
from coinswarm.packaging.build import build
from coinswarm.packaging.deps import LAMBDA_PLATFORMS, FromEnvironment, Installer, PipPlatform
from coinswarm.packaging.plan import PackagingError, environment_constraints

DESCRIPTION = f"""\
Build one deployable zip per function and cloud from the configuration:

  OUT/aws/<function>.zip   Lambda ({LAMBDA_RUNTIME}, arm64): coinswarm, the function's modules and its
                           dependencies as manylinux aarch64 wheels (boto3 comes with the runtime)
  OUT/gcp/<function>.zip   Cloud Functions 2nd gen ({GCP_RUNTIME}) source: main.py, coinswarm, the
                           function's modules and requirements.txt (Cloud Build installs it)
  OUT/manifest.json        each zip's sha256 (source_code_hash), sizes, handler or entry point

The dependencies follow the configuration: the core, the cloud's own, and the SDK of each adapter
that [store] selects (dynamodb, firestore, cosmos); nothing else. Versions are pyproject.toml's,
pinned to the ones installed here. Wheels are cached in OUT/.wheels: a second run needs no network.
Each zip is checked against its platform's limits, and the command exits 1 naming any zip over them:
  {LIMITS["aws"].what}
  {LIMITS["gcp"].what}"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m coinswarm.packaging",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config", metavar="FILE", help="the configuration (default: $COINSWARM_CONFIG, else ./coinswarm.toml)"
    )
    parser.add_argument("--out", metavar="DIR", default="dist", type=Path, help="where the zips go (default: dist)")
    parser.add_argument(
        "--cloud", choices=get_args(Cloud), action="append", help="only this cloud (repeatable; default: both)"
    )
    parser.add_argument(
        "--function", choices=PACKAGED, action="append", help="only this function (repeatable; default: all)"
    )
    parser.add_argument(
        "--placed-only",
        action="store_true",
        help="only the cloud each function is placed on by deploy.placement (default: every function for both)",
    )
    parser.add_argument("--python-version", default=LAMBDA_RUNTIME.removeprefix("python"), help="Lambda's Python")
    parser.add_argument(
        "--no-pin", action="store_true", help="resolve pyproject.toml's ranges afresh instead of this environment's"
    )
    parser.add_argument(
        "--deps",
        choices=("pip", "environment"),
        default="pip",
        help="pip: wheels for Lambda's platform (default); environment: copy this machine's installed "
        "packages (offline, host platform: to inspect a zip, not to deploy)",
    )
    parser.add_argument("--root", type=Path, help="the Coinswarm checkout (default: the one this code is in)")
    args = parser.parse_args(argv)

    root = args.root or Path(coinswarm.__file__).resolve().parents[2]
    try:
        settings = load_settings(args.config)
        installer: Installer
        if args.deps == "environment":
            installer = FromEnvironment()
        else:
            installer = PipPlatform(
                args.out / ".wheels",
                platforms=LAMBDA_PLATFORMS,
                python_version=args.python_version,
                constraints=() if args.no_pin else environment_constraints(),
            )
        clouds: list[Cloud] = args.cloud or list(get_args(Cloud))
        functions = args.function or list(PACKAGED)
        build(
            settings,
            args.out,
            root=root,
            installers={"aws": installer},
            clouds=clouds,
            functions=functions,
            pin=not args.no_pin,
            placed_only=args.placed_only,
        )
    except (ConfigError, PackagingError) as exc:
        print(f"make package: {exc}", file=sys.stderr)
        return 1
    print(f"packages in {args.out}/ (manifest: {args.out / 'manifest.json'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
