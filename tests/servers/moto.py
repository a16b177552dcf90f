"""Session fixtures for the moto stand-in (filled in by the cloud adapters' work)."""
