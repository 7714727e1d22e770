"""History: exactly-once batched writes, pgvector recall with filters, backfill."""

from __future__ import annotations

import datetime as dt
import math

from aito.memory.base import HistoryEntry, UsageRow
from aito.memory.postgres import PostgresMemory
from aito.memory.writing import HistoryWriter, backfill

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def unit(*weights: float) -> list[float]:
    """A 384-dim unit vector with the given leading weights (test data, not an embedder)."""
    vector = [*weights, *([0.0] * (384 - len(weights)))]
    norm = math.sqrt(sum(w * w for w in vector)) or 1.0
    return [w / norm for w in vector]


def entry(
    agent: str, summary: str, *, hours: float = 0, kind: str = "action", pr: int | None = None
) -> HistoryEntry:
    return HistoryEntry.new(
        agent_id=agent,
        action_type=kind,
        summary=summary,
        details={"n": summary},
        run_id=f"{agent}:run",
        pr_number=pr,
        created_at=T0 + dt.timedelta(hours=hours),
    )


def test_a_retried_batch_writes_each_entry_once(store: PostgresMemory) -> None:
    batch = [entry("cmo", f"post {n}") for n in range(5)]
    vectors = [unit(1, n) for n in range(5)]
    assert store.write_history(batch, embeddings=vectors, model="m") == 5
    assert store.write_history(batch, embeddings=vectors, model="m") == 0  # a retry
    assert store.history_count("cmo") == 5


def test_recall_merges_similar_and_recent_with_scores_and_provenance(store: PostgresMemory) -> None:
    old_treasury = entry("cfo", "treasury report", hours=0, kind="report", pr=7)
    noise = [entry("cfo", f"noise {n}", hours=1 + n) for n in range(20)]
    recent = entry("cfo", "latest action", hours=30)
    store.write_history(
        [old_treasury, *noise, recent],
        embeddings=[unit(1, 0), *[unit(0, 1, n) for n in range(20)], unit(0, 0, 1)],
        model="m",
    )
    items = store.recall(agent_id="cfo", query=unit(1, 0.05), k=1, recent=2)
    assert [i.summary for i in items] == ["treasury report", "latest action", "noise 19"]
    top = items[0]
    assert top.source == "similar" and top.score is not None and top.score > 0.99
    assert (top.pr_number, top.run_id, top.action_type) == (7, "cfo:run", "report")
    assert items[1].source == "recent" and items[1].score is None


def test_recall_filters_by_agent_type_and_time(store: PostgresMemory) -> None:
    store.write_history(
        [
            entry("cmo", "cmo post", kind="post"),
            entry("cto", "cto deploy", kind="deploy"),
            entry("cmo", "cmo decision", hours=5, kind="decision"),
        ],
        embeddings=[unit(1), unit(1), unit(1)],
        model="m",
    )
    only_cmo = store.recall(agent_id="cmo", query=unit(1), k=10, recent=0)
    assert {i.summary for i in only_cmo} == {"cmo post", "cmo decision"}
    decisions = store.recall(
        agent_id="cmo", query=unit(1), k=10, recent=10, action_types=["decision"]
    )
    assert [i.summary for i in decisions] == ["cmo decision"]
    early = store.recall(
        agent_id="cmo", query=unit(1), k=10, recent=10, until=T0 + dt.timedelta(hours=1)
    )
    assert [i.summary for i in early] == ["cmo post"]


def test_filters_do_not_starve_results_on_the_hnsw_index(store: PostgresMemory) -> None:
    # 400 rows of another agent sit nearest the query; the filtered agent's rows must still come.
    crowd = [entry("cto", f"cto {n}") for n in range(400)]
    store.write_history(crowd, embeddings=[unit(1, 0.001 * n) for n in range(400)], model="m")
    mine = [entry("cmo", f"cmo {n}") for n in range(10)]
    store.write_history(mine, embeddings=[unit(0.5, 1, n) for n in range(10)], model="m")
    items = store.recall(agent_id="cmo", query=unit(1), k=10, recent=0)
    assert len(items) == 10 and all(i.agent_id == "cmo" for i in items)


def test_the_writer_batches_embeds_and_never_blocks(store: PostgresMemory) -> None:
    class Embedder:
        model = "test-vectors"
        calls = 0

        def embed(self, texts):  # type: ignore[no-untyped-def]
            Embedder.calls += 1
            return [unit(1, len(t)) for t in texts]

    writer = HistoryWriter(store=store, embedder=Embedder(), batch_size=50, linger_seconds=0.05)
    for n in range(120):
        writer.record(entry("coo", f"support answer {n}"))
    assert writer.close(timeout=30)
    assert writer.written == 120 and store.history_count("coo") == 120
    assert Embedder.calls <= 10  # batched, not one call per entry
    assert store.unembedded() == []


def test_rows_without_embeddings_are_backfilled(store: PostgresMemory) -> None:
    class Broken:
        model = "x"

        def embed(self, texts):  # type: ignore[no-untyped-def]
            raise RuntimeError("model not loaded")

    writer = HistoryWriter(store=store, embedder=Broken(), linger_seconds=0.01)
    writer.record(entry("cco", "policy review"))
    assert writer.close(timeout=10)
    assert len(store.unembedded()) == 1  # written anyway: history is never dropped

    class Working:
        model = "fixed"

        def embed(self, texts):  # type: ignore[no-untyped-def]
            return [unit(1) for _ in texts]

    assert backfill(store, Working()) == 1
    assert store.unembedded() == []
    assert store.recall(agent_id="cco", query=unit(1), k=1, recent=0)[0].summary == "policy review"


def test_an_entry_for_an_unknown_agent_is_rejected_not_retried_forever(
    store: PostgresMemory,
) -> None:
    writer = HistoryWriter(store=store, embedder=None, linger_seconds=0.01)
    writer.record(entry("ghost", "who am I"))
    writer.record(entry("cmo", "fine"))
    assert writer.close(timeout=10)
    assert [e.agent_id for e, _ in writer.rejected] == ["ghost"]
    assert store.history_count("cmo") == 1


def test_usage_is_summed_for_budgets(store: PostgresMemory) -> None:
    for cost in (0.25, 0.5):
        store.record_usage(
            UsageRow(
                agent_id="cmo",
                run_id="r",
                model="claude-sonnet-4-5",
                input_tokens=1000,
                output_tokens=200,
                cache_write_tokens=0,
                cache_read_tokens=300,
                cost_usd=cost,
                latency_ms=900,
                created_at=T0,
            )
        )
    assert store.spent(agent_id="cmo", since=T0) == (0.75, 3000)
    assert store.spent(agent_id="cto", since=T0) == (0.0, 0)
    assert store.spent(agent_id=None, since=T0 + dt.timedelta(days=1)) == (0.0, 0)
