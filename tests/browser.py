"""A real headless browser for the tests that look at a page: Chromium from the Debian packages
(`scripts/install-chromium.sh` installs it; CI runs that script through `make servers`)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from servers import missing

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium() -> str:
    """The browser's path, or skip (fail where every tool must be present) saying how to get it."""
    for name in NAMES:
        path = shutil.which(name)
        if path:
            return path
    missing("no headless Chromium on PATH: `sudo apt-get install chromium` (scripts/install-chromium.sh)")


def rendered_dom(url: str, *, budget_ms: int = 5_000, timeout_s: float = 90.0) -> str:
    """The page's DOM after its scripts ran (Chromium's --dump-dom), in a throwaway profile."""
    with tempfile.TemporaryDirectory(prefix="cs-chromium-") as profile:
        done = subprocess.run(
            [
                chromium(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                f"--user-data-dir={profile}",
                f"--virtual-time-budget={budget_ms}",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    if done.returncode != 0 or "<body" not in done.stdout:
        raise AssertionError(f"chromium failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def body_attributes(dom: str) -> dict[str, str]:
    tag = re.search(r"<body([^>]*)>", dom)
    assert tag, "the page has no <body>"
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag.group(1)))


def file_url(path: Path) -> str:
    return path.resolve().as_uri()
