#!/usr/bin/env bash
# scripts/python-venv.sh DIR PACKAGE...: a virtualenv of its own in DIR with PACKAGE... installed, by $UV
# (a uv, where the Makefile gives one) or else by the virtualenv's pip. A failed install leaves no DIR, so
# the next run tries again.
set -euo pipefail
dir=$1
shift
if [ -n "${UV:-}" ] && [ -x "$UV" ]; then
  "$UV" venv --quiet --python "${PYTHON:-python3}" "$dir"
  "$UV" pip install --quiet --python "$dir/bin/python" "$@" || { rm -rf "$dir"; exit 1; }
else
  "${PYTHON:-python3}" -m venv "$dir"
  "$dir/bin/python" -m pip install --quiet "$@" || { rm -rf "$dir"; exit 1; }
fi
