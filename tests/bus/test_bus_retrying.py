"""The retry helper: jittered exponential backoff within a total time budget."""

from __future__ import annotations

import pytest

from aito.bus import retrying
from aito.bus.redis import RedisBus
from aito.errors import PermanentAdapterError, TemporaryAdapterError


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_temporary_errors_are_retried_until_success() -> None:
    fake, calls = FakeTime(), []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 4:
            raise TemporaryAdapterError("redis", "down", retry_after=0.0)
        return "ok"

    policy = retrying.Policy(budget_seconds=10, base_delay=0.1, max_delay=1.0)
    assert retrying.call(flaky, policy=policy, sleep=fake.sleep, clock=fake.clock) == "ok"
    assert len(calls) == 4
    assert all(0 <= pause <= min(1.0, 0.1 * 2**n) for n, pause in enumerate(fake.sleeps))


def test_the_budget_bounds_the_total_wait() -> None:
    fake = FakeTime()

    def down() -> None:
        raise TemporaryAdapterError("redis", "down", retry_after=0.5)

    policy = retrying.Policy(budget_seconds=3, base_delay=0.1, max_delay=1.0)
    with pytest.raises(TemporaryAdapterError, match="down"):
        retrying.call(down, policy=policy, sleep=fake.sleep, clock=fake.clock)
    assert fake.now == pytest.approx(3.0)
    assert all(pause >= 0.5 or pause == fake.sleeps[-1] for pause in fake.sleeps)


def test_permanent_errors_are_not_retried() -> None:
    fake, calls = FakeTime(), []

    def broken() -> None:
        calls.append(1)
        raise PermanentAdapterError("redis", "WRONGTYPE")

    with pytest.raises(PermanentAdapterError):
        retrying.call(broken, policy=retrying.Policy(), sleep=fake.sleep, clock=fake.clock)
    assert calls == [1] and fake.sleeps == []


def test_an_unreachable_redis_is_a_clear_temporary_error_after_the_budget() -> None:
    bus = RedisBus(url="redis://127.0.0.1:1/0", retry=retrying.Policy(budget_seconds=0.3))
    with pytest.raises(TemporaryAdapterError, match="cannot reach Redis") as caught:
        bus.registered()
    bus.close()
    assert "read registry" in str(caught.value)
