"""Recall in one statement: similar rows best first with full-precision scores, tagged
parts merged, and the exact path agreeing with the indexed one."""

from __future__ import annotations

import psycopg

from aito.memory.postgres import PostgresMemory
from aito.memory.postgres.connection import SESSION_SETTINGS, with_session_settings
from tests.memory.test_history import entry, unit


def test_similar_items_come_best_first_and_match_an_exact_search(store: PostgresMemory) -> None:
    rows = [entry("cmo", f"post {n}", hours=n) for n in range(30)]
    store.write_history(rows, embeddings=[unit(1, 0.1 * n) for n in range(30)], model="m")
    found = store.recall(agent_id="cmo", query=unit(1), k=5, recent=3)
    exact = store.recall(agent_id="cmo", query=unit(1), k=5, recent=3, exact=True)
    similar = [i for i in found if i.source != "recent"]
    scores = [i.score for i in similar if i.score is not None]
    assert [i.summary for i in similar] == [f"post {n}" for n in range(5)]
    assert scores == sorted(scores, reverse=True) and len(scores) == 5
    assert [i.id for i in found] == [i.id for i in exact]
    assert [i.summary for i in found[5:]] == ["post 29", "post 28", "post 27"]


def test_k_and_recent_of_zero_return_nothing(store: PostgresMemory) -> None:
    store.write_history([entry("cmo", "only")], embeddings=[unit(1)], model="m")
    assert store.recall(agent_id="cmo", query=unit(1), k=0, recent=0) == []


def test_a_urls_own_options_are_kept_beside_the_recall_settings(postgres_url: str) -> None:
    """POSTGRES_URL may carry its own session options; recall's HNSW settings join them."""
    url = psycopg.conninfo.make_conninfo(postgres_url, options="-c statement_timeout=4321")
    with psycopg.connect(with_session_settings(url)) as conn:
        assert conn.execute("SHOW statement_timeout").fetchone() == ("4321ms",)
        assert conn.execute("SHOW hnsw.iterative_scan").fetchone() == ("relaxed_order",)
        assert conn.execute("SHOW hnsw.ef_search").fetchone() == (
            SESSION_SETTINGS["hnsw.ef_search"],
        )
