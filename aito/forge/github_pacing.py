"""Pacing of content-creating requests under GitHub's secondary rate limits.

GitHub documents (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api,
"About secondary rate limits"): "In general, no more than 80 content-generating requests
per minute and no more than 500 content-generating requests per hour are allowed." A
:class:`Pacer` per token (one per :class:`~aito.forge.github_calling.Account`) keeps a
sliding-window log of the writes it let through and holds the next one back until both
windows leave room, so a token never sends more than :data:`CONTENT_PER_MINUTE` writes in
any 60 seconds nor :data:`CONTENT_PER_HOUR` in any hour. Every POST, PATCH, PUT and DELETE
the forge makes counts (GitHub does not list which requests generate content, so counting
them all is the side that never exceeds).

A wait longer than the forge's ``max_wait`` is not slept: it is raised at once as a
`TemporaryAdapterError` carrying ``retry_after``, as a rate-limit reply is, so the caller
(a tally, an agent run) reschedules instead of holding a runner for half an hour.

Scope: the log lives in the process. Each agent's job uses its own bot token and the
governance workflow runs one tally at a time (its concurrency group), so one process per
token is the usual case; two processes sharing a token each pace themselves, and a
secondary-limit reply (``retry-after``) is then honoured by the retry in
:mod:`aito.forge.github_calling`.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
from collections.abc import Callable

from aito import errors

SERVICE = "github"
CONTENT_PER_MINUTE = 80  # GitHub docs, "About secondary rate limits" (link above)
CONTENT_PER_HOUR = 500  # same source
MINUTE, HOUR = 60.0, 3600.0


@dataclasses.dataclass(frozen=True)
class Limits:
    """How many writes a token may make per minute and per hour."""

    per_minute: int = CONTENT_PER_MINUTE
    per_hour: int = CONTENT_PER_HOUR

    def __post_init__(self) -> None:
        if self.per_minute < 1 or self.per_hour < 1:
            raise ValueError("pacing limits must allow at least one write per window")


GITHUB_LIMITS = Limits()


class Pacer:
    """A sliding-window log of one token's writes (``clock``: seconds; ``sleep`` waits)."""

    def __init__(
        self,
        *,
        limits: Limits = GITHUB_LIMITS,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float | None = None,
    ) -> None:
        self.limits = limits
        self._clock, self._sleep, self._max_wait = clock, sleep, max_wait
        self._sent: collections.deque[float] = collections.deque()  # within the last hour
        self._lock = threading.Lock()

    def wait_needed(self, now: float) -> float:
        """Seconds until one more write fits both windows at ``now`` (0: it fits)."""
        sent = self._sent
        while sent and sent[0] <= now - HOUR:
            sent.popleft()
        wait = 0.0
        if len(sent) >= self.limits.per_hour:
            wait = sent[-self.limits.per_hour] + HOUR - now
        in_minute = sum(1 for at in sent if at > now - MINUTE)
        if in_minute >= self.limits.per_minute:
            wait = max(wait, sent[-self.limits.per_minute] + MINUTE - now)
        return max(wait, 0.0)

    def admit(self, what: str) -> None:
        """Block until one more write is allowed, then count it; a wait longer than
        ``max_wait`` raises TemporaryAdapterError (``retry_after``) without counting."""
        with self._lock:
            while True:
                now = self._clock()
                wait = self.wait_needed(now)
                if wait <= 0:
                    self._sent.append(now)
                    return
                if self._max_wait is not None and wait > self._max_wait:
                    raise errors.TemporaryAdapterError(
                        SERVICE,
                        f"{what}: paced under GitHub's secondary limits "
                        f"({self.limits.per_minute}/minute, {self.limits.per_hour}/hour "
                        f"content-creating requests); next write in {wait:.0f} s",
                        retry_after=wait,
                    )
                self._sleep(wait)
