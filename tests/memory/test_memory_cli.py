"""`aito memory …` with the real offline embedder and Postgres."""

from __future__ import annotations

import json
from pathlib import Path

from aito.memory import base, embedding
from aito.memory.base import HistoryEntry
from aito.memory.postgres import PostgresMemory
from aito.memory.writing import HistoryWriter
from aito.org import loading
from aito.settings import Settings


def test_recall_finds_history_by_meaning(
    example_repo: Path,
    postgres_url: str,
    redis_url: str,
    monkeypatch,
    run_aito,  # type: ignore[no-untyped-def]
) -> None:
    store = PostgresMemory(url=postgres_url)
    store.migrate()
    store.register_agents(base.agent_rows(loading.load_valid(example_repo)))
    embedder = embedding.embedder_for(Settings.from_env({"AITO_REPO": str(example_repo)}))
    writer = HistoryWriter(store=store, embedder=embedder, linger_seconds=0.01)
    for summary in (
        "Published the treasury report: reserves fell 8% this month",
        "Scheduled three posts about the community meetup",
        "Rejected a partnership with an unknown exchange",
    ):
        writer.record(HistoryEntry.new(agent_id="cfo", action_type="report", summary=summary))
    assert writer.close(timeout=60)
    store.put_state("cfo", "reserves", {"usd": 120000}, expected_version=None)
    monkeypatch.setenv("POSTGRES_URL", postgres_url)
    monkeypatch.setenv("REDIS_URL", redis_url)

    found = run_aito(
        "--repo",
        str(example_repo),
        "memory",
        "recall",
        "cfo",
        "how much money does the DAO have left",
        "-k",
        "1",
        "--json",
    )
    assert found.code == 0, found.err
    assert "treasury report" in json.loads(found.out)[0]["summary"]
    listing = run_aito("--repo", str(example_repo), "memory", "history", "cfo")
    assert listing.out.count("[report]") == 3
    assert "reserves (v1)" in run_aito("--repo", str(example_repo), "memory", "state", "cfo").out
