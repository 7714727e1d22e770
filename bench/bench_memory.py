"""Memory figures on a real embedded Postgres with pgvector.

1. Retrieval: p50/p99 latency of `recall` over 100,000 history rows (384-dim) and
   recall@10 against an exact search, without and with a 10%-selective filter
   (targets: p99 under 15 ms, recall@10 >= 0.95).
2. History writes with the HNSW index in place: rows/s batched vs one by one.

Vectors are clustered (200 centres plus noise), generated inside Postgres, as
embeddings of an organization's history cluster by topic.
Run: .venv/bin/python bench/bench_memory.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import psycopg

from aito.memory import base
from aito.memory.base import HistoryEntry
from aito.memory.postgres import PostgresMemory
from aito.org import loading
from aito.services.postgres_server import EmbeddedPostgres

REPO_ROOT = Path(__file__).resolve().parents[1]
DIM = 384


def fill(url: str, rows: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute(
            "CREATE TEMP TABLE centres AS SELECT c AS id, "
            f"(SELECT array_agg(random() - 0.5) FROM generate_series(1, {DIM}) WHERE c >= 0) AS v "
            "FROM generate_series(0, 199) c"
        )
        conn.execute(
            "INSERT INTO agent_history (agent_id, action_type, summary, details, embedding, "
            "created_at) SELECT 'cmo', 'type-' || (g % 10), 'row ' || g, '{}'::jsonb, "
            f"(SELECT array_agg(c.v[i] + (random() - 0.5) * 0.4) FROM generate_series(1, {DIM}) i"
            ")::vector, now() - (g || ' seconds')::interval "
            f"FROM generate_series(1, {rows}) g JOIN centres c ON c.id = g % 200"
        )
        conn.execute("ANALYZE agent_history")
        queries = conn.execute(
            f"SELECT (SELECT array_agg(c.v[i] + (random() - 0.5) * 0.4) FROM generate_series(1, "
            f"{DIM}) i) FROM centres c ORDER BY random() LIMIT 100"
        ).fetchall()
    Path(_queries_path(url)).write_text(json.dumps([[float(x) for x in q[0]] for q in queries]))


def _queries_path(url: str) -> str:
    return str(Path(tempfile.gettempdir()) / f"aito-bench-queries-{abs(hash(url))}.txt")


def measure(store: PostgresMemory, queries: list[list[float]], types: list[str] | None) -> None:
    latencies, hits = [], []
    for query in queries:
        started = time.perf_counter()
        found = store.recall(agent_id="cmo", query=query, k=10, recent=0, action_types=types)
        latencies.append((time.perf_counter() - started) * 1000)
        exact = store.recall(
            agent_id="cmo", query=query, k=10, recent=0, action_types=types, exact=True
        )
        hits.append(len({i.id for i in found} & {i.id for i in exact}) / max(1, len(exact)))
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    label = "10%-selective filter" if types else "no filter"
    print(
        f"recall ({label}): p50 {statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms, "
        f"recall@10 {statistics.mean(hits):.3f} over {len(queries)} queries "
        "(targets: p99 < 15 ms, recall@10 >= 0.95)"
    )


def writes(store: PostgresMemory, count: int) -> None:
    vector = [0.01 * (n % 17) for n in range(DIM)]
    batch = [
        HistoryEntry.new(agent_id="cto", action_type="w", summary=f"w{n}", details={})
        for n in range(count)
    ]
    started = time.perf_counter()
    for offset in range(0, count, 500):
        part = batch[offset : offset + 500]
        store.write_history(part, embeddings=[vector] * len(part), model="bench")
    batched = count / (time.perf_counter() - started)
    single = [
        HistoryEntry.new(agent_id="cto", action_type="w", summary=f"s{n}", details={})
        for n in range(count // 10)
    ]
    started = time.perf_counter()
    for item in single:
        store.write_history([item], embeddings=[vector], model="bench")
    one = len(single) / (time.perf_counter() - started)
    print(
        f"history writes with the HNSW index: batched {batched:,.0f} rows/s, one by one "
        f"{one:,.0f} rows/s ({batched / one:.1f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedPostgres(data_dir=Path(tmp))
        admin = server.start()
        try:
            PostgresMemory(url=admin).ensure_database("aito")
            url = server.url()
            assert url is not None
            store = PostgresMemory(url=url, pool_size=2)
            store.migrate()
            store.register_agents(base.agent_rows(loading.load_valid(REPO_ROOT)))
            started = time.perf_counter()
            fill(url, args.rows)
            print(
                f"filled {args.rows:,} rows with the HNSW index in "
                f"{time.perf_counter() - started:.0f} s"
            )
            queries = json.loads(Path(_queries_path(url)).read_text())
            measure(store, queries, None)
            measure(store, queries, ["type-3"])
            writes(store, 5000)
            store.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
