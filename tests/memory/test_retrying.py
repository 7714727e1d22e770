"""Operations other than history writes wait out a Postgres outage, within a bound, and a
write whose commit reply was lost is not applied twice when it is retried."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from aito import retrying
from aito.errors import ConflictError, TemporaryAdapterError
from aito.memory import base
from aito.memory.postgres import PostgresMemory, connection
from aito.org import loading
from aito.services.postgres_server import EmbeddedPostgres


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    """A private embedded Postgres this test may stop and start (with the schema)."""
    embedded = EmbeddedPostgres(data_dir=tmp_path / "pg")
    admin = embedded.start()
    try:
        PostgresMemory(url=admin).ensure_database("aito")
        yield embedded
    finally:
        embedded.stop()


def _store(server: EmbeddedPostgres, example_repo: Path, **options: float) -> PostgresMemory:
    url = server.url()
    assert url is not None
    store = PostgresMemory(url=url, connect_timeout=1, **options)  # type: ignore[arg-type]
    store.migrate()
    store.register_agents(base.agent_rows(loading.load_valid(example_repo)))
    return store


def _outage(server: EmbeddedPostgres, seconds: float) -> threading.Timer:
    server.stop(mode="immediate")  # a crash: recovery on the next start
    restart = threading.Timer(seconds, server.start)
    restart.start()
    return restart


@pytest.mark.parametrize("pool_size", [0, 2])
def test_state_reads_and_writes_wait_out_a_restart(
    server: EmbeddedPostgres, example_repo: Path, pool_size: int
) -> None:
    store = _store(server, example_repo, retry_seconds=20, pool_size=pool_size)
    try:
        version = store.put_state("cmo", "plan", {"step": 1}, expected_version=None)

        restart = _outage(server, 1.0)
        found = store.get_state("cmo", "plan")  # retried until the server was back
        restart.join()
        assert found is not None and found.value == {"step": 1}

        restart = _outage(server, 1.0)
        assert store.put_state("cmo", "plan", {"step": 2}, expected_version=version) == 2
        restart.join()

        restart = _outage(server, 1.0)
        store.append_event(event_type="test.after_restart", payload={"n": 1})
        assert [e["payload"] for e in store.events(event_type="test.after_restart")] == [{"n": 1}]
        restart.join()
        assert store.all_state("cmo")["plan"].version == 2
    finally:
        store.close()


def test_an_outage_longer_than_the_budget_is_reported(
    server: EmbeddedPostgres, example_repo: Path
) -> None:
    store = _store(server, example_repo, retry_seconds=1.0)
    server.stop(mode="immediate")
    started = time.monotonic()
    with pytest.raises(TemporaryAdapterError):
        store.get_state("cmo", "plan")
    assert time.monotonic() - started < 6  # about the budget, not the connect timeouts piled up
    server.start()


def test_no_retry_budget_fails_at_once(server: EmbeddedPostgres, example_repo: Path) -> None:
    store = _store(server, example_repo, retry_seconds=0)
    server.stop(mode="immediate")
    started = time.monotonic()
    with pytest.raises(TemporaryAdapterError):
        store.tasks()
    assert time.monotonic() - started < 3
    server.start()


def _lose_first_reply(
    store: PostgresMemory,
    monkeypatch: pytest.MonkeyPatch,
    *,
    meanwhile: Callable[[], None] = lambda: None,
) -> list[int]:
    """The next operation commits, then its connection fails before the reply arrives
    (and ``meanwhile`` runs before the retry); returns the attempts, as they happen."""
    real = store._connect
    attempts: list[int] = []

    @contextlib.contextmanager
    def flaky(*, retry: bool = True, pooled: bool = True) -> Iterator[connection.Connection]:
        attempts.append(1)
        with real(retry=retry, pooled=pooled) as conn:
            yield conn
        if len(attempts) == 1:
            meanwhile()
            raise TemporaryAdapterError("postgres", "connection lost after commit", retry_after=0)

    monkeypatch.setattr(store, "_connect", flaky)
    return attempts


def test_a_new_key_retried_after_a_lost_reply_finds_its_own_write(
    store: PostgresMemory, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts = _lose_first_reply(store, monkeypatch)
    assert store.put_state("cmo", "plan", {"step": 1}, expected_version=None) == 1
    assert len(attempts) == 2
    found = store.get_state("cmo", "plan")
    assert found is not None and (found.value, found.version) == ({"step": 1}, 1)


def test_an_update_retried_after_a_lost_reply_is_applied_once(
    store: PostgresMemory, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.put_state("cmo", "plan", {"step": 1}, expected_version=None)
    attempts = _lose_first_reply(store, monkeypatch)
    assert store.put_state("cmo", "plan", {"step": 2}, expected_version=1) == 2
    assert len(attempts) == 2
    found = store.get_state("cmo", "plan")
    assert found is not None and (found.value, found.version) == ({"step": 2}, 2)


def test_a_write_that_lands_between_the_attempts_is_a_conflict(
    store: PostgresMemory, monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    store.put_state("cmo", "plan", {"step": 1}, expected_version=None)

    def another_run_writes() -> None:
        with psycopg.connect(postgres_url) as conn:
            conn.execute(
                "UPDATE agent_state SET state_value = '{\"step\": 3}', version = version + 1 "
                "WHERE agent_id = 'cmo' AND state_key = 'plan'"
            )

    _lose_first_reply(store, monkeypatch, meanwhile=another_run_writes)
    with pytest.raises(ConflictError):
        store.put_state("cmo", "plan", {"step": 2}, expected_version=1)


def test_an_event_appended_again_after_a_lost_reply_is_written_once(
    store: PostgresMemory, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts = _lose_first_reply(store, monkeypatch)
    store.append_event(event_type="test.once", payload={"n": 1})
    assert len(attempts) == 2
    assert len(store.events(event_type="test.once")) == 1


def test_a_wake_retried_after_a_lost_reply_is_still_the_first(
    store: PostgresMemory, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)
    attempts = _lose_first_reply(store, monkeypatch)
    assert store.record_wake(agent_id="cmo", run_id="cmo:r1", trigger="cron", at=at)
    assert len(attempts) == 2
    assert not store.record_wake(agent_id="cmo", run_id="cmo:r1", trigger="cron", at=at)
    woke = [e for e in store.events(event_type="agent.woke") if e["run_id"] == "cmo:r1"]
    assert len(woke) == 1


def test_a_delete_retried_after_a_lost_reply_is_done(
    store: PostgresMemory, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.put_state("cmo", "plan", {"step": 1}, expected_version=None)
    _lose_first_reply(store, monkeypatch)
    store.delete_state("cmo", "plan", expected_version=1)
    assert store.get_state("cmo", "plan") is None


def test_backoff_is_bounded_and_jittered() -> None:
    sleeps: list[float] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    def failing() -> None:
        raise TemporaryAdapterError("postgres", "away", retry_after=0)

    policy = dataclasses.replace(connection.RETRY, budget_seconds=10)
    with pytest.raises(TemporaryAdapterError):
        retrying.call(failing, policy=policy, sleep=sleep, clock=lambda: now[0])
    assert sum(sleeps) <= 10
    assert all(0.05 <= s <= 3.0 for s in sleeps[:-1])  # the last wait ends at the budget
    assert len(sleeps) >= 5
