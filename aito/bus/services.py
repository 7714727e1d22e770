"""The bus as the agent loop uses it: one object over a :class:`RedisBus`.

It satisfies the loop's `Bus` protocol (`aito.agent.ports`): locks, heartbeats and
unread checks pass through to the RedisBus; the helpers built on its connection
(messenger, consumer, ledger, rate limiter, task queues) are made on demand, so the
loop never names a Redis class.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping

from aito.bus import budgets, consuming, models, queues, ratelimits, streams
from aito.bus import redis as adapter


class BusServices:
    def __init__(self, bus: adapter.RedisBus) -> None:
        self.redis = bus

    def try_lock(self, name: str, *, ttl_seconds: float, token: str | None = None) -> str | None:
        return self.redis.try_lock(name, ttl_seconds=ttl_seconds, token=token)

    def renew_lock(self, name: str, token: str, *, ttl_seconds: float) -> bool:
        return self.redis.renew_lock(name, token, ttl_seconds=ttl_seconds)

    def lock_holder(self, name: str) -> tuple[str, float] | None:
        return self.redis.lock_holder(name)

    def take_over_lock(self, name: str, *, old: str, token: str, ttl_seconds: float) -> bool:
        return self.redis.take_over_lock(name, old=old, token=token, ttl_seconds=ttl_seconds)

    def unlock(self, name: str, token: str) -> bool:
        return self.redis.unlock(name, token)

    def heartbeat(
        self,
        *,
        agent_id: str,
        status: str,
        run_id: str,
        at: dt.datetime,
        ttl_seconds: int,
        container_id: str | None = None,
    ) -> None:
        self.redis.heartbeat(
            agent_id=agent_id,
            status=status,
            run_id=run_id,
            at=at,
            ttl_seconds=ttl_seconds,
            container_id=container_id,
        )

    def has_unread(self, agent_id: str) -> bool:
        return self.redis.has_unread(agent_id)

    def outbox(
        self,
        *,
        groups: Mapping[str, Collection[str]] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> streams.Messenger:
        if clock is None:
            return streams.Messenger(self.redis, groups=groups)
        return streams.Messenger(self.redis, groups=groups, clock=clock)

    def poller(self, agent_id: str, *, batch_size: int = 100) -> consuming.Consumer:
        return consuming.Consumer(self.redis, agent_id=agent_id, batch_size=batch_size)

    def ledger(self) -> budgets.BudgetLedger:
        return budgets.BudgetLedger(self.redis)

    def limiter(self, *, default: models.RateLimits) -> ratelimits.RateLimiter:
        return ratelimits.RateLimiter(self.redis, default=default)

    def queues(self) -> queues.TaskQueues:
        return queues.TaskQueues(self.redis)
