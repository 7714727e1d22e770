"""`aito bus send|tail|pending|dead-letters` against the session's real services."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from support.bus_helpers import message

from aito.bus import consuming, keys
from aito.bus.redis import RedisBus


@pytest.fixture
def cli_env(
    monkeypatch: pytest.MonkeyPatch, postgres_url: str, redis_url: str, example_repo: Path
) -> tuple[str, ...]:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("POSTGRES_URL", postgres_url)
    return ("--repo", str(example_repo))


def test_send_then_tail_and_pending(cli_env, run_aito, bus: RedisBus) -> None:  # type: ignore[no-untyped-def]
    sent = run_aito(
        *cli_env, "bus", "send", "--to", "cmo", "--payload", '{"text": "hi"}', "--id", "m-1"
    )
    assert sent.code == 0, sent.err
    assert "sent m-1 (direct) maintainer → cmo: delivered to cmo" in sent.out

    tail = run_aito(*cli_env, "bus", "tail", "cmo", "--json")
    [entry] = json.loads(tail.out)
    assert entry["message"]["id"] == "m-1" and entry["message"]["payload"] == {"text": "hi"}
    assert "m-1" in run_aito(*cli_env, "bus", "tail", "cmo").out

    assert "nothing pending for cmo" in run_aito(*cli_env, "bus", "pending", "cmo").out
    consumer = consuming.Consumer(bus, agent_id="cmo", name="cmo-1")

    def fail(_: object) -> None:
        raise RuntimeError("busy")

    consumer.poll(fail)
    pending = run_aito(*cli_env, "bus", "pending", "cmo", "--json")
    [row] = json.loads(pending.out)
    assert row["message_id"] == "m-1" and row["consumer"] == "cmo-1" and row["deliveries"] == 1
    text = run_aito(*cli_env, "bus", "pending", "cmo").out
    assert "m-1" in text and "cmo-1" in text and "TRIES" in text


def test_send_to_a_group_expands_it_from_the_org(cli_env, run_aito, bus: RedisBus) -> None:  # type: ignore[no-untyped-def]
    sent = run_aito(*cli_env, "bus", "send", "--to", "head", "--from", "cmo", "--json")
    assert sent.code == 0, sent.err
    assert json.loads(sent.out)["recipients"] == ["ceo", "dao"]
    assert len(bus.inbox("ceo")) == 1 and len(bus.inbox("dao")) == 1


def test_bad_input_is_a_usage_error(cli_env, run_aito) -> None:  # type: ignore[no-untyped-def]
    not_json = run_aito(*cli_env, "bus", "send", "--to", "cmo", "--payload", "{oops")
    assert not_json.code == 2 and "--payload" in not_json.err
    not_object = run_aito(*cli_env, "bus", "send", "--to", "cmo", "--payload", "[1]")
    assert not_object.code == 2 and "JSON object" in not_object.err
    bad_sender = run_aito(*cli_env, "bus", "send", "--to", "cmo", "--from", "Not Valid")
    assert bad_sender.code == 2 and "from" in bad_sender.err
    no_request = run_aito(*cli_env, "bus", "send", "--to", "ceo", "--type", "status_response")
    assert no_request.code == 2 and "correlation_id" in no_request.err
    answer = ("--to", "ceo", "--type", "status_response", "--reply-to", "req-1", "--from", "cmo")
    assert run_aito(*cli_env, "bus", "send", *answer).code == 0


def test_dead_letters_show_the_reason_and_raw_data(
    cli_env, run_aito, bus: RedisBus, redis_url: str
) -> None:  # type: ignore[no-untyped-def]
    assert "no dead letters" in run_aito(*cli_env, "bus", "dead-letters").out
    raw = redis.Redis.from_url(redis_url)
    raw.xadd(keys.agent_stream("cmo"), {"garbage": "yes"})
    raw.close()
    consuming.Consumer(bus, agent_id="cmo").poll(lambda m: None)

    text = run_aito(*cli_env, "bus", "dead-letters").out
    assert "no `message` field" in text and "garbage" in text
    [letter] = json.loads(run_aito(*cli_env, "bus", "dead-letters", "--json").out)
    assert letter["source"] == keys.agent_stream("cmo") and "garbage" in letter["raw"]


def test_an_unreadable_entry_shows_in_tail(cli_env, run_aito, bus: RedisBus) -> None:  # type: ignore[no-untyped-def]
    bus.deliver(message("m-1"))
    bus.connection.run(lambda r: r.xadd(keys.agent_stream("cmo"), {"x": "1"}), op="plant")
    out = run_aito(*cli_env, "bus", "tail", "cmo").out
    assert "m-1" in out and "UNREADABLE" in out


def test_a_sent_message_is_in_the_audit_log(cli_env, run_aito, postgres_url: str) -> None:  # type: ignore[no-untyped-def]
    import psycopg

    sent = run_aito(
        *cli_env,
        "bus",
        "send",
        "--to",
        "clevel",
        "--from",
        "ceo",
        "--type",
        "status_request",
        "--payload",
        "{}",
        "--id",
        "s-1",
    )
    assert sent.code == 0, sent.err
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute(
            "SELECT source_agent, payload FROM events WHERE event_type = 'bus.sent'"
        ).fetchall()
    assert len(rows) == 1 and rows[0][0] == "ceo"
    assert rows[0][1]["id"] == "s-1" and sorted(rows[0][1]["to"]) == [
        "cco",
        "cfo",
        "cmo",
        "coo",
        "cto",
    ]
