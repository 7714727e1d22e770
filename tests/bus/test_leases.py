"""A run's lock is a lease: renewed while its holder lives, gone soon after it dies, taken
over at once by a re-run of the same wake-up, waited for by anyone else.

Holders that die are real processes killed with SIGKILL (no cleanup runs), on the
session's real Redis.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from aito.bus import keys, leasing
from aito.bus.redis import RedisBus, owner_prefix
from aito.errors import TemporaryAdapterError

NAME = keys.container_lock("cmo")

HOLDER = """
import sys, time
from aito.bus import leasing
from aito.bus.redis import RedisBus
bus = RedisBus(url=sys.argv[1])
lease = leasing.Lease(bus, sys.argv[2], ttl_seconds=float(sys.argv[3]), owner=sys.argv[4])
lease.acquire()
print("held", flush=True)
time.sleep(600)
"""


@pytest.fixture
def holder(redis_url: str) -> Iterator[Callable[[float, str], None]]:
    """Start a process that takes the lease, and SIGKILL it: ``kill(ttl, owner)``."""
    started: list[subprocess.Popen[str]] = []

    def kill(ttl: float, owner: str) -> None:
        process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, redis_url, NAME, str(ttl), owner],
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        assert process.stdout is not None and process.stdout.readline().strip() == "held"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        process.stdout.close()

    yield kill
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_a_lease_outlives_its_ttl_while_the_holder_lives(bus: RedisBus) -> None:
    with leasing.Lease(bus, NAME, ttl_seconds=0.6, owner="run-1") as lease:
        time.sleep(1.5)  # more than twice the TTL: only renewals keep it
        assert bus.try_lock(NAME, ttl_seconds=30, owner="run-2") is None
        lease.check()
    assert bus.try_lock(NAME, ttl_seconds=30, owner="run-2") is not None  # released


def test_a_killed_holders_lease_is_free_within_one_ttl(
    bus: RedisBus, holder: Callable[[float, str], None]
) -> None:
    holder(1.0, "run-1")
    killed = time.monotonic()
    with pytest.raises(TemporaryAdapterError, match="held by another process"):
        leasing.Lease(bus, NAME, ttl_seconds=30, owner="run-2", wait_seconds=0.1).acquire()
    lease = leasing.Lease(bus, NAME, ttl_seconds=30, owner="run-2", wait_seconds=5)
    lease.acquire()
    waited = time.monotonic() - killed
    lease.release()
    assert waited < 2.0  # the TTL (1 s) and a little: no 30-minute wall


def test_a_rerun_of_the_same_wake_up_takes_over_its_dead_predecessors_lease_at_once(
    bus: RedisBus, holder: Callable[[float, str], None]
) -> None:
    holder(600.0, "cmo:schedule:20261121T0900")
    with pytest.raises(TemporaryAdapterError):  # another run still waits, and gives up
        leasing.Lease(bus, NAME, ttl_seconds=30, owner="cmo:message:1", wait_seconds=0.2).acquire()
    started = time.monotonic()
    with leasing.Lease(bus, NAME, ttl_seconds=30, owner="cmo:schedule:20261121T0900"):
        assert time.monotonic() - started < 1.0
        assert bus.try_lock(NAME, ttl_seconds=30, owner="cmo:message:1") is None


def test_a_holder_whose_lease_was_taken_over_is_told_to_stop(bus: RedisBus) -> None:
    first = leasing.Lease(bus, NAME, ttl_seconds=0.6, owner="run-1")
    first.acquire()
    second = leasing.Lease(bus, NAME, ttl_seconds=30, owner="run-1", wait_seconds=0)
    second.acquire()  # the same wake-up, started again: it takes over
    deadline = time.monotonic() + 3
    while first.lost is None and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(leasing.LeaseLost, match="taken over"):
        first.check()
    first.release()  # must not free the lease that is now the other's
    assert bus.try_lock(NAME, ttl_seconds=30, owner="run-2") is None
    second.release()
    assert bus.try_lock(NAME, ttl_seconds=30, owner="run-2") is not None


def test_owners_are_never_each_others_prefix(bus: RedisBus) -> None:
    token = bus.try_lock(NAME, ttl_seconds=30, owner="run-1#2")
    assert token is not None and token.startswith(owner_prefix("run-1#2"))
    assert bus.try_lock(NAME, ttl_seconds=30, owner="run-1") is None
    assert bus.try_lock(NAME, ttl_seconds=30, owner="run-1#") is None
    assert bus.renew_lock(NAME, "someone else's token", ttl_seconds=30) is False
    assert bus.renew_lock(NAME, token, ttl_seconds=30) is True
