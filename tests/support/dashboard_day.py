"""A simulated day (`aito demo`'s) in a database of its own, for the dashboard's tests,
and how to read a page as a person does."""

from __future__ import annotations

import contextlib
import functools
import html
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import redis
import uvicorn

from aito.bus import budgets
from aito.bus.services import BusServices
from aito.dashboard import app
from aito.demo import simulating
from aito.memory import postgres
from aito.memory.embedders import offline
from aito.memory.postgres import PostgresMemory
from aito.org import loading


class Day:
    def __init__(self, report: simulating.Report, url: str, redis_url: str) -> None:
        self.report = report
        self.org = loading.load_valid(report.repo)
        self.memory = PostgresMemory(url=url)
        self.bus = BusServices(url=redis_url)
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


def text_of(page: str) -> str:
    """What a reader sees: the page without its tags, entities decoded, spaces collapsed."""
    without = re.sub(r"<style.*?</style>|<script.*?</script>|<[^>]+>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(without))


def row_of(page: str, marker: str) -> str:
    """The text of the table row that holds ``marker``."""
    for row in re.findall(r"<tr\b[^>]*>.*?</tr>", page, flags=re.S):
        if marker in row:
            return text_of(row)
    raise AssertionError(f"no row with {marker!r}")


def head_of(page: str, decision_id: str) -> str:
    """The commit the inbox's form for ``decision_id`` acts on (its hidden ``head``)."""
    form = re.search(
        rf'action="/inbox/decisions/{re.escape(decision_id)}/approve".*?</form>', page, re.S
    )
    assert form, f"the inbox has a form for {decision_id}"
    found = re.search(r'name="head" value="([0-9a-f]{40})"', form.group(0))
    assert found, "the form carries the commit the inbox showed"
    return found.group(1)


def source_of(day: Day) -> app.Source:
    """The dashboard's sources over ``day``, as `aito dashboard` wires them."""
    return app.Source(
        organization=lambda: day.org,
        memory=day.memory,
        ledger=budgets.BudgetLedger(day.bus),
        clock=lambda: day.now,
        heartbeats=day.bus,
        history=day.memory,
        embedder=functools.cache(offline.MiniLMEmbedder),
    )


@contextlib.contextmanager
def serving(asgi: Any) -> Iterator[str]:
    """``asgi`` served by uvicorn on a free port of 127.0.0.1, as `aito dashboard` serves
    it (for a browser, or an event stream a test client would wait on forever); yields
    its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(asgi, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="dashboard", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the dashboard did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
