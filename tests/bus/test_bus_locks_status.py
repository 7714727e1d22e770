"""Locks with owner tokens and TTL; heartbeats with container ids; who is alive."""

from __future__ import annotations

import threading
import time

import pytest
from support.bus_helpers import NOW

from aito.bus import keys
from aito.bus.redis import RedisBus
from aito.errors import TemporaryAdapterError


def test_only_the_owner_releases_a_lock(bus: RedisBus) -> None:
    name = keys.decision_lock("d-1")
    token = bus.try_lock(name, ttl_seconds=30)
    assert token is not None
    assert bus.try_lock(name, ttl_seconds=30) is None

    assert bus.unlock(name, "not-the-owner") is False
    assert bus.try_lock(name, ttl_seconds=30) is None
    assert bus.unlock(name, token) is True
    assert bus.try_lock(name, ttl_seconds=30) is not None


def test_a_held_lock_expires(bus: RedisBus) -> None:
    name = keys.container_lock("cmo")
    token = bus.try_lock(name, ttl_seconds=0.2)
    assert token is not None
    time.sleep(0.3)
    other = bus.try_lock(name, ttl_seconds=30)
    assert other is not None
    assert bus.unlock(name, token) is False  # it expired and is someone else's now
    assert bus.try_lock(name, ttl_seconds=30) is None


def test_the_owner_renews_with_its_token(bus: RedisBus) -> None:
    name = keys.decision_lock("d-1")
    token = bus.try_lock(name, ttl_seconds=0.3)
    assert bus.try_lock(name, ttl_seconds=30, token=token) == token
    time.sleep(0.4)
    assert bus.try_lock(name, ttl_seconds=30) is None  # renewed: still held


def test_the_lock_context_waits_then_gives_up(bus: RedisBus) -> None:
    name = keys.decision_lock("d-2")
    inside = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with bus.lock(name, ttl_seconds=10):
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    inside.wait(5)
    with (
        pytest.raises(TemporaryAdapterError, match="held by another process"),
        bus.lock(name, wait_seconds=0.2),
    ):
        pass
    release.set()
    thread.join()
    with bus.lock(name, wait_seconds=1):
        pass


def test_heartbeats_carry_the_container_and_alive_reads_them_at_once(bus: RedisBus) -> None:
    bus.register_agents({"ceo": "a", "cmo": "b", "cto": "c"})
    bus.heartbeat(
        agent_id="cmo", status="busy", run_id="r1", at=NOW, ttl_seconds=30, container_id="abc123"
    )
    bus.heartbeat(agent_id="ceo", status="idle", run_id="r2", at=NOW, ttl_seconds=1)

    alive = bus.alive()
    assert set(alive) == {"ceo", "cmo"}  # cto registered but never beat
    assert alive["cmo"].container_id == "abc123" and alive["cmo"].status == "busy"
    assert alive["cmo"].last_heartbeat == NOW and alive["cmo"].run_id == "r1"
    assert set(bus.alive(["cmo", "cto", "cfo"])) == {"cmo"}

    time.sleep(1.1)
    assert set(bus.alive()) == {"cmo"}  # the CEO's status expired
    bus.heartbeat(agent_id="cmo", status="idle", run_id="r3", at=NOW, ttl_seconds=30)
    assert bus.alive(["cmo"])["cmo"].container_id is None
    with pytest.raises(TypeError):
        bus.alive("cmo")
