"""The real embedded Postgres: pgvector, migrations, agent registration, the audit log."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg
import pytest

from aito.errors import TemporaryAdapterError
from aito.memory import base, migrations
from aito.memory.postgres import PostgresMemory
from aito.org import loading


def test_pgvector_is_installed_by_the_first_migration(memory: PostgresMemory) -> None:
    assert memory.vector_version() is None
    memory.migrate()
    version = memory.vector_version()
    assert version is not None and tuple(int(p) for p in version.split(".")[:2]) >= (0, 8)


def test_migrations_apply_once_and_a_second_run_changes_nothing(
    memory: PostgresMemory, postgres_url: str
) -> None:
    applied = memory.migrate()
    assert [m.version for m in applied] == [m.version for m in migrations.shipped()]
    before = memory.applied_migrations()
    with psycopg.connect(postgres_url) as conn:
        tables_before = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
            "ORDER BY 1"
        ).fetchall()

    assert memory.migrate() == []

    assert memory.applied_migrations() == before
    with psycopg.connect(postgres_url) as conn:
        tables_after = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
            "ORDER BY 1"
        ).fetchall()
    assert tables_after == tables_before
    names = {row[0] for row in tables_after}
    assert {
        "agents",
        "agent_state",
        "agent_history",
        "decisions",
        "tasks",
        "events",
        "model_usage",
        "schema_migrations",
    } <= names


def test_history_has_a_vector_column_and_hnsw_indexes_per_agent_only(
    memory: PostgresMemory, postgres_url: str
) -> None:
    """One HNSW index over every agent's rows (0004) is gone since 0006: recall is per
    agent, through an agent's own index (tests/memory/test_recall_indexes.py)."""
    memory.migrate()
    with psycopg.connect(postgres_url) as conn:
        column = conn.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'agent_history'::regclass AND attname = 'embedding'"
        ).fetchone()
        index = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'agent_history' "
            "AND indexname = 'agent_history_embedding'"
        ).fetchone()
    assert column == ("vector(384)",)
    assert index is None


def test_an_edited_migration_is_refused(memory: PostgresMemory, postgres_url: str) -> None:
    memory.migrate()
    with psycopg.connect(postgres_url) as conn:
        conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
    with pytest.raises(Exception, match="changed after it was applied"):
        memory.migrate()


def test_registering_agents_twice_changes_nothing(
    memory: PostgresMemory, postgres_url: str, example_repo: Path
) -> None:
    memory.migrate()
    rows = base.agent_rows(loading.load_valid(example_repo))
    first = memory.register_agents(rows)
    assert sorted(first.inserted) == sorted(r.id for r in rows)
    with psycopg.connect(postgres_url) as conn:
        stamps = conn.execute("SELECT id, updated_at FROM agents ORDER BY id").fetchall()
        events = conn.execute("SELECT count(*) FROM events").fetchone()

    second = memory.register_agents(rows)

    assert not second.changed and sorted(second.unchanged) == sorted(r.id for r in rows)
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT id, updated_at FROM agents ORDER BY id").fetchall() == stamps
        assert conn.execute("SELECT count(*) FROM events").fetchone() == events


def test_an_edited_agent_is_updated_and_a_removed_one_retired(
    memory: PostgresMemory, example_repo: Path
) -> None:
    memory.migrate()
    memory.register_agents(base.agent_rows(loading.load_valid(example_repo)))
    cmo = example_repo / "org/agents/cmo.yaml"
    cmo.write_text(cmo.read_text().replace("daily_usd: 6", "daily_usd: 7"))
    rows = [r for r in base.agent_rows(loading.load_valid(example_repo)) if r.id != "cco"]

    result = memory.register_agents(rows)

    assert result.updated == ["cmo"] and result.retired == ["cco"] and not result.inserted
    statuses = {row["id"]: row["status"] for row in memory.agents()}
    assert statuses["cco"] == "retired" and statuses["cmo"] == "inactive"


def test_events_are_append_only(memory: PostgresMemory, postgres_url: str) -> None:
    memory.migrate()
    with psycopg.connect(postgres_url) as conn:
        conn.execute("INSERT INTO events (event_type) VALUES ('test.appended')")
    for statement in (
        "UPDATE events SET event_type = 'x'",
        "DELETE FROM events",
        "TRUNCATE events",
    ):
        with (
            psycopg.connect(postgres_url) as conn,
            pytest.raises(psycopg.errors.RaiseException, match="append-only"),
        ):
            conn.execute(statement)
    assert [e["event_type"] for e in memory.events()] == ["test.appended"]


def test_a_wake_up_is_recorded_once_per_run_id(memory: PostgresMemory, example_repo: Path) -> None:
    memory.migrate()
    memory.register_agents(base.agent_rows(loading.load_valid(example_repo)))
    at = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)
    assert memory.record_wake(agent_id="cmo", run_id="cmo:gh-1", trigger="schedule", at=at)
    assert not memory.record_wake(agent_id="cmo", run_id="cmo:gh-1", trigger="schedule", at=at)
    woke = memory.events(event_type="agent.woke")
    assert len(woke) == 1 and woke[0]["source_agent"] == "cmo"
    assert woke[0]["payload"] == {"trigger": "schedule"}
    heartbeat = {row["id"]: row["last_heartbeat"] for row in memory.agents()}["cmo"]
    assert heartbeat == at


def test_an_unreachable_server_is_a_temporary_error(tmp_path: Path) -> None:
    unreachable = PostgresMemory(
        url=f"postgresql://postgres@/aito?host={tmp_path}", connect_timeout=2, retry_seconds=0.5
    )
    with pytest.raises(TemporaryAdapterError, match="cannot reach Postgres"):
        unreachable.server_version()
