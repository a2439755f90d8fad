"""Fixtures of this app's tests, registered through pytest_plugins in tests/conftest.py."""
