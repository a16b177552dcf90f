"""Building every package: dependencies installed once per cloud (and cached), then one zip per function."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from coinswarm.config.deploy import PACKAGED, PUSH_RECEIVER, TELEGRAM_WEBHOOK, Cloud, deployed_name
from coinswarm.config.settings import Settings
from coinswarm.packaging import GCP_RUNTIME, LAMBDA_RUNTIME
from coinswarm.packaging.archive import LIMITS, Content, Limits, ZipStats, megabytes, merge, tree_entries, write_zip
from coinswarm.packaging.deps import Installer
from coinswarm.packaging.plan import (
    PackagingError,
    entry,
    function_sources,
    library_sources,
    requirements,
)


@dataclass(frozen=True)
class Package:
    cloud: Cloud
    function: str
    stats: ZipStats
    placed: bool

    @property
    def over(self) -> list[str]:
        return self.stats.over(LIMITS[self.cloud])


class PackageTooLargeError(PackagingError):
    def __init__(self, offenders: Sequence[tuple[Package, Limits, list[str]]]) -> None:
        lines = [f"{p.stats.path}: {'; '.join(why)} ({limits.what})" for p, limits, why in offenders]
        super().__init__("over the platform's limit:\n  " + "\n  ".join(lines))
        self.offenders = offenders


def build(
    settings: Settings,
    out: Path,
    *,
    root: Path,
    installers: Mapping[Cloud, Installer],
    clouds: Sequence[Cloud] = ("aws", "gcp"),
    functions: Sequence[str] = PACKAGED,
    pin: bool = True,
    placed_only: bool = False,
    limits: Mapping[Cloud, Limits] = LIMITS,
    say: Callable[[str], None] = print,
) -> list[Package]:
    """Build `out/<cloud>/<function>.zip` for every function on every cloud asked for, write
    `out/manifest.json`, and raise PackageTooLargeError (after building them all) naming any zip over its limit.
    `placed_only`: a function only for the cloud `deploy.placement` puts it on."""
    library = library_sources(root)
    placement = settings.deploy.placement
    targets = {c: [f for f in functions if not placed_only or _placed(placement, f, c)] for c in clouds}
    packages: list[Package] = []
    total = sum(len(fs) for fs in targets.values())
    for cloud in clouds:
        if not targets[cloud]:
            continue
        reqs = requirements(cloud, settings, root, pin=pin)
        extra: dict[str, Content]
        if cloud == "aws":
            site = _dependencies(out, cloud, reqs, installers[cloud], say)
            extra = dict(tree_entries(site))
        else:
            say(f"==> gcp: requirements.txt for Cloud Build: {', '.join(reqs)}")
            extra = {"requirements.txt": "".join(f"{r}\n" for r in reqs).encode()}
        for function in targets[cloud]:
            sources: dict[str, Content] = {**library, **function_sources(root, function, cloud)}
            if cloud == "gcp":
                sources["main.py"] = _gcp_main(function).encode()
            stats = write_zip(out / cloud / f"{function}.zip", merge(sources, extra))
            package = Package(cloud, function, stats, _placed(placement, function, cloud))
            packages.append(package)
            why = stats.over(limits[cloud])
            verdict = "OVER: " + "; ".join(why) if why else "ok"
            say(
                f"[{len(packages)}/{total}] {cloud}/{function}.zip  {megabytes(stats.zipped)} zipped, "
                f"{megabytes(stats.unzipped)} unzipped, {stats.files} files  {verdict}"
            )
    _write_manifest(out, packages, settings.aws.table_prefix)
    offenders = [(p, limits[p.cloud], p.stats.over(limits[p.cloud])) for p in packages]
    offenders = [o for o in offenders if o[2]]
    if offenders:
        raise PackageTooLargeError(offenders)
    return packages


def _placed(placement: Mapping[str, str], function: str, cloud: Cloud) -> bool:
    """Whether the configuration deploys `function` on `cloud`. The push receiver is deployed on a cloud
    that receives pushes from the other (Terraform's `received`), on none when all run on one cloud."""
    if function == PUSH_RECEIVER:
        from coinswarm.http.push_wire import received_on

        return bool(received_on(placement, cloud))
    if function == TELEGRAM_WEBHOOK:  # beside the manual trade endpoint
        return placement.get("manual_trade", "aws") == cloud
    return placement.get(function, "aws") == cloud


def _dependencies(
    out: Path, cloud: Cloud, reqs: Sequence[str], installer: Installer, say: Callable[[str], None]
) -> Path:
    """The requirements installed into a directory kept under out/.build, reused while they and the
    installer's platform are the same."""
    key = hashlib.sha256("\n".join([installer.describe(), *reqs]).encode()).hexdigest()[:16]
    site = out / ".build" / f"{cloud}-{key}"
    done = site / ".complete"
    if done.is_file():
        say(f"==> {cloud}: dependencies {', '.join(reqs)} (already installed in {site})")
        return site / "site"
    say(f"==> {cloud}: installing {', '.join(reqs)} ({installer.describe()}) into {site}")
    shutil.rmtree(site, ignore_errors=True)
    installer.install(reqs, site / "site")
    done.write_text("\n".join(reqs) + "\n")
    return site / "site"


def _gcp_main(function: str) -> str:
    target = entry(function, "gcp")
    return (
        f'"""Cloud Functions entry point of {deployed_name(function)} (written by make package)."""\n\n'
        f"from {target.module} import {target.attribute}\n\n"
        f'__all__ = ["{target.attribute}"]\n'
    )


def _write_manifest(out: Path, packages: Sequence[Package], prefix: str) -> None:
    """dist/manifest.json: what Terraform needs to know of each zip."""
    rows = []
    for p in packages:
        target = entry(p.function, p.cloud)
        rows.append(
            {
                "cloud": p.cloud,
                "function": p.function,
                "name": deployed_name(p.function, prefix),
                "path": f"{p.cloud}/{p.function}.zip",
                "source_code_hash": p.stats.sha256_base64,
                "zipped_bytes": p.stats.zipped,
                "unzipped_bytes": p.stats.unzipped,
                "placed": p.placed,
                "runtime": LAMBDA_RUNTIME if p.cloud == "aws" else GCP_RUNTIME,
                "architecture": "arm64" if p.cloud == "aws" else None,
                ("handler" if p.cloud == "aws" else "entry_point"): (
                    target.handler if p.cloud == "aws" else target.attribute
                ),
            }
        )
    (out / "manifest.json").write_text(json.dumps(rows, indent=2) + "\n")
