"""Token buckets per agent: requests and tokens per minute, atomic and shared."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from support.bus_helpers import NOW

from aito.bus import models, ratelimits
from aito.bus.redis import RedisBus

LIMITS = models.RateLimits(requests_per_minute=3, tokens_per_minute=1000)


def test_requests_per_minute_run_out_and_refill(bus: RedisBus) -> None:
    limiter = ratelimits.RateLimiter(bus, default=LIMITS)

    allowed = [limiter.acquire("cmo", tokens=10, now=NOW).allowed for _ in range(4)]

    assert allowed == [True, True, True, False]
    refused = limiter.acquire("cmo", tokens=10, now=NOW)
    assert refused.retry_after == pytest.approx(20.0)  # one request refills every 20 s
    assert not limiter.acquire("cmo", tokens=10, now=NOW + dt.timedelta(seconds=19)).allowed
    assert limiter.acquire("cmo", tokens=10, now=NOW + dt.timedelta(seconds=20)).allowed
    assert limiter.acquire("cto", tokens=10, now=NOW).allowed  # another agent's bucket


def test_tokens_per_minute_limit_too(bus: RedisBus) -> None:
    limiter = ratelimits.RateLimiter(bus, default=LIMITS)

    assert limiter.acquire("cmo", tokens=900, now=NOW).allowed
    refused = limiter.acquire("cmo", tokens=400, now=NOW)

    assert not refused.allowed
    assert refused.retry_after == pytest.approx(18.0)  # 300 tokens at 1000/min
    assert limiter.remaining("cmo", now=NOW) == pytest.approx((2.0, 100.0))
    assert limiter.acquire("cmo", tokens=400, now=NOW + dt.timedelta(seconds=18)).allowed
    with pytest.raises(ValueError, match="exceed"):
        limiter.acquire("cmo", tokens=5000, now=NOW)


def test_per_agent_limits_override_the_default(bus: RedisBus) -> None:
    big = models.RateLimits(requests_per_minute=100, tokens_per_minute=100_000)
    limiter = ratelimits.RateLimiter(bus, default=LIMITS, per_agent={"ceo": big})
    assert all(limiter.acquire("ceo", tokens=100, now=NOW).allowed for _ in range(50))


def test_the_budget_is_shared_by_every_client_at_once(redis_url: str) -> None:
    limits = models.RateLimits(requests_per_minute=50, tokens_per_minute=1_000_000)
    clients = [RedisBus(url=redis_url) for _ in range(4)]
    granted: list[bool] = []
    lock = threading.Lock()

    def hammer(bus: RedisBus) -> None:
        limiter = ratelimits.RateLimiter(bus, default=limits)
        for _ in range(40):
            ok = limiter.acquire("cmo", tokens=1, now=NOW).allowed
            with lock:
                granted.append(ok)

    threads = [threading.Thread(target=hammer, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for client in clients:
        client.close()
    assert granted.count(True) == 50 and len(granted) == 160


def test_a_clock_behind_refills_nothing(bus: RedisBus) -> None:
    limiter = ratelimits.RateLimiter(bus, default=LIMITS)
    for _ in range(3):
        limiter.acquire("cmo", tokens=1, now=NOW)
    assert not limiter.acquire("cmo", tokens=1, now=NOW - dt.timedelta(seconds=90)).allowed
