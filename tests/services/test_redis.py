"""The real Redis: the agent registry and heartbeats under the seed's key names."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import redis

from aito.bus import keys
from aito.bus.redis import RedisBus
from aito.errors import TemporaryAdapterError
from aito.memory import base
from aito.org import loading


def test_registering_agents_is_idempotent(
    bus: RedisBus, redis_url: str, example_repo: Path
) -> None:
    rows = base.agent_rows(loading.load_valid(example_repo))
    definitions = {r.id: r.definition_hash for r in rows}

    assert bus.register_agents(definitions) == sorted(definitions)
    assert bus.register_agents(definitions) == []

    assert bus.registered() == definitions
    raw = redis.Redis.from_url(redis_url, decode_responses=True)
    assert raw.hgetall(keys.agent_status("cmo")) == {"status": "inactive"}
    raw.close()


def test_a_removed_agent_leaves_the_registry(bus: RedisBus) -> None:
    bus.register_agents({"ceo": "a", "dao": "b", "cmo": "c"})
    assert bus.register_agents({"ceo": "a", "dao": "b"}) == ["cmo"]
    assert bus.registered() == {"ceo": "a", "dao": "b"}


def test_a_heartbeat_is_readable_and_expires(bus: RedisBus, redis_url: str) -> None:
    at = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)
    bus.heartbeat(agent_id="cto", status="idle", run_id="cto:gh-7", at=at, ttl_seconds=30)

    status = bus.statuses(["cto", "cfo"])

    assert status["cto"] == {
        "status": "idle",
        "last_heartbeat": at.isoformat(),
        "run_id": "cto:gh-7",
    }
    assert status["cfo"] == {}
    raw = redis.Redis.from_url(redis_url)
    assert 0 < raw.ttl(keys.agent_status("cto")) <= 30
    raw.close()


def test_key_names_follow_the_seed() -> None:
    assert keys.agent_status("cmo") == "agent:status:cmo"
    assert keys.agent_channel("cmo") == "channel:agent:cmo"
    assert keys.task_queue("cmo") == "queue:tasks:cmo"
    assert keys.rate_limit("cmo") == "ratelimit:claude:cmo"
    assert keys.decision_lock("d-1") == "lock:decision:d-1"
    assert keys.container_lock("cmo") == "lock:container:cmo"
    assert keys.GROUP_CHANNELS == {
        "all": "channel:broadcast",
        "head": "channel:head",
        "clevel": "channel:clevel",
    }


def test_an_unreachable_redis_is_a_temporary_error() -> None:
    bus = RedisBus(url="redis://127.0.0.1:1/0")
    with pytest.raises(TemporaryAdapterError, match="cannot reach Redis"):
        bus.ping()
    bus.close()
