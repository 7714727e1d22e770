"""A run's lock is a lease: renewed while its holder lives, gone soon after it dies, taken
over at once by a re-run of the same wake-up whose holder died, waited for by anyone else
(a live holder of the same run included).

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
from aito.bus.redis import RedisBus
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
def holder(redis_url: str) -> Iterator[Callable[..., None]]:
    """Start a process that takes the lease, and SIGKILL it (unless ``alive``):
    ``holder(ttl, owner)``."""
    started: list[subprocess.Popen[str]] = []

    def kill(ttl: float, owner: str, *, alive: bool = False) -> None:
        process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, redis_url, NAME, str(ttl), owner],
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        assert process.stdout is not None and process.stdout.readline().strip() == "held"
        process.stdout.close()
        if not alive:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)

    yield kill
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def other(bus: RedisBus, owner: str = "run-2", wait: float = 0.0) -> leasing.Lease:
    lease = leasing.Lease(bus, NAME, ttl_seconds=30, owner=owner, wait_seconds=wait)
    lease.acquire()
    return lease


def test_a_lease_outlives_its_ttl_while_the_holder_lives(bus: RedisBus) -> None:
    with leasing.Lease(bus, NAME, ttl_seconds=0.6, owner="run-1") as lease:
        time.sleep(1.5)  # more than twice the TTL: only renewals keep it
        with pytest.raises(TemporaryAdapterError):
            other(bus)
        with pytest.raises(TemporaryAdapterError):
            other(bus, owner="run-1")  # the same run, alive in this process: not taken
        lease.check()
    other(bus).release()  # released: free at once


def test_a_killed_holders_lease_is_free_within_one_ttl(
    bus: RedisBus, holder: Callable[..., None]
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
    bus: RedisBus, holder: Callable[..., None]
) -> None:
    holder(600.0, "cmo:schedule:20261121T0900")
    with pytest.raises(TemporaryAdapterError):  # another run still waits, and gives up
        other(bus, owner="cmo:message:1", wait=0.2)
    started = time.monotonic()
    with leasing.Lease(bus, NAME, ttl_seconds=30, owner="cmo:schedule:20261121T0900"):
        assert time.monotonic() - started < 1.0
        with pytest.raises(TemporaryAdapterError):
            other(bus, owner="cmo:message:1")


def test_a_live_holder_of_the_same_wake_up_is_waited_for(
    bus: RedisBus, holder: Callable[..., None]
) -> None:
    holder(600.0, "cmo:schedule:20261121T0900", alive=True)  # e.g. the daemon, still running
    with pytest.raises(TemporaryAdapterError, match="held by another process"):
        other(bus, owner="cmo:schedule:20261121T0900", wait=0.5)


def test_a_holder_on_another_host_is_dead_once_it_stops_renewing(bus: RedisBus) -> None:
    gone = leasing.Holder("run-1", "another-host", 4242, ttl_ms=2000).token()
    assert bus.try_lock(NAME, ttl_seconds=2, token=gone) == gone
    with pytest.raises(TemporaryAdapterError):
        other(bus, owner="run-1", wait=0.1)  # just renewed, as far as anyone can tell
    with pytest.raises(TemporaryAdapterError):
        other(bus, owner="run-2", wait=0.1)
    # its 2 s TTL is renewed every 0.5 s: three missed renewals and it is dead, before
    # the TTL would have freed the lock
    time.sleep(1.6)
    lease = other(bus, owner="run-1")
    found = bus.lock_holder(NAME)
    assert found is not None and found[0] != gone and found[1] > 10
    lease.release()


def test_a_holder_whose_lease_was_taken_over_is_told_to_stop(bus: RedisBus) -> None:
    first = leasing.Lease(bus, NAME, ttl_seconds=0.6, owner="run-1")
    first.acquire()
    [token, _] = bus.lock_holder(NAME) or ("", 0)
    replacement = leasing.Holder.me("run-1", ttl_seconds=30).token()
    assert bus.take_over_lock(NAME, old=token, token=replacement, ttl_seconds=30)
    deadline = time.monotonic() + 3
    while first.lost is None and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(leasing.LeaseLost, match="taken over"):
        first.check()
    first.release()  # must not free the lease that is now the other's
    assert bus.lock_holder(NAME) is not None and bus.lock_holder(NAME)[0] == replacement
    assert not bus.take_over_lock(NAME, old=token, token="late", ttl_seconds=30)


def test_a_token_names_its_owner_unambiguously() -> None:
    holder = leasing.Holder("cmo:spawn:a|b#1", "host-1", 77, 60_000)
    assert leasing.Holder.of(holder.token()) == holder
    assert leasing.Holder.of("deadbeef") is None
    assert leasing.Holder.of(leasing.Holder("run-1#2", "h", 1, 5).token()).owner == "run-1#2"
