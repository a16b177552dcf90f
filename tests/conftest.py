"""Test-session plugins: the local stand-ins for AWS (moto), Azure Cosmos DB (cosmosdb-server) and
Google Cloud (the gcloud emulators), each started on first use and stopped at the end."""

pytest_plugins = ["servers.moto", "servers.cosmos", "servers.gcloud"]
