"""Recall per agent: an agent over the threshold is searched through an HNSW index of its
own, a smaller one exactly, and neither ever sees another agent's rows."""

from __future__ import annotations

import json
from typing import Any

import numpy
import psycopg
import pytest

from aito.memory import migrations
from aito.memory.postgres import PostgresMemory, history, indexing
from aito.memory.postgres.connection import with_session_settings
from tests.memory.test_history import entry, unit


def vectors(count: int, *, seed: int) -> list[list[float]]:
    """Unit vectors with a low intrinsic dimension, as sentence embeddings have (16
    latent dimensions projected into 384, a little noise): neighbours mean something."""
    rng = numpy.random.default_rng(seed)
    projection = numpy.random.default_rng(0).normal(size=(16, 384))  # one space for all
    found = rng.normal(size=(count, 16)) @ projection + rng.normal(scale=0.3, size=(count, 384))
    found /= numpy.linalg.norm(found, axis=1, keepdims=True)
    return [[float(x) for x in row] for row in found]


def fill(store: PostgresMemory, agent: str, count: int, *, seed: int = 1) -> list[list[float]]:
    found = vectors(count, seed=seed)
    for start in range(0, count, 1000):
        part = found[start : start + 1000]
        rows = [entry(agent, f"{agent} {start + n}") for n in range(len(part))]
        store.write_history(rows, embeddings=part, model="m")
    return found


def plan(url: str, **ask: Any) -> str:
    statement, params = history.recall_statement(**ask)
    with psycopg.connect(with_session_settings(url), autocommit=True) as conn:
        row = conn.execute("EXPLAIN (FORMAT JSON) " + statement, params).fetchone()
    assert row is not None
    return json.dumps(row[0])


def test_an_agent_over_the_threshold_gets_its_own_index_from_the_write(
    store: PostgresMemory, postgres_url: str
) -> None:
    store.exact_below = 1000
    fill(store, "cmo", 2000)
    fill(store, "cto", 300, seed=2)

    assert store.recall_indexes() == {"cmo": indexing.recall_index_name("cmo")}
    query = vectors(1, seed=9)[0]
    cmo_plan = plan(postgres_url, agent_id="cmo", query=query, k=10, recent=0)
    assert indexing.recall_index_name("cmo") in cmo_plan
    cto_plan = plan(postgres_url, agent_id="cto", query=query, k=10, recent=0)
    assert "agent_history_recall_" not in cto_plan  # exact: no HNSW index of its own


def test_both_paths_find_the_nearest_rows_of_that_agent_only(store: PostgresMemory) -> None:
    store.exact_below = 1000
    queries = vectors(20, seed=5)
    fill(store, "cmo", 2000)
    # rows of other agents right on top of the queries: any leak would rank first
    store.write_history(
        [entry("cto", f"decoy {n}") for n in range(len(queries))],
        embeddings=queries,
        model="m",
    )
    assert set(store.recall_indexes()) == {"cmo"}
    overlap = []
    for query in queries:
        found = store.recall(agent_id="cmo", query=query, k=10, recent=0)
        exact = store.recall(agent_id="cmo", query=query, k=10, recent=0, exact=True)
        assert {item.agent_id for item in found} == {"cmo"}
        overlap.append(len({i.id for i in found} & {i.id for i in exact}) / 10)
        small = store.recall(agent_id="cto", query=query, k=1, recent=0)
        assert [item.summary for item in small] == [f"decoy {queries.index(query)}"]
        assert small[0].score == pytest.approx(1.0, abs=1e-5)
    assert sum(overlap) / len(overlap) >= 0.9


def test_an_index_left_invalid_is_built_again(store: PostgresMemory, postgres_url: str) -> None:
    store.exact_below = 1000
    fill(store, "cmo", 1200)
    name = indexing.recall_index_name("cmo")
    with psycopg.connect(postgres_url, autocommit=True) as conn:  # a build that died midway
        conn.execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass", (name,)
        )
    assert store.recall_indexes() == {}
    assert store.index_recall() == ["cmo"]
    assert store.recall_indexes() == {"cmo": name}
    assert store.index_recall() == []  # nothing twice


def test_agents_under_the_threshold_are_left_alone(store: PostgresMemory) -> None:
    store.exact_below = 1000
    fill(store, "cmo", 999)
    assert store.index_recall() == []
    assert store.recall_indexes() == {}
    fill(store, "cmo", 1, seed=3)  # the thousandth row
    assert store.recall_indexes() == {"cmo": indexing.recall_index_name("cmo")}


def test_migration_0006_indexes_the_agents_already_over_the_threshold(
    store: PostgresMemory, postgres_url: str
) -> None:
    store.exact_below = 10**9  # no index from the writes: as before the migration
    fill(store, "ceo", indexing.EXACT_BELOW)
    fill(store, "cfo", indexing.EXACT_BELOW - 1, seed=2)
    assert store.recall_indexes() == {}
    [sql] = [m.sql for m in migrations.shipped() if m.version == 6]
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(sql.encode())  # as applied to a database with that history
    assert store.recall_indexes() == {"ceo": indexing.recall_index_name("ceo")}  # same name


def test_a_query_embedding_is_sent_exactly(store: PostgresMemory) -> None:
    store.write_history([entry("cmo", "a")], embeddings=[unit(1, 0.25)], model="m")
    [found] = store.recall(agent_id="cmo", query=unit(1, 0.25), k=1, recent=0)
    assert found.score == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="pgvector"):
        history.QueryVector([1e39] * 384)


def test_the_migration_and_the_code_share_the_threshold() -> None:
    [sql] = [m.sql for m in migrations.shipped() if m.version == 6]
    assert f"HAVING count(*) >= {indexing.EXACT_BELOW}" in sql
    assert "left(md5(agent), 16)" in sql and indexing.recall_index_name("x").startswith(
        "agent_history_recall_"
    )
