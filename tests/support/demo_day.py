"""One simulated day of the example organization (`aito demo`'s) in a database of its own,
for the dashboard's tests: the day's report, its organization, memory and bus."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import redis

from aito.bus import budgets
from aito.bus.redis import RedisBus
from aito.dashboard import app
from aito.demo import simulating
from aito.memory import postgres
from aito.memory.postgres import PostgresMemory
from aito.org import loading


class Day:
    def __init__(self, report: simulating.Report, url: str, redis_url: str) -> None:
        self.report = report
        self.org = loading.load_valid(report.repo)
        self.memory = PostgresMemory(url=url)
        self.bus = RedisBus(url=redis_url)
        self.now = report.finished
        self.url = url
        self.redis_url = redis_url

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url) as conn:
            return conn.execute(sql, params).fetchall()


@contextlib.contextmanager
def simulated_day(services: Any, target: Path) -> Iterator[Day]:
    """Run a day of the demo into a fresh database (and an emptied Redis); dropped after."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    PostgresMemory(url=services.postgres_admin_url).ensure_database(name)
    url = psycopg.conninfo.make_conninfo(services.postgres_admin_url, dbname=name)
    client = redis.Redis.from_url(services.redis_url)
    client.flushdb()
    client.close()
    report = simulating.run(
        target=target,
        env={"POSTGRES_URL": url, "REDIS_URL": services.redis_url},
        seed=0,
        hours=24,
        echo=lambda _: None,
    )
    found = Day(report, url, services.redis_url)
    try:
        yield found
    finally:
        found.bus.close()
        found.memory.close()
        postgres.drop_database(admin_url=services.postgres_admin_url, name=name)


def source_of(day: Day) -> app.Source:
    """The dashboard's sources over the simulated day, its clock at the day's end."""
    return app.Source(
        organization=lambda: day.org,
        memory=day.memory,
        ledger=budgets.BudgetLedger(day.bus),
        clock=lambda: day.now,
    )
