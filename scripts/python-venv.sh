#!/usr/bin/env bash
# scripts/python-venv.sh DIR PACKAGE...: a virtualenv of its own in DIR with PACKAGE... installed, by $UV
# (a uv, where the Makefile gives one) or else, or where uv fails, by the virtualenv's pip. A failed install leaves no DIR, so
# the next run tries again.
set -euo pipefail
dir=$1
shift
rm -rf "$dir"
if [ -n "${UV:-}" ] && [ -x "$UV" ] && "$UV" venv --quiet --python "${PYTHON:-python3}" "$dir" \
  && "$UV" pip install --quiet --python "$dir/bin/python" "$@"; then
  exit 0
fi
rm -rf "$dir" # no uv, or uv failed: pip
"${PYTHON:-python3}" -m venv "$dir"
"$dir/bin/python" -m pip install --quiet "$@" || { rm -rf "$dir"; exit 1; }
