"""The bus as the agent loop uses it: a :class:`RedisBus` that also makes the helpers
built on its connection.

It satisfies the loop's `Bus` protocol (`aito.agent.ports`): locks, heartbeats and
unread checks are the RedisBus's own; the messenger, consumer, ledger, rate limiter
and task queues are made on demand, so the loop never names a Redis class.
:mod:`aito.bootstrap` builds the runtime's bus as one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping

from aito.bus import (
    budgets,
    consuming,
    models,
    orchestration,
    queues,
    ratelimits,
    streams,
    worker_queue,
)
from aito.bus import redis as adapter


class BusServices(adapter.RedisBus):
    def outbox(
        self,
        *,
        groups: Mapping[str, Collection[str]] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> streams.Messenger:
        if clock is None:
            return streams.Messenger(self, groups=groups)
        return streams.Messenger(self, groups=groups, clock=clock)

    def poller(self, agent_id: str, *, batch_size: int = 100) -> consuming.Consumer:
        return consuming.Consumer(self, agent_id=agent_id, batch_size=batch_size)

    def ledger(self) -> budgets.BudgetLedger:
        return budgets.BudgetLedger(self)

    def limiter(self, *, default: models.RateLimits) -> ratelimits.RateLimiter:
        return ratelimits.RateLimiter(self, default=default)

    def queues(self) -> queues.TaskQueues:
        return queues.TaskQueues(self)

    def worker_queue(self) -> worker_queue.WorkerQueue:
        return worker_queue.WorkerQueue(self)

    def orchestrator(self) -> orchestration.OrchestratorState:
        return orchestration.OrchestratorState(self)

    def leader(self, default: str) -> str:
        return self.orchestrator().lead(default)
