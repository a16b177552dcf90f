"""Local stand-ins for the cloud services, started for the test session and stopped after it.

Each module is a pytest plugin (listed in tests/conftest.py) with session-scoped fixtures that start
one server on a free loopback port, wait until it answers, yield how to reach it, and stop it.
"""
