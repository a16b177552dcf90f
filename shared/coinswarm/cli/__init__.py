"""The `coinswarm` command."""
