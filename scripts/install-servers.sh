#!/usr/bin/env bash
# Installs the local stand-ins for cloud services that do not come from PyPI, into .servers/:
# the Cosmos DB emulator (@vercel/cosmosdb-server, from npm). moto comes with the dev extras of
# pyproject.toml; the Firestore and Pub/Sub emulators come with the gcloud CLI of these machines.
set -euo pipefail
cd "$(dirname "$0")/.."
COSMOS_VERSION=1.0.1
if [ ! -x .servers/node_modules/.bin/cosmosdb-server ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "npm is needed to install the Cosmos DB emulator (@vercel/cosmosdb-server); install Node.js" >&2
    exit 1
  fi
  echo "==> installing @vercel/cosmosdb-server@${COSMOS_VERSION} into .servers/ (first run only)"
  mkdir -p .servers
  npm install --prefix .servers --no-audit --no-fund --loglevel=error "@vercel/cosmosdb-server@${COSMOS_VERSION}"
fi
