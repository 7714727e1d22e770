"""Retries for every adapter: one helper, built on tenacity.

An adapter runs one operation through :func:`call` with its :class:`Policy`. A failure
that ``retry_if`` accepts (by default :class:`~aito.errors.TemporaryAdapterError`) is
tried again after a wait; anything else (:class:`~aito.errors.PermanentAdapterError`,
a bug) is raised at once. The wait before retry ``n`` (0, 1, …):

- the backoff ``base_delay * 2**n``, capped at ``max_delay``, with jitter: ``none``,
  ``full`` (uniform in [0, backoff]) or ``spread`` (backoff * uniform [0.5, 1.5]);
- what the failure asked for (``asked``: a server's ``Retry-After``, by default
  ``TemporaryAdapterError.retry_after``) replaces it (``honour="exact"``), or is a
  floor under it capped at ``max_delay`` (``"floor"``), or is ignored (``"ignore"``).

It gives up, re-raising the last failure unchanged, after ``attempts`` tries; when a
failure asks for a wait longer than ``max_wait`` (not slept here: the caller
schedules it); or ``budget_seconds`` after the first try (the last wait is cut to end
there, then one last try; ``0`` means a single try).

``sleep`` and ``clock`` are injectable, so tests record waits instead of sleeping.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Callable
from typing import Literal, TypeVar

import tenacity

from aito.errors import TemporaryAdapterError

T = TypeVar("T")
log = logging.getLogger(__name__)

Jitter = Literal["none", "full", "spread"]
Honour = Literal["exact", "floor", "ignore"]


@dataclasses.dataclass(frozen=True)
class Policy:
    """How often, how long and how patiently to retry (see the module docstring)."""

    budget_seconds: float | None = 10.0
    base_delay: float = 0.02
    max_delay: float = 1.0
    attempts: int | None = None
    jitter: Jitter = "full"
    honour: Honour = "floor"
    max_wait: float | None = None

    def backoff(self, retry: int) -> float:
        """The wait before retry ``retry`` (0-based) when the failure asked for none."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** min(retry, 64))
        if self.jitter == "full":
            return random.uniform(0.0, ceiling)
        if self.jitter == "spread":
            return ceiling * (0.5 + random.random())
        return ceiling

    def wait(self, retry: int, asked: float | None) -> float:
        """The wait before retry ``retry``, given what the failure asked for."""
        if asked is None or self.honour == "ignore":
            return self.backoff(retry)
        if self.honour == "exact":
            return max(0.0, asked)
        return max(self.backoff(retry), min(asked, self.max_delay))


NO_RETRY = Policy(budget_seconds=0.0)


def is_temporary(exc: BaseException) -> bool:
    return isinstance(exc, TemporaryAdapterError)


def retry_after(exc: BaseException) -> float | None:
    """What a TemporaryAdapterError asks for; None for anything else."""
    return exc.retry_after if isinstance(exc, TemporaryAdapterError) else None


def call(
    fn: Callable[[], T],
    *,
    policy: Policy,
    retry_if: Callable[[BaseException], bool] = is_temporary,
    asked: Callable[[BaseException], float | None] = retry_after,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    what: str = "",
) -> T:
    """``fn()``, retried per ``policy`` while ``retry_if`` accepts its failure."""
    deadline = None if policy.budget_seconds is None else clock() + policy.budget_seconds
    # The first try runs bare: most calls succeed, and building the retry machinery for
    # them costs more than the call itself (the bus's hot path). A failure is handed to
    # the machinery as its first attempt, so the waits and limits are the same.
    try:
        return fn()
    except BaseException as exc:
        if not retry_if(exc):
            raise
        first: BaseException | None = exc

    def attempt() -> T:
        nonlocal first
        if first is not None:
            failure, first = first, None
            raise failure
        return fn()

    too_long: set[int] = set()  # attempts whose asked-for wait exceeded max_wait

    def wait(state: tenacity.RetryCallState) -> float:
        failure = _failure(state)
        wanted = asked(failure)
        if policy.max_wait is not None and wanted is not None and wanted > policy.max_wait:
            too_long.add(state.attempt_number)
            return 0.0
        pause = policy.wait(state.attempt_number - 1, wanted)
        if deadline is not None:
            pause = min(pause, max(0.0, deadline - clock()))
        return pause

    def stop(state: tenacity.RetryCallState) -> bool:
        if state.attempt_number in too_long:
            return True
        if policy.attempts is not None and state.attempt_number >= policy.attempts:
            return True
        return deadline is not None and deadline - clock() <= 0

    def before_sleep(state: tenacity.RetryCallState) -> None:
        log.debug(
            "%sretry %d in %.3f s after: %s",
            f"{what}: " if what else "",
            state.attempt_number,
            state.upcoming_sleep,
            _failure(state),
        )

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(retry_if),
        wait=wait,
        stop=stop,
        sleep=lambda seconds: sleep(float(seconds)),
        before_sleep=before_sleep,
        reraise=True,
    )
    return retrying(attempt)


def _failure(state: tenacity.RetryCallState) -> BaseException:
    outcome = state.outcome
    failure = outcome.exception() if outcome is not None else None
    assert failure is not None, "tenacity waits only after a failure"
    return failure
