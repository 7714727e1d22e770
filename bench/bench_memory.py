"""Memory figures on a real embedded Postgres with pgvector.

1. Retrieval: p50/p99 latency of `recall` over 100,000 history rows (384-dim) and
   recall@10 against an exact search, without and with a 10%-selective filter
   (targets: p99 under 15 ms, recall@10 >= 0.95): 1,000 distinct queries, timed
   after one untimed pass (steady state), graded against exact neighbours computed
   with numpy (checked against Postgres's exact search on a sample).
2. History writes with the HNSW index in place: rows/s batched vs one by one.

Vectors have a low intrinsic dimension, like sentence embeddings (see `fill`).
Run: .venv/bin/python bench/bench_memory.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import dataclasses
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


QUERIES = 1000
TYPES = 10  # row n has action type f"type-{n % TYPES}": one type is a 10%-selective filter


@dataclasses.dataclass
class Workload:
    queries: list[list[float]]
    truth: list[list[int]]  # per query: the 10 nearest row numbers (exact, numpy)
    truth_filtered: list[list[int]]  # the same among rows of type-3


def fill(url: str, rows: int) -> Workload:
    """``rows`` history rows for one agent (10 action types) and ``QUERIES`` queries
    with their exact nearest neighbours.

    Sentence embeddings live near a low-dimensional surface: rows are 24-dimensional
    latent points mapped into 384 dimensions, plus a little noise, so nearest
    neighbours are meaningful (uniform random vectors are all nearly equidistant).
    The HNSW index is dropped for the bulk load and built again, as in a restore.
    """
    import numpy

    rng = numpy.random.default_rng(7)
    projection = rng.normal(size=(24, DIM))
    latent = rng.normal(size=(rows, 24))
    vectors = latent @ projection + rng.normal(scale=0.5, size=(rows, DIM))
    vectors /= numpy.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = vectors.astype(numpy.float32)
    picks = rng.choice(rows, size=QUERIES, replace=rows < QUERIES)
    queries = (latent[picks] + rng.normal(scale=0.3, size=(QUERIES, 24))) @ projection
    queries /= numpy.linalg.norm(queries, axis=1, keepdims=True)
    queries = queries.astype(numpy.float32)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("DROP INDEX agent_history_embedding")
        with conn.cursor().copy(
            "COPY agent_history (agent_id, action_type, summary, details, embedding, created_at) "
            "FROM STDIN"
        ) as copy:
            for n, vector in enumerate(vectors):
                text = "[" + ",".join(map("{:.9g}".format, vector)) + "]"
                copy.write_row(
                    ("cmo", f"type-{n % TYPES}", f"row {n}", "{}", text, "2026-01-01T00:00:00Z")
                )
        conn.execute(
            "CREATE INDEX agent_history_embedding ON agent_history "
            "USING hnsw ((embedding::halfvec(384)) halfvec_cosine_ops)"  # as migration 0004
        )
        conn.execute("VACUUM ANALYZE agent_history")  # what autovacuum does after a load
    # Exact cosine neighbours (the vectors are unit length: the largest dot products).
    scores = queries @ vectors.T
    typed = numpy.arange(rows) % TYPES == 3
    return Workload(
        queries=[[float(x) for x in q] for q in queries],
        truth=[list(map(int, numpy.argsort(-row)[:10])) for row in scores],
        truth_filtered=[
            list(map(int, numpy.flatnonzero(typed)[numpy.argsort(-row[typed])[:10]]))
            for row in scores
        ],
    )


def measure(store: PostgresMemory, work: Workload, types: list[str] | None) -> None:
    """Time one recall per query, after one untimed pass over all of them (a running
    server's index and table are in memory; a first touch reads them from disk)."""
    truth = work.truth_filtered if types else work.truth
    for query in work.queries:
        store.recall(agent_id="cmo", query=query, k=10, recent=0, action_types=types)
    latencies, hits = [], []
    for query, nearest in zip(work.queries, truth, strict=True):
        started = time.perf_counter()
        found = store.recall(agent_id="cmo", query=query, k=10, recent=0, action_types=types)
        latencies.append((time.perf_counter() - started) * 1000)
        hits.append(len({_row(item.summary) for item in found} & set(nearest)) / 10)
    # The numpy ground truth agrees with Postgres's own exact search (a sample).
    for query, nearest in list(zip(work.queries, truth, strict=True))[:10]:
        exact = store.recall(
            agent_id="cmo", query=query, k=10, recent=0, action_types=types, exact=True
        )
        assert len({_row(i.summary) for i in exact} & set(nearest)) >= 9, "ground truth"
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99)]
    label = "10%-selective filter" if types else "no filter"
    print(
        f"recall ({label}): p50 {statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms, "
        f"recall@10 {statistics.mean(hits):.3f} over {len(latencies)} queries "
        "(targets: p99 < 15 ms, recall@10 >= 0.95)"
    )


def _row(summary: str) -> int:
    return int(summary.removeprefix("row "))


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
            work = fill(url, args.rows)
            print(
                f"filled {args.rows:,} rows with the HNSW index in "
                f"{time.perf_counter() - started:.0f} s"
            )
            measure(store, work, None)
            measure(store, work, ["type-3"])
            writes(store, 5000)
            store.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
