#!/usr/bin/env bash
# Installs the local stand-ins for cloud services that do not come from PyPI, into .servers/:
# the Cosmos DB emulator (@vercel/cosmosdb-server, from npm) and checkov (from PyPI, apart). moto comes with the dev extras of
# pyproject.toml; the Firestore and Pub/Sub emulators come with the gcloud CLI (and Java), where installed.
#
# Without npm, a developer's `make test` goes on and the Cosmos DB tests skip, saying why; where
# REQUIRE_LOCAL_SERVERS is set (CI), a missing npm is an error.
#
# The four installs (npm, the stand-in providers' virtualenv, checkov's, Chromium from apt) wait mostly on
# downloads, so they run side by side; the script fails if any of them does. $UV, where the Makefile
# gives it, is a uv that installs the two virtualenvs' packages (else pip does).
set -euo pipefail
cd "$(dirname "$0")/.."
COSMOS_VERSION=1.0.1
# checkov (the Terraform scan) in a virtualenv of its own: it pins boto3 and ships a fork of python-hcl2
# under the same module name, so in the project's .venv it would downgrade boto3 and break python-hcl2.
CHECKOV_VERSION=3.3.30

cosmos() {
  if [ -x .servers/node_modules/.bin/cosmosdb-server ]; then return 0; fi
  if ! command -v npm >/dev/null 2>&1; then
    msg="npm is needed to install the Cosmos DB emulator (@vercel/cosmosdb-server); install Node.js"
    if [ -n "${REQUIRE_LOCAL_SERVERS:-}" ] && [ "${REQUIRE_LOCAL_SERVERS}" != 0 ]; then
      echo "error: $msg" >&2
      return 1
    fi
    echo "warning: $msg. The Cosmos DB tests will skip." >&2
    return 0
  fi
  echo "==> installing @vercel/cosmosdb-server@${COSMOS_VERSION} into .servers/ (first run only)"
  npm install --prefix .servers --no-audit --no-fund --loglevel=error "@vercel/cosmosdb-server@${COSMOS_VERSION}"
}

checkov() {
  if [ -x .servers/checkov/bin/checkov ]; then return 0; fi
  echo "==> installing checkov ${CHECKOV_VERSION} into .servers/checkov (first run only)"
  scripts/python-venv.sh .servers/checkov "checkov==${CHECKOV_VERSION}"
}

if ! command -v gcloud >/dev/null 2>&1 || ! command -v java >/dev/null 2>&1; then
  echo "note: the Firestore and Pub/Sub emulator tests need the gcloud CLI and Java; without them they skip." >&2
fi
if ! command -v terraform >/dev/null 2>&1; then
  echo "note: the Terraform checks need terraform (1.11) on PATH; without it they skip." >&2
fi
mkdir -p .servers
pids=()
cosmos & pids+=($!)
scripts/setup-terraform-standin.sh & pids+=($!) # the stand-in google/azurerm/aws providers: validate and plan every layout
checkov & pids+=($!)
scripts/install-chromium.sh & pids+=($!)
failed=0
for pid in "${pids[@]}"; do
  wait "$pid" || failed=1
done
exit "$failed"
