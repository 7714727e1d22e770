"""Retry a Redis operation through TemporaryAdapterError: jittered exponential backoff
within a total time budget. Anything else (PermanentAdapterError, bugs) is not retried.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from aito.errors import TemporaryAdapterError

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Policy:
    """How long and how often to retry.

    The n-th retry waits a random time in [0, min(max_delay, base_delay * 2**n)]
    ("full jitter"), and at least the error's ``retry_after`` (capped by
    ``max_delay``); no wait goes past ``budget_seconds`` after the first attempt,
    after which the last error is raised. ``budget_seconds=0`` means one attempt.
    """

    budget_seconds: float = 10.0
    base_delay: float = 0.02
    max_delay: float = 1.0

    def delay(self, attempt: int, error: TemporaryAdapterError) -> float:
        backoff = random.uniform(0.0, min(self.max_delay, self.base_delay * 2**attempt))
        return max(backoff, min(error.retry_after, self.max_delay))


NO_RETRY = Policy(budget_seconds=0.0)


def call(
    fn: Callable[[], T],
    *,
    policy: Policy,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """``fn()``, retried on TemporaryAdapterError until it succeeds or the budget is spent."""
    deadline = clock() + policy.budget_seconds
    attempt = 0
    while True:
        try:
            return fn()
        except TemporaryAdapterError as exc:
            remaining = deadline - clock()
            if remaining <= 0:
                raise
            pause = min(policy.delay(attempt, exc), remaining)
            log.debug("retrying in %.3f s after: %s", pause, exc)
            sleep(pause)
            attempt += 1
