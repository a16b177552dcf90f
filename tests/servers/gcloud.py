"""Session fixtures for the gcloud stand-in (filled in by the cloud adapters' work)."""
