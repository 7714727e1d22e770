"""The one retry helper (aito.retrying, on tenacity): backoff, budgets, attempts, asked waits."""

from __future__ import annotations

import pytest

from aito import retrying
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


def test_attempts_bound_the_tries_and_exact_waits_are_what_was_asked() -> None:
    fake, calls = FakeTime(), []

    def busy() -> None:
        calls.append(1)
        raise TemporaryAdapterError("github", "502", retry_after=0.5 * 2 ** (len(calls) - 1))

    policy = retrying.Policy(budget_seconds=None, attempts=5, honour="exact", jitter="none")
    with pytest.raises(TemporaryAdapterError) as caught:
        retrying.call(busy, policy=policy, sleep=fake.sleep, clock=fake.clock)
    assert len(calls) == 5 and fake.sleeps == [0.5, 1.0, 2.0, 4.0]
    assert caught.value.retry_after == 8.0  # the last failure, unchanged


def test_a_wait_longer_than_max_wait_is_raised_at_once() -> None:
    fake, calls = FakeTime(), []

    def limited() -> None:
        calls.append(1)
        raise TemporaryAdapterError("github", "rate limited", retry_after=3600)

    policy = retrying.Policy(budget_seconds=None, attempts=5, honour="exact", max_wait=120)
    with pytest.raises(TemporaryAdapterError):
        retrying.call(limited, policy=policy, sleep=fake.sleep, clock=fake.clock)
    assert calls == [1] and fake.sleeps == []


def test_without_an_asked_wait_the_backoff_doubles_up_to_the_cap() -> None:
    fake = FakeTime()

    class Flaky(Exception):
        pass

    def down() -> None:
        raise Flaky

    policy = retrying.Policy(
        budget_seconds=None, attempts=6, base_delay=0.25, max_delay=2.0, jitter="none"
    )
    with pytest.raises(Flaky):
        retrying.call(
            down,
            policy=policy,
            retry_if=lambda exc: isinstance(exc, Flaky),
            asked=lambda exc: None,
            sleep=fake.sleep,
            clock=fake.clock,
        )
    assert fake.sleeps == [0.25, 0.5, 1.0, 2.0, 2.0]


def test_spread_jitter_stays_within_half_and_one_and_a_half_of_the_backoff() -> None:
    policy = retrying.Policy(base_delay=0.1, max_delay=2.0, jitter="spread")
    for retry in range(8):
        ceiling = min(2.0, 0.1 * 2**retry)
        waits = [policy.backoff(retry) for _ in range(50)]
        assert all(0.5 * ceiling <= w <= 1.5 * ceiling for w in waits)
        assert len(set(waits)) > 1  # jittered


def test_ignored_asked_waits_and_a_zero_budget_means_one_try() -> None:
    fake, calls = FakeTime(), []

    def down() -> None:
        calls.append(1)
        raise TemporaryAdapterError("postgres", "away", retry_after=60)

    with pytest.raises(TemporaryAdapterError):
        retrying.call(down, policy=retrying.NO_RETRY, sleep=fake.sleep, clock=fake.clock)
    assert calls == [1]
    policy = retrying.Policy(budget_seconds=5, base_delay=0.1, max_delay=2.0, honour="ignore")
    with pytest.raises(TemporaryAdapterError):
        retrying.call(down, policy=policy, sleep=fake.sleep, clock=fake.clock)
    assert fake.now == pytest.approx(5.0) and max(fake.sleeps) <= 2.0  # 60 s was not waited
