"""`aito up`: services, schema, registration and the org chart, idempotent."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import redis


def test_up_twice_registers_once_and_prints_the_org_chart(
    example_repo: Path,
    postgres_url: str,
    redis_url: str,
    monkeypatch,
    run_aito,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("POSTGRES_URL", postgres_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    first = run_aito("--repo", str(example_repo), "up")
    assert first.code == 0, first.err
    assert "11 registered" in first.out and "11 new or changed" in first.out
    assert "pgvector 0.8" in first.out
    for expected in (
        "CEO  Chief Executive Officer",
        "├─ CMO",
        "every 4h",
        "$6/day",
        "og-shibaclassic/shiba-social",
        "content/**, campaigns/**",
        "[read, write]",
    ):
        assert expected in first.out

    second = run_aito("--repo", str(example_repo), "up", "--json")
    assert second.code == 0
    data = json.loads(second.out)
    assert data["migrations_applied"] == []
    assert data["registered"]["inserted"] == [] and data["registered"]["updated"] == []
    assert data["registered"]["redis_changed"] == []
    assert len(data["registered"]["unchanged"]) == 11
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT count(*) FROM agents").fetchone() == (11,)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    assert client.hlen("agents:registry") == 11
    client.close()


def test_up_on_embedded_defaults_needs_nothing_but_a_data_dir(
    example_repo: Path,
    tmp_path: Path,
    run_aito,  # type: ignore[no-untyped-def]
) -> None:
    data = tmp_path / "data"
    common = ("--repo", str(example_repo), "--data-dir", str(data))
    try:
        result = run_aito(*common, "up", "--json")
        assert result.code == 0, result.err
        info = json.loads(result.out)
        assert info["postgres"]["embedded"] and info["redis"]["embedded"]
        assert info["postgres"]["pgvector"].startswith("0.8")
        assert (data / "postgres" / "PG_VERSION").exists() and (data / "redis").is_dir()
    finally:
        run_aito(*common, "services", "down")


def test_agent_run_records_a_wake_up_once(
    governance_repo: Path,
    postgres_url: str,
    redis_url: str,
    monkeypatch,
    run_aito,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("POSTGRES_URL", postgres_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("GITHUB_RUN_ID", "4242")
    example_repo = governance_repo
    args = ("--repo", str(example_repo), "agent", "run", "cto", "--trigger", "workflow_dispatch")
    first = run_aito(*args, "--json")
    assert first.code == 0, first.err
    outcome = json.loads(first.out)
    assert outcome["run_id"] == "cto:workflow_dispatch:gh-4242"
    assert outcome["status"] == "completed" and outcome["already_done"] is False
    assert outcome["usage"]["input_tokens"] > 0
    second = run_aito(*args)
    assert second.code == 0 and "nothing done twice" in second.out
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    assert client.hget("agent:status:cto", "run_id") == "cto:workflow_dispatch:gh-4242"
    client.close()
    worker = run_aito("--repo", str(example_repo), "agent", "run", "analyst")
    assert worker.code == 2 and "worker kind" in worker.err
