"""Installing a package's dependencies into a directory that becomes the zip's root.

* `PipPlatform`: pip, for the target platform (Lambda: manylinux aarch64 wheels for its Python),
  binary wheels only. Wheels are downloaded once into a cache directory; later builds install from
  it without the network (`--no-index`), and fetch from PyPI only what the cache lacks.
* `FromEnvironment`: copies the requirements' installed files, and their dependencies', from the
  environment running the build. Host platform only, no network: what the tests use to check that a
  package imports, and `--deps environment` for an offline look at a package's contents.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from coinswarm.packaging.plan import PackagingError, canonical

LAMBDA_PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")  # Amazon Linux 2023: glibc 2.34


class Installer(Protocol):
    def describe(self) -> str:
        """What the installed tree depends on besides the requirements (platform, pins): a cache key."""
        ...

    def install(self, requirements: Sequence[str], target: Path) -> None: ...


class PipPlatform:
    def __init__(
        self,
        cache: Path,
        *,
        platforms: Sequence[str] = LAMBDA_PLATFORMS,
        python_version: str = "3.12",
        constraints: Sequence[str] = (),
        index_url: str | None = None,
        retries: int = 5,
    ) -> None:
        self.cache = cache
        self.platforms = tuple(platforms)
        self.python_version = python_version
        self.constraints = tuple(constraints)
        self.index_url = index_url
        self.retries = retries

    def describe(self) -> str:
        return f"pip {'+'.join(self.platforms)} cp{self.python_version} constraints {self._pins_key()}"

    def _pins_key(self) -> str:
        return hashlib.sha256("\n".join(self.constraints).encode()).hexdigest()[:12]

    def _target_options(self) -> list[str]:
        options = ["--only-binary=:all:", "--python-version", self.python_version, "--implementation", "cp"]
        for platform in self.platforms:
            options += ["--platform", platform]
        return options

    def install(self, requirements: Sequence[str], target: Path) -> None:
        self.cache.mkdir(parents=True, exist_ok=True)
        constraints = self.cache / f"constraints-{self._pins_key()}.txt"
        constraints.write_text("".join(f"{c}\n" for c in self.constraints))
        common = [*self._target_options(), "-c", str(constraints), *requirements]
        offline = ["install", "--no-index", "--find-links", str(self.cache), "--target", str(target), "--no-compile"]
        if self._pip([*offline, *common]).returncode == 0:
            return
        shutil.rmtree(target, ignore_errors=True)
        index = ["--retries", str(self.retries), *(["--index-url", self.index_url] if self.index_url else [])]
        fetched = self._pip(["download", "--dest", str(self.cache), *index, *common])
        if fetched.returncode != 0:
            raise PackagingError(
                f"pip could not download wheels for {', '.join(requirements)} ({self.describe()}):\n"
                f"{fetched.stderr.strip()[-2000:]}\n"
                "Is PyPI reachable? A version pinned from this environment may lack a wheel for the "
                "platform: try --no-pin."
            )
        installed = self._pip([*offline, *common])
        if installed.returncode != 0:
            raise PackagingError(f"pip could not install the downloaded wheels:\n{installed.stderr.strip()[-2000:]}")

    def _pip(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *args]
        return subprocess.run(command, capture_output=True, text=True, check=False)


class FromEnvironment:
    """Copies installed distributions (host platform) and their dependencies; no network."""

    def describe(self) -> str:
        return f"environment {sys.prefix} {sys.implementation.cache_tag}"

    def install(self, requirements: Sequence[str], target: Path) -> None:
        from packaging.requirements import Requirement

        target.mkdir(parents=True, exist_ok=True)
        todo = [Requirement(r) for r in requirements]
        done: set[str] = set()
        while todo:
            req = todo.pop()
            name = canonical(req.name)
            if name in done:
                continue
            done.add(name)
            try:
                dist = importlib.metadata.distribution(req.name)
            except importlib.metadata.PackageNotFoundError:
                raise PackagingError(f"{req.name} is not installed here: pip install it, or use --deps pip") from None
            for file in dist.files or ():
                if file.parts[0] == ".." or "__pycache__" in file.parts:
                    continue  # scripts in bin/, compiled caches
                source = Path(str(dist.locate_file(file)))
                if source.is_file():
                    (target / file).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source, target / file)
            for dep in dist.requires or ():
                sub = Requirement(dep)
                wanted = [{"extra": e} for e in req.extras] or [{"extra": ""}]
                if sub.marker is None or any(sub.marker.evaluate(env) for env in wanted):
                    todo.append(sub)
