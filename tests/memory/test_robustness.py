"""Postgres dies mid-write and comes back: every history row is written exactly once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg

from aito.errors import TemporaryAdapterError
from aito.memory import base
from aito.memory.base import HistoryEntry
from aito.memory.postgres import PostgresMemory
from aito.memory.writing import HistoryWriter
from aito.org import loading
from aito.services.postgres_server import EmbeddedPostgres


def test_history_survives_a_crash_and_restart_of_postgres(
    tmp_path: Path, example_repo: Path
) -> None:
    server = EmbeddedPostgres(data_dir=tmp_path)
    admin = server.start()
    try:
        PostgresMemory(url=admin).ensure_database("aito")
        url = server.url()
        assert url is not None
        store = PostgresMemory(url=url, connect_timeout=2)
        store.migrate()
        store.register_agents(base.agent_rows(loading.load_valid(example_repo)))
        writer = HistoryWriter(
            store=store, embedder=None, batch_size=20, linger_seconds=0.01, max_backoff_seconds=0.5
        )
        entries = [
            HistoryEntry.new(
                agent_id="cmo", action_type="action", summary=f"step {n}", details={"n": n}
            )
            for n in range(400)
        ]

        def produce() -> None:
            for item in entries:
                writer.record(item)
                time.sleep(0.002)

        producer = threading.Thread(target=produce)
        producer.start()
        time.sleep(0.3)  # writes are under way
        server.stop(mode="immediate")  # a crash: no checkpoint, recovery on the next start
        down_errors = 0
        try:
            PostgresMemory(url=url, connect_timeout=1, retry_seconds=0).history_count()
        except TemporaryAdapterError:
            down_errors += 1
        time.sleep(0.5)
        server.start()
        producer.join()
        assert writer.close(timeout=60), "history was left unwritten"
        assert down_errors == 1  # the outage was visible as a temporary error
        with psycopg.connect(url) as conn:
            ids = conn.execute("SELECT id FROM agent_history").fetchall()
        assert len(ids) == len(entries) == len({row[0] for row in ids})  # all, exactly once
        assert {row[0] for row in ids} == {e.id for e in entries}
        assert writer.rejected == []
    finally:
        server.stop()


def test_an_operation_waits_out_a_short_outage(tmp_path: Path, example_repo: Path) -> None:
    server = EmbeddedPostgres(data_dir=tmp_path)
    admin = server.start()
    try:
        PostgresMemory(url=admin).ensure_database("aito")
        url = server.url()
        assert url is not None
        store = PostgresMemory(url=url, connect_timeout=1, retry_seconds=20)
        store.migrate()
        server.stop(mode="immediate")
        restart = threading.Timer(1.0, server.start)
        restart.start()
        assert store.vector_version() is not None  # retried until the server was back
        restart.join()
    finally:
        server.stop()
