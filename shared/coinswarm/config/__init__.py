"""The one configuration: a typed model, loaded from a TOML file plus environment overrides."""

from coinswarm.config.loader import ConfigError, load_settings
from coinswarm.config.settings import Settings

__all__ = ["ConfigError", "Settings", "load_settings"]
