"""The trading domain: pure Python, no I/O, no cloud SDK, no network."""
