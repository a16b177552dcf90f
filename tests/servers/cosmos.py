"""Session fixtures for the cosmos stand-in (filled in by the cloud adapters' work)."""
