#!/usr/bin/env bash
# Installs a headless Chromium from the Debian packages, for the tests that open a page in a real browser
# (the backtest's HTML report). Needs root (as CI and these machines run); elsewhere it says what to type.
set -euo pipefail
for name in chromium chromium-browser google-chrome google-chrome-stable; do
  if command -v "$name" >/dev/null 2>&1; then exit 0; fi
done
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  msg="the browser tests need Chromium: run 'sudo apt-get install chromium' (or your system's package)"
  if [ -n "${REQUIRE_LOCAL_SERVERS:-}" ] && [ "${REQUIRE_LOCAL_SERVERS}" != 0 ]; then
    echo "error: $msg" >&2
    exit 1
  fi
  echo "note: $msg; without it they skip." >&2
  exit 0
fi
echo "==> installing chromium from the Debian packages (first run only)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends chromium >/dev/null
