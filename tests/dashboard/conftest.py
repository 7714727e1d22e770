"""The dashboard tests' shared fixtures: a real simulated day (`aito demo`'s) per test
module (tests/support/dashboard_day.py), and the Starlette app over it (memory, budget
ledger, the bus's heartbeats, the offline embedder for memory search)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient
from support.dashboard_day import Day, simulated_day, source_of

from aito.dashboard import app


@pytest.fixture(scope="module")
def day(services: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day]:
    """A simulated day in a database of its own, kept for the module's tests."""
    with simulated_day(services, tmp_path_factory.mktemp("demo") / "day") as found:
        yield found


@pytest.fixture(scope="module")
def client(day: Day) -> Iterator[TestClient]:
    with TestClient(app.create_app(source_of(day))) as http:
        yield http
