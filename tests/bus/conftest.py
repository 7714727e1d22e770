"""Fixtures of the bus tests (defined with their helpers in support/bus_helpers.py)."""

from support.bus_helpers import chaos  # noqa: F401 - a fixture
