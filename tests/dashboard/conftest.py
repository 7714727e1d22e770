"""The dashboard tests' shared fixtures: a real simulated day (`aito demo`'s) per test
module, and the Starlette app over it (memory, budget ledger, the bus's heartbeats, the
offline embedder for memory search)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import redis
from starlette.testclient import TestClient
from support.dashboard_day import Day, source_of

from aito.dashboard import app
from aito.demo import simulating
from aito.memory import postgres
from aito.memory.postgres import PostgresMemory


@pytest.fixture(scope="module")
def day(services: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day]:
    """A simulated day in a database of its own, kept for the module's tests."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    PostgresMemory(url=services.postgres_admin_url).ensure_database(name)
    url = psycopg.conninfo.make_conninfo(services.postgres_admin_url, dbname=name)
    client = redis.Redis.from_url(services.redis_url)
    client.flushdb()
    client.close()
    report = simulating.run(
        target=tmp_path_factory.mktemp("demo") / "day",
        env={"POSTGRES_URL": url, "REDIS_URL": services.redis_url},
        seed=0,
        hours=24,
        echo=lambda _: None,
    )
    found = Day(report, url, services.redis_url)
    yield found
    found.bus.close()
    found.memory.close()
    postgres.drop_database(admin_url=services.postgres_admin_url, name=name)


@pytest.fixture(scope="module")
def client(day: Day) -> Iterator[TestClient]:
    with TestClient(app.create_app(source_of(day))) as http:
        yield http
