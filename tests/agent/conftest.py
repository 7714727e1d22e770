"""Agent-loop tests: `make_world` lives in tests/conftest.py (the runtime tests use it too)."""

from __future__ import annotations

from support.bus_helpers import chaos  # noqa: F401 - a fixture (a Redis tests may SIGKILL)
