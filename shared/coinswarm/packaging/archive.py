"""Reproducible zips and the platforms' size limits.

The same files give the same bytes: entries sorted by name, every timestamp 1980-01-01 00:00 (the
zip format's epoch), permissions 0644 (0755 for an executable file), no directory entries, DEFLATE
at level 9. Terraform's `source_code_hash` then changes only when the content does.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from coinswarm.config.deploy import Cloud
from coinswarm.packaging.plan import PackagingError

EPOCH = (1980, 1, 1, 0, 0, 0)
MB = 1_000_000  # limits are checked in decimal megabytes: a little under the platforms' binary ones


@dataclass(frozen=True)
class Limits:
    """A platform's package size limits, in bytes."""

    zipped: int
    unzipped: int
    what: str


LIMITS: dict[Cloud, Limits] = {
    "aws": Limits(50 * MB, 250 * MB, "Lambda: 50 MB zipped for a direct upload, 250 MB unzipped"),
    "gcp": Limits(100 * MB, 500 * MB, "Cloud Functions: 100 MB compressed source upload, 500 MB uncompressed"),
}


@dataclass(frozen=True)
class ZipStats:
    path: Path
    zipped: int
    unzipped: int
    files: int
    sha256_base64: str

    def over(self, limits: Limits) -> list[str]:
        """What passes the limits, in words; empty when the zip fits."""
        problems = []
        if self.zipped > limits.zipped:
            problems.append(f"{megabytes(self.zipped)} zipped > {megabytes(limits.zipped)}")
        if self.unzipped > limits.unzipped:
            problems.append(f"{megabytes(self.unzipped)} unzipped > {megabytes(limits.unzipped)}")
        return problems


Content = Path | bytes


def write_zip(path: Path, entries: Mapping[str, Content]) -> ZipStats:
    """Write `entries` (archive name -> a file, or the bytes themselves) to `path`, reproducibly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    unzipped = 0
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in sorted(entries):
            content = entries[name]
            data = content if isinstance(content, bytes) else content.read_bytes()
            executable = not isinstance(content, bytes) and os.stat(content).st_mode & stat.S_IXUSR
            info = zipfile.ZipInfo(name, date_time=EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so that the permissions below are read
            info.external_attr = ((0o100755 if executable else 0o100644) & 0xFFFF) << 16
            archive.writestr(info, data, compresslevel=9)
            unzipped += len(data)
    os.replace(partial, path)
    digest = hashlib.sha256(path.read_bytes()).digest()
    return ZipStats(path, path.stat().st_size, unzipped, len(entries), base64.b64encode(digest).decode())


def tree_entries(root: Path) -> dict[str, Path]:
    """The files under `root` by archive name, without compiled caches or scripts (`bin/`)."""
    found = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if not path.is_file() or rel.parts[0] == "bin" or "__pycache__" in rel.parts or rel.suffix == ".pyc":
            continue
        found[rel.as_posix()] = path
    return found


def merge(*parts: Mapping[str, Content]) -> dict[str, Content]:
    """One archive's entries from several sources; a name two of them bring is an error (a
    dependency shipping a top-level `coinswarm` or `functions` would shadow the project's)."""
    merged: dict[str, Content] = {}
    for part in parts:
        clash = sorted(set(part) & set(merged))
        if clash:
            raise PackagingError(f"two sources bring {clash[0]} (and {len(clash) - 1} more) into one zip")
        merged.update(part)
    return merged


def megabytes(n: int) -> str:
    return f"{n / MB:.1f} MB"
